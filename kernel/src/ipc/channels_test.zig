//! Host tests of channels: real tasks on the host (sched/host_run.zig), the kernel heap over a
//! static buffer.

const std = @import("std");
const testing = std.testing;
const channels = @import("channels.zig");
const scheduler = @import("../sched/scheduler.zig");
const host = @import("../sched/host_run.zig");
const pages = @import("../memory/pages.zig");
const heap_module = @import("../memory/heap.zig");
const check = host.check;

const memory_pages = 64;
var memory: [memory_pages * pages.page_bytes]u8 align(pages.page_bytes) = undefined;
var page_allocator: pages.Allocator = .{};
var heap: heap_module.Heap = undefined;

/// Runs `entry` as task 0 with fresh channels; fails the test on a failed check inside a task.
fn run(entry: host.Entry) !void {
    @memset(&memory, 0);
    const base = @intFromPtr(&memory);
    page_allocator = .{};
    page_allocator.init(.{ .base = base, .end = base + memory.len });
    heap = heap_module.Heap.init(&page_allocator).?;
    channels.init(&heap);
    const status = host.run(entry, 0);
    try testing.expectEqual(@as(u32, 0), host.failed_line);
    try testing.expectEqual(@as(u32, 0), status);
}

fn send(channel: u32, value: u32) void {
    var bytes: [4]u8 = undefined;
    std.mem.writeInt(u32, &bytes, value, .little);
    channels.send(channel, &bytes, false) catch check(false, @src());
}

fn receive(channel: u32) u32 {
    var bytes: [4]u8 = undefined;
    const length = channels.receive(channel, &bytes, false) catch 0;
    check(length == 4, @src());
    return std.mem.readInt(u32, &bytes, .little);
}

fn nonblocking(_: u64) callconv(.c) u32 {
    const channel = channels.create(2, 8) catch unreachable;
    check(channels.send(channel, "a", true) != error.WouldBlock, @src());
    check(channels.send(channel, "bb", true) != error.WouldBlock, @src());
    check(channels.send(channel, "c", true) == error.WouldBlock, @src());
    check(channels.send(channel, "too long!", true) == error.TooLarge, @src());
    const state = channels.readiness(channel);
    check(state.readable and !state.writable and !state.closed, @src());
    var short: [1]u8 = undefined;
    var buffer: [8]u8 = undefined;
    check(channels.receive(channel, &buffer, true) catch 0 == 1, @src());
    check(buffer[0] == 'a', @src());
    // Too short a buffer leaves the message queued.
    check(channels.receive(channel, &short, true) == error.TooLarge, @src());
    check(channels.receive(channel, &buffer, true) catch 0 == 2, @src());
    check(std.mem.eql(u8, buffer[0..2], "bb"), @src());
    check(channels.receive(channel, &buffer, true) == error.WouldBlock, @src());
    return 0;
}

test "channel: non-blocking send to a full channel and receive from an empty one would block" {
    try run(&nonblocking);
}

var sent: u32 = 0;
const messages = 6;

fn producer(channel: u64) callconv(.c) u32 {
    for (0..messages) |value| {
        send(@intCast(channel), @intCast(value));
        sent += 1;
    }
    return 0;
}

fn backpressure(_: u64) callconv(.c) u32 {
    const channel = channels.create(2, 4) catch unreachable;
    sent = 0;
    const id = host.spawn(&producer, channel);
    scheduler.yield_now();
    // The producer filled the channel and waits for room.
    check(sent == 2, @src());
    check(scheduler.tasks[id].state == .blocked, @src());
    check(scheduler.tasks[id].wait == .channel_send, @src());
    for (0..messages) |expected| {
        check(receive(channel) == expected, @src());
        check(sent - (expected + 1) <= 2, @src());
    }
    _ = host.join(id);
    return 0;
}

test "channel: a blocking send to a full channel waits for room, messages stay in order" {
    try run(&backpressure);
}

fn close_semantics(_: u64) callconv(.c) u32 {
    const channel = channels.create(4, 4) catch unreachable;
    send(channel, 1);
    send(channel, 2);
    check(channels.close(channel) == false, @src()); // First close: the handle stays.
    check(channels.send(channel, "x", false) == error.Closed, @src());
    check(!channels.readiness(channel).writable, @src());
    check(!channels.readiness(channel).closed, @src()); // Two messages still queued.
    check(receive(channel) == 1, @src());
    check(receive(channel) == 2, @src());
    var buffer: [4]u8 = undefined;
    check(channels.receive(channel, &buffer, false) == error.Closed, @src());
    check(channels.readiness(channel).closed, @src());
    check(channels.close(channel) == true, @src()); // Second close: released, memory freed.
    check(channels.create(1, 4) catch 99 == channel, @src()); // The slot is reused.
    return 0;
}

test "channel: after a close receivers drain what is queued, then get closed; second close frees" {
    try run(&close_semantics);
}

fn receive_until_closed(channel: u64) callconv(.c) u32 {
    var buffer: [4]u8 = undefined;
    _ = channels.receive(@intCast(channel), &buffer, false) catch |err| {
        return if (err == error.Closed) 1 else 2;
    };
    return 3;
}

fn close_wakes(_: u64) callconv(.c) u32 {
    const channel = channels.create(1, 4) catch unreachable;
    const id = host.spawn(&receive_until_closed, channel);
    scheduler.yield_now();
    check(scheduler.tasks[id].wait == .channel_receive, @src());
    _ = channels.close(channel);
    check(host.join(id) == 1, @src());
    return 0;
}

test "channel: a close wakes a blocked receiver, which gets closed" {
    try run(&close_wakes);
}

fn send_until_closed(channel: u64) callconv(.c) u32 {
    channels.send(@intCast(channel), "x", false) catch |err| {
        return if (err == error.Closed) 1 else 2;
    };
    return 3;
}

fn close_wakes_senders(_: u64) callconv(.c) u32 {
    const channel = channels.create(1, 4) catch unreachable;
    send(channel, 0); // Full.
    const id = host.spawn(&send_until_closed, channel);
    scheduler.yield_now();
    check(scheduler.tasks[id].wait == .channel_send, @src());
    _ = channels.close(channel);
    check(host.join(id) == 1, @src());
    check(receive(channel) == 0, @src()); // What was queued before the close stays.
    return 0;
}

test "channel: a close wakes a blocked sender, which gets closed; queued messages stay" {
    try run(&close_wakes_senders);
}

fn poll_waiter(_: u64) callconv(.c) u32 {
    const woken = scheduler.block(.poll, 0, scheduler.deadline_none);
    return @intFromBool(woken);
}

fn send_wakes_pollers(_: u64) callconv(.c) u32 {
    const channel = channels.create(1, 4) catch unreachable;
    const id = host.spawn(&poll_waiter, 0);
    scheduler.yield_now();
    check(scheduler.tasks[id].wait == .poll, @src());
    send(channel, 5);
    check(scheduler.tasks[id].state == .ready, @src());
    check(host.join(id) == 1, @src());
    check(channels.readiness(channel).readable, @src());
    return 0;
}

test "channel: a send wakes the tasks waiting in io.poll" {
    try run(&send_wakes_pollers);
}

var fair_channel: u32 = 0;

/// Yields (3 - tag) times, then sends its tag: tag 3 blocks first, tag 1 last.
fn late_sender(tag: u64) callconv(.c) u32 {
    for (0..3 - tag) |_| scheduler.yield_now();
    send(fair_channel, @intCast(tag));
    return 0;
}

fn oldest_first(_: u64) callconv(.c) u32 {
    fair_channel = channels.create(1, 4) catch unreachable;
    send(fair_channel, 0); // Full.
    const ids = [_]u32{
        host.spawn(&late_sender, 1),
        host.spawn(&late_sender, 2),
        host.spawn(&late_sender, 3),
    };
    var rounds: u32 = 0;
    while (rounds < 10) : (rounds += 1) {
        var blocked: u32 = 0;
        for (ids) |id| blocked += @intFromBool(scheduler.tasks[id].state == .blocked);
        if (blocked == ids.len) break;
        scheduler.yield_now();
    }
    check(rounds < 10, @src());
    for (0..4) |_| host.note(receive(fair_channel));
    for (ids) |id| _ = host.join(id);
    return 0;
}

test "channel: senders waiting for room get it oldest first, not by task id" {
    try run(&oldest_first);
    try testing.expectEqualSlices(u32, &.{ 0, 3, 2, 1 }, host.logged());
}
