//! Ring 0: the doors out of the VM, tried in turn; each is harmless where it is not wired (see
//! docs/console-protocol.md and power.zig, which reports the status before coming here):
//!   1. QEMU isa-debug-exit at port 0xf4: QEMU exits with (status << 1) | 1;
//!   2. i8042 reset (0xFE to port 0x64): Firecracker exits 0, once its main thread has seen the
//!      reset: the vCPU goes on meanwhile, so it waits (bounded) before the last door;
//!   3. a triple fault (QEMU -no-reboot exits 0; Firecracker >= 1.15 exits 1).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const cpu = @import("cpu.zig");
const serial = @import("serial.zig");

/// Ring 0: drains the console, then the doors out of the VM, in order.
pub fn exit_vm(status: u8) noreturn {
    assert(!cpu.in_ring3());
    serial.drain();
    cpu.out8(constants.debug_exit_port, status);
    cpu.out8(constants.i8042_command_port, constants.i8042_reset_command);
    wait_for_reset();
    triple_fault();
}

/// Firecracker handles the i8042 reset on its main thread and stops the vCPU from there; a vCPU
/// that reached the triple fault first made it exit 1 ("Unexpected exit reason on vcpu run:
/// Shutdown"; seen about one run in five with a busy tap). So wait, bounded by the TSC, for
/// the VMM to stop the vCPU. Only a VMM with neither door pays the wait.
fn wait_for_reset() void {
    const start = cpu.rdtsc();
    var spins: u64 = 0;
    while (cpu.rdtsc() -% start < constants.i8042_reset_wait_tsc_cycles and
        spins < constants.i8042_reset_wait_spins_max) : (spins += 1)
    {
        cpu.pause();
    }
}

fn triple_fault() noreturn {
    // An empty IDT turns the next exception into a triple fault.
    const Pointer = packed struct { limit: u16, base: u64 };
    const empty = Pointer{ .limit = 0, .base = 0 };
    asm volatile (
        \\lidt %[pointer]
        \\ud2
        :
        : [pointer] "*p" (&empty),
    );
    cpu.halt_forever();
}
