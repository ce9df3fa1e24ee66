//! Ring 0: the doors out of the VM, tried in turn; each is harmless where it is not wired (see
//! docs/console-protocol.md and power.zig, which reports the status before coming here):
//!   1. QEMU isa-debug-exit at port 0xf4: QEMU exits with (status << 1) | 1;
//!   2. i8042 reset (0xFE to port 0x64): Firecracker exits 0;
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
    triple_fault();
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
