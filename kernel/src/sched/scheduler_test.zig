//! Host tests of the scheduler: real tasks on real stacks (host_run.zig), a fake clock.

const std = @import("std");
const testing = std.testing;
const abi = @import("../abi/abi.zig");
const constants = @import("../constants.zig");
const scheduler = @import("scheduler.zig");
const platform = @import("platform_host.zig");
const host = @import("host_run.zig");
const check = host.check;

const ms: u64 = std.time.ns_per_ms;
const us: u64 = std.time.ns_per_us;

fn expect_clean(status: u32) !void {
    try testing.expectEqual(@as(u32, 0), host.failed_line);
    try testing.expectEqual(@as(u32, 0), status);
}

fn take_turns(tag: u64) callconv(.c) u32 {
    for (0..3) |_| {
        host.note(@intCast(tag));
        scheduler.yield_now();
    }
    return @intCast(tag * 10);
}

fn spawn_three_and_join(_: u64) callconv(.c) u32 {
    // Alone, a yield returns at once.
    scheduler.yield_now();
    check(host.log_count == 0, @src());
    const ids = [_]u32{
        host.spawn(&take_turns, 1),
        host.spawn(&take_turns, 2),
        host.spawn(&take_turns, 3),
    };
    check(std.mem.eql(u32, &ids, &.{ 1, 2, 3 }), @src());
    for (ids, 1..) |id, tag| check(host.join(id) == tag * 10, @src());
    return 0;
}

test "tasks run in spawn order and take turns at every yield; join returns their status" {
    try expect_clean(host.run(&spawn_three_and_join, 0));
    try testing.expectEqualSlices(u32, &.{ 1, 2, 3, 1, 2, 3, 1, 2, 3 }, host.logged());
}

fn sleep_then_note(duration_ms: u64) callconv(.c) u32 {
    scheduler.sleep_ns(duration_ms * ms);
    check(platform.now >= duration_ms * ms, @src());
    host.note(@intCast(duration_ms));
    return 0;
}

fn sleepers(_: u64) callconv(.c) u32 {
    const ids = [_]u32{
        host.spawn(&sleep_then_note, 30),
        host.spawn(&sleep_then_note, 10),
        host.spawn(&sleep_then_note, 20),
    };
    for (ids) |id| _ = host.join(id);
    return 0;
}

fn yield_with_own_pointer(pointer: u64) callconv(.c) u32 {
    if (pointer != 0) check(scheduler.set_thread_pointer(pointer), @src());
    for (0..2) |_| {
        check(platform.thread_pointer == pointer, @src());
        scheduler.yield_now();
    }
    return 0;
}

fn thread_pointers(_: u64) callconv(.c) u32 {
    check(!scheduler.set_thread_pointer(1 << 47), @src()); // Not canonical.
    check(scheduler.set_thread_pointer(0x7000), @src());
    check(platform.thread_pointer_loads == 1, @src());
    // Two tasks that never set one share 0, a third has its own.
    const ids = [_]u32{
        host.spawn(&yield_with_own_pointer, 0),
        host.spawn(&yield_with_own_pointer, 0),
        host.spawn(&yield_with_own_pointer, 0x9000),
    };
    for (ids) |id| _ = host.join(id);
    check(platform.thread_pointer == 0x7000, @src());
    return 0;
}

test "each task runs with its own thread pointer, loaded only when the next task's differs" {
    try expect_clean(host.run(&thread_pointers, 0));
    // 0x7000 set; then per round 0 (tasks 1, 2), 0x9000 (task 3), 0x7000 (task 0) - never a
    // load between tasks 1 and 2, which share 0.
    try testing.expect(platform.thread_pointer_loads <= 1 + 3 * 4);
    try testing.expect(platform.thread_pointer_loads >= 4);
}

test "sleepers wake in deadline order, the CPU halting in between" {
    try expect_clean(host.run(&sleepers, 0));
    try testing.expectEqualSlices(u32, &.{ 10, 20, 30 }, host.logged());
    try testing.expect(platform.halts >= 3);
    try testing.expect(host.flushes >= 1); // Buffered events go out before the CPU idles.
}

fn late_scheduler(_: u64) callconv(.c) u32 {
    const ids = [_]u32{
        host.spawn(&sleep_then_note, 3),
        host.spawn(&sleep_then_note, 1),
        host.spawn(&sleep_then_note, 2),
    };
    scheduler.yield_now(); // All three sleep.
    for (ids) |id| check(scheduler.tasks[id].state == .blocked, @src());
    platform.now += 1000 * ms; // Task 0 computed for a second: every deadline passed.
    scheduler.yield_now();
    check(host.log_count == 3, @src());
    for (ids) |id| _ = host.join(id);
    return 0;
}

test "deadlines that passed together fire in deadline order, before task 0 runs again" {
    try expect_clean(host.run(&late_scheduler, 0));
    try testing.expectEqualSlices(u32, &.{ 1, 2, 3 }, host.logged());
    try testing.expectEqual(@as(u64, 0), platform.halts);
}

fn wait_on_poll(duration_ms: u64) callconv(.c) u32 {
    const woken = scheduler.block(.poll, 0, scheduler.deadline_after(duration_ms * ms));
    host.note(@intFromBool(woken));
    return 0;
}

fn wake_or_time_out(_: u64) callconv(.c) u32 {
    const woken = host.spawn(&wait_on_poll, 5);
    scheduler.yield_now();
    check(scheduler.tasks[woken].wait == .poll, @src());
    scheduler.wake_all(.poll, 0);
    check(scheduler.tasks[woken].state == .ready, @src());
    _ = host.join(woken);
    check(platform.now < 5 * ms, @src());
    const timed_out = host.spawn(&wait_on_poll, 5);
    _ = host.join(timed_out);
    check(platform.now >= 5 * ms, @src());
    return 0;
}

test "block returns true when woken and false when its deadline passed" {
    try expect_clean(host.run(&wake_or_time_out, 0));
    try testing.expectEqualSlices(u32, &.{ 1, 0 }, host.logged());
}

fn exit_early(status: u64) callconv(.c) u32 {
    scheduler.sleep_ns(10 * ms);
    scheduler.exit_current(@intCast(status));
}

fn joins(_: u64) callconv(.c) u32 {
    const id = host.spawn(&exit_early, 42);
    const early = scheduler.join(id, scheduler.deadline_after(1 * ms));
    check(early == error.TimedOut, @src());
    check(scheduler.tasks[id].state == .blocked, @src());
    check(host.join(id) == 42, @src());
    check(scheduler.tasks[id].state == .free, @src());
    // The status was taken: the slot is gone.
    check(scheduler.join(id, scheduler.deadline_none) == error.Released, @src());
    // A freed slot is reused, with a new generation.
    const generation = scheduler.tasks[id].generation;
    check(host.spawn(&exit_early, 7) == id, @src());
    check(scheduler.tasks[id].generation == generation +% 1, @src());
    check(host.join(id) == 7, @src());
    return 0;
}

test "join: times out, returns the exit status once, then reports the task released" {
    try expect_clean(host.run(&joins, 0));
}

fn return_status(status: u64) callconv(.c) u32 {
    return @intCast(status);
}

test "the workload's status is its exit status; above 255 it becomes out_of_range, said why" {
    try testing.expectEqual(@as(u32, 7), host.run(&return_status, 7));
    try testing.expectEqual(abi.exit_status_out_of_range, host.run(&return_status, 300));
    const said = "workload: exit status 300 (as i32: 300) is outside 0-255";
    try testing.expect(std.mem.indexOf(u8, platform.output(), said) != null);
}

fn wait_forever(_: u64) callconv(.c) u32 {
    _ = host.spawn(&wait_forever_on_join, 0);
    _ = scheduler.block(.channel_receive, 5, scheduler.deadline_none);
    check(false, @src()); // Nothing can wake it.
    return 0;
}

fn wait_forever_on_join(_: u64) callconv(.c) u32 {
    _ = scheduler.join(0, scheduler.deadline_none) catch 0;
    return 0;
}

test "every task blocked without a deadline is a deadlock, reported and not waited on" {
    try testing.expectEqual(constants.exit_status_deadlock, host.run(&wait_forever, 0));
    try testing.expectEqual(@as(u32, 0), host.failed_line);
    const output = platform.output();
    try testing.expect(std.mem.startsWith(u8, output, "deadlock: every task is blocked"));
    try testing.expect(std.mem.indexOf(u8, output, "task 0: waiting on channel_receive 5") != null);
    try testing.expect(std.mem.indexOf(u8, output, "task 1: waiting on join 0") != null);
}

fn spawn_all(_: u64) callconv(.c) u32 {
    const too_large = scheduler.spawn(@intFromPtr(&return_status), 0, 1 << 30);
    check(too_large == error.OutOfRange, @src());
    for (1..constants.tasks_max) |expected| {
        check(host.spawn(&return_status, 0) == expected, @src());
    }
    const full = scheduler.spawn(@intFromPtr(&return_status), 0, 4096);
    check(full == error.LimitReached, @src());
    return 0;
}

test "spawn: every slot once, then limit_reached; too large a stack is out_of_range" {
    try expect_clean(host.run(&spawn_all, 0));
}

/// A stand-in device for the scheduler's Waker: `arrive_at` is when its work comes (fake TSC);
/// arm reports it when already there, poll wakes the tasks waiting on it.
const FakeDevice = struct {
    var arrive_at: u64 = 0;
    var arms: u32 = 0;
    var polls: u32 = 0;
    var delivered: bool = false;

    fn reset(arrive_at_tsc: u64) void {
        arrive_at = arrive_at_tsc;
        arms = 0;
        polls = 0;
        delivered = false;
    }

    fn arm() bool {
        arms += 1;
        return !delivered and platform.now >= arrive_at;
    }

    fn poll() void {
        polls += 1;
        if (delivered or platform.now < arrive_at) return;
        delivered = true;
        scheduler.wake_all(.poll, 9);
    }
};

fn wait_for_device(_: u64) callconv(.c) u32 {
    scheduler.waker = .{ .arm = &FakeDevice.arm, .poll = &FakeDevice.poll };
    // No deadline: only the device can wake it, and the scheduler halts (bounded) meanwhile.
    const woken = scheduler.block(.poll, 9, scheduler.deadline_none);
    check(woken, @src());
    check(platform.now >= FakeDevice.arrive_at, @src());
    return 0;
}

test "a task blocked with no deadline waits, halting, for a device that can wake it" {
    FakeDevice.reset(2500 * ms);
    try expect_clean(host.run(&wait_for_device, 0));
    // Each halt lasts at most idle_device_halt_ns_max (1 s): three halts to reach 2.5 s, each
    // after a busy poll (the device asked again and again for waker_busy_poll_ns), polled after.
    try testing.expectEqual(@as(u64, 3), platform.halts);
    try testing.expect(FakeDevice.arms > 3);
    try testing.expectEqual(@as(u32, 3), FakeDevice.polls);
    try testing.expect(std.mem.indexOf(u8, platform.output(), "deadlock") == null);
}

fn wait_for_device_already_there(_: u64) callconv(.c) u32 {
    scheduler.waker = .{ .arm = &FakeDevice.arm, .poll = &FakeDevice.poll };
    check(scheduler.block(.poll, 9, scheduler.deadline_after(100 * ms)), @src());
    return 0;
}

test "work already waiting when the device is armed is polled, without a halt" {
    FakeDevice.reset(0);
    try expect_clean(host.run(&wait_for_device_already_there, 0));
    try testing.expectEqual(@as(u64, 0), platform.halts);
    try testing.expectEqual(@as(u32, 1), FakeDevice.arms);
    try testing.expectEqual(@as(u32, 1), FakeDevice.polls);
}

fn wait_for_device_soon(_: u64) callconv(.c) u32 {
    scheduler.waker = .{ .arm = &FakeDevice.arm, .poll = &FakeDevice.poll };
    check(scheduler.block(.poll, 9, scheduler.deadline_after(100 * ms)), @src());
    return 0;
}

test "work that comes while the scheduler busy-polls is taken without a halt" {
    // It arrives 20 µs after the task blocks, inside waker_busy_poll_ns (100 µs).
    FakeDevice.reset(20 * us);
    try expect_clean(host.run(&wait_for_device_soon, 0));
    try testing.expectEqual(@as(u64, 0), platform.halts);
    try testing.expectEqual(@as(u32, 1), FakeDevice.polls);
}
