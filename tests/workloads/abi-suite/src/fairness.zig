//! `fairness [TASKS] [WINDOW_MS]`: TASKS tasks (default 8) each count and yield for the same
//! window (default 200 ms); the counts must agree within max/min ≤ 1.2. Round-robin yield should
//! give counts within one of each other.
//!
//! Then, as a report with a weaker check: PRODUCERS tasks block sending into one channel of
//! capacity 1 while this task receives for the window; every producer must get some messages
//! through (no starvation). Wake-up order among blocked senders is not in the definition, so
//! only starvation fails.

const std = @import("std");
const ukernel = @import("ukernel");
const sys = @import("sys.zig");
const check = @import("check.zig");

const tasks_max = 32;
var counts = [_]u64{0} ** tasks_max;
var begin_ns: u64 = 0;
var end_ns: u64 = 0;

fn counter(argument: u64) callconv(.c) u32 {
    const index: usize = @intCast(argument);
    while (sys.now() < begin_ns) _ = sys.task_yield();
    while (sys.now() < end_ns) {
        counts[index] += 1;
        _ = sys.task_yield();
    }
    return 0;
}

var channel: u32 = 0;
fn producer(argument: u64) callconv(.c) u32 {
    var message: [8]u8 = undefined;
    std.mem.writeInt(u64, &message, argument, .little);
    while (sys.send(channel, sys.addr(&message), 8, 0) == 0) {}
    return 0;
}

fn ratio(values: []const u64) struct { min: u64, max: u64, ratio: f64 } {
    var min: u64 = std.math.maxInt(u64);
    var max: u64 = 0;
    for (values) |v| {
        min = @min(min, v);
        max = @max(max, v);
    }
    const r: f64 = if (min == 0) std.math.inf(f64) else @as(f64, @floatFromInt(max)) / @as(f64, @floatFromInt(min));
    return .{ .min = min, .max = max, .ratio = r };
}

pub fn run(arguments: []const [*:0]const u8) u8 {
    const k: usize = if (arguments.len > 0) std.fmt.parseInt(usize, std.mem.span(arguments[0]), 10) catch 8 else 8;
    const window_ms: u64 = if (arguments.len > 1) std.fmt.parseInt(u64, std.mem.span(arguments[1]), 10) catch 200 else 200;
    const n = @min(@max(k, 2), tasks_max);
    ukernel.print("fairness: {d} tasks, window {d} ms\n", .{ n, window_ms });

    var handles: [tasks_max]u32 = undefined;
    begin_ns = sys.now() + 2_000_000;
    end_ns = begin_ns + window_ms * 1_000_000;
    for (0..n) |i| {
        const h = sys.task_spawn(@intFromPtr(&counter), i, 0);
        if (h < 0) {
            check.fail("fairness.spawn", "task.spawn: {s}", .{sys.name(h)});
            return 1;
        }
        handles[i] = sys.handle(h);
    }
    for (handles[0..n]) |h| _ = sys.task_join(h, sys.infinite);
    var total: u64 = 0;
    for (counts[0..n], 0..) |c, i| {
        ukernel.print("fairness: task={d} count={d}\n", .{ i, c });
        total += c;
    }
    const yields = ratio(counts[0..n]);
    ukernel.print("fairness: yield total={d} min={d} max={d} ratio={d:.4} ns_per_yield={d}\n", .{ total, yields.min, yields.max, yields.ratio, if (total > 0) window_ms * 1_000_000 / total else 0 });
    _ = check.truth("fairness.yield", yields.min > 0 and yields.ratio <= 1.2, "max/min = {d}/{d} = {d:.3} (want ≤ 1.2)", .{ yields.max, yields.min, yields.ratio });

    // Blocked senders on one channel.
    const producers = @min(n, 4);
    const created = sys.channel_create(1, 8);
    if (created < 0) {
        check.fail("fairness.channel", "ipc.channel_create: {s}", .{sys.name(created)});
        return @intCast(check.failures);
    }
    channel = sys.handle(created);
    for (0..producers) |i| {
        const h = sys.task_spawn(@intFromPtr(&producer), i, 0);
        if (h < 0) {
            check.fail("fairness.channel", "task.spawn: {s}", .{sys.name(h)});
            return @intCast(check.failures);
        }
        handles[i] = sys.handle(h);
    }
    var received = [_]u64{0} ** tasks_max;
    const stop = sys.now() + window_ms * 1_000_000;
    var message: [8]u8 = undefined;
    while (sys.now() < stop) {
        if (sys.recv(channel, sys.addr(&message), 8, 0) != 8) break;
        const from = std.mem.readInt(u64, &message, .little);
        if (from < producers) received[@intCast(from)] += 1;
    }
    _ = sys.io_close(channel);
    for (handles[0..producers]) |h| _ = sys.task_join(h, 5_000_000_000);
    for (received[0..producers], 0..) |c, i| ukernel.print("fairness: producer={d} messages={d}\n", .{ i, c });
    const senders = ratio(received[0..producers]);
    ukernel.print("fairness: channel min={d} max={d} ratio={d:.4}\n", .{ senders.min, senders.max, senders.ratio });
    _ = check.truth("fairness.channel_no_starvation", senders.min > 0, "a producer got no message through in {d} ms", .{window_ms});
    return @intCast(@min(check.failures, 255));
}
