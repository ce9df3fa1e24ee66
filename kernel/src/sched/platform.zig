//! What the scheduler needs from the machine, in the kernel: the TSC, a pause, a halt until a
//! deadline (ring 0, through the supervisor), the task stacks and the console. The host unit
//! tests put platform_host.zig in its place (scheduler.zig picks one at compile time), so the
//! scheduler's decisions and its real context switches run on the host too.

const cpu = @import("../arch/x86_64/cpu.zig");
const supervisor = @import("../arch/x86_64/supervisor.zig");
const console = @import("../console/console.zig");
const task_stacks = @import("task_stacks.zig");

pub inline fn now_tsc() u64 {
    return cpu.rdtsc();
}

pub inline fn pause() void {
    cpu.pause();
}

/// Halts the CPU until `deadline_tsc` (or an earlier interrupt).
pub fn halt_until(deadline_tsc: u64) void {
    _ = supervisor.call(.halt_until, deadline_tsc, 0, 0);
}

/// Loads the thread pointer (FS base) the next task runs with; false when refused.
pub fn set_thread_pointer(address: u64) bool {
    return supervisor.call(.set_thread_pointer, address, 0, 0) == 0;
}

/// Tasks that can have a stack (task_stacks.zig: as many as memory allowed).
pub fn stack_count() u32 {
    return task_stacks.slot_count();
}

/// Makes a stack for task `id` (task_stacks.zig builds another chunk of them); false when
/// memory refuses.
pub fn grow_stacks(id: u32) bool {
    return task_stacks.grow_to(id);
}

/// The top of task `id`'s stack (16-byte aligned; a guard page lies below its bottom).
pub fn stack_top(id: u32) u64 {
    return task_stacks.slot(id).top;
}

pub fn write(bytes: []const u8) void {
    console.write(bytes);
}

pub fn print(comptime format: []const u8, arguments: anytype) void {
    console.print(format, arguments);
}
