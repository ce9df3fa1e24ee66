//! Stopping the VM with a status. Each VMM understands a different door, so all are tried in
//! turn; each is harmless where it is not wired (see docs/console-protocol.md):
//!   1. the `@uk:exit` record, on the events device (then flushed as the final block) or the
//!      console (the only channel Firecracker has for a status);
//!   2. QEMU isa-debug-exit at port 0xf4: QEMU exits with (status << 1) | 1;
//!   3. i8042 reset (0xFE to port 0x64): Firecracker exits 0;
//!   4. a triple fault (QEMU -no-reboot exits 0; Firecracker >= 1.15 exits 1).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");
const cpu = @import("arch/x86_64/cpu.zig");
const supervisor = @import("arch/x86_64/supervisor.zig");
const records = @import("console/records.zig");
const events = @import("observe/events.zig");
const serial = @import("console/serial.zig");

/// Either ring: reports the status, then stops the VM.
pub fn exit(status: u8, reason: records.ExitReason) noreturn {
    records.exit(status, reason);
    if (cpu.in_ring3()) {
        events.flush(true);
        // The final block did not make it: the status must still reach the host.
        if (events.write_failed) records.exit_on_console(status, reason);
        _ = supervisor.call(.exit, status, 0, 0);
        unreachable; // The supervisor's exit does not return.
    }
    exit_vm(status);
}

/// Ring 0: the doors out of the VM, in order.
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
