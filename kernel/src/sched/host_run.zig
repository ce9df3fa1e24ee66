//! Host tests' way to run the scheduler for real: `run` makes the test's own stack the place
//! the first task's end returns to, so tasks switch stacks with the kernel's switch_context on
//! the host (platform_host.zig stands in for the clock, halts and stacks), and `check` records
//! the first failed expectation inside a task (a task entry cannot return a Zig error).

const std = @import("std");
const assert = std.debug.assert;
const scheduler = @import("scheduler.zig");
const platform = @import("platform_host.zig");
const clock_module = @import("../time/clock.zig");

pub const Entry = *const fn (argument: u64) callconv(.c) u32;

/// 1 GHz: a tick is a nanosecond.
pub const clock: clock_module.Clock = .{
    .source = .assumed,
    .tsc_hz = 1_000_000_000,
    .ns_per_tick_fixed = 1 << 40,
    .entry_tsc = 0,
    .kvmclock_entry_ns = null,
};

var host_rsp: u64 = 0;
var workload_status: u32 = 0;
/// The source line of the first failed check since run began, or 0.
pub var failed_line: u32 = 0;
/// What tasks recorded, in order (see note).
pub var log: [256]u32 = undefined;
pub var log_count: u32 = 0;
pub var flushes: u32 = 0;

fn flush() u64 {
    flushes += 1;
    return scheduler.deadline_none;
}

fn finished(status: u32) noreturn {
    workload_status = status;
    var discarded: u64 = 0;
    scheduler.switch_context(&discarded, host_rsp);
    unreachable;
}

/// Runs `entry(argument)` as task 0 of a fresh scheduler; returns the workload's exit status
/// once task 0 ends (or the scheduler ends the workload, as on a deadlock).
pub fn run(entry: Entry, argument: u64) u32 {
    platform.reset();
    failed_line = 0;
    log_count = 0;
    flushes = 0;
    scheduler.init(&clock, &flush);
    scheduler.workload_finished = &finished;
    scheduler.enter_first(@intFromPtr(entry), argument, &host_rsp);
    return workload_status;
}

pub fn check(ok: bool, source: std.builtin.SourceLocation) void {
    if (!ok and failed_line == 0) failed_line = source.line;
}

pub fn note(value: u32) void {
    assert(log_count < log.len);
    log[log_count] = value;
    log_count += 1;
}

pub fn logged() []const u32 {
    return log[0..log_count];
}

/// Spawns `entry(argument)` with the largest stack; the task's id.
pub fn spawn(entry: Entry, argument: u64) u32 {
    return scheduler.spawn(@intFromPtr(entry), argument, 64 * 1024) catch unreachable;
}

pub fn join(id: u32) u32 {
    return scheduler.join(id, scheduler.deadline_none) catch unreachable;
}
