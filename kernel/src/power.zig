//! Stopping the VM with a status. Each VMM understands a different door, so all are tried in
//! turn; each is harmless where it is not wired (see docs/console-protocol.md):
//!   1. the `@uk:exit` record, on the events device (then flushed as the final block) or the
//!      console (the only channel Firecracker has for a status);
//!   2. the ring-0 doors of arch/x86_64/vm_exit.zig: QEMU isa-debug-exit, i8042 reset, a
//!      triple fault.

const cpu = @import("arch/x86_64/cpu.zig");
const supervisor = @import("arch/x86_64/supervisor.zig");
const vm_exit = @import("arch/x86_64/vm_exit.zig");
const records = @import("console/records.zig");
const events = @import("observe/events.zig");

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
    vm_exit.exit_vm(status);
}
