//! Stopping the VM with a status. Each VMM understands a different door, so all are tried in
//! turn; each is harmless where it is not wired (see docs/console-protocol.md):
//!   1. the `@uk:exit` record on the console (the only channel Firecracker has for a status);
//!   2. QEMU isa-debug-exit at port 0xf4: QEMU exits with (status << 1) | 1;
//!   3. i8042 reset (0xFE to port 0x64): Firecracker exits 0;
//!   4. a triple fault (QEMU -no-reboot exits 0; Firecracker >= 1.15 exits 1).

const std = @import("std");
const constants = @import("constants.zig");
const cpu = @import("arch/x86_64/cpu.zig");
const records = @import("console/records.zig");

pub fn exit(status: u8, reason: records.ExitReason) noreturn {
    records.exit(status, reason);
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
