//! The ABI benchmark's guest: costs of the kernel's calls between tasks, measured with
//! clock.now_ns and printed as `bench: key=value` lines (bench/abi/run.mjs collects them).
//!
//!     ukernel run -- bench [SCALE]   yield, channels, poll wake-up, sleep accuracy
//!     ukernel run -- trace N         N trace.event calls; prints when the loop started, so the
//!                                    host can take the workload's exit time (after the final
//!                                    flush of the events buffer) as the end
//!
//! SCALE (default 1) multiplies the iteration counts; run.mjs lowers it under TCG.
//! Only the SDK's public API is used: this measures what a workload sees.

const std = @import("std");
const ukernel = @import("ukernel");
const abi = ukernel.abi;

pub fn main(context: ukernel.Context) u8 {
    const mode = if (context.args.len > 1) std.mem.span(context.args[1]) else "bench";
    const number: u64 = if (context.args.len > 2) std.fmt.parseInt(u64, std.mem.span(context.args[2]), 10) catch 1 else 1;
    if (std.mem.eql(u8, mode, "trace")) return trace(number);
    if (std.mem.eql(u8, mode, "bench")) return bench(@max(number, 1)) catch |err| {
        ukernel.print("bench: error={s}\n", .{@errorName(err)});
        return 1;
    };
    ukernel.print("usage: bench [SCALE] | trace N\n", .{});
    return 2;
}

fn bench(scale: u64) !u8 {
    try yield_round_trip(200_000 * scale);
    try channel_throughput(100_000 * scale);
    try channel_ping_pong(50_000 * scale);
    try poll_wake(5_000 * scale);
    sleep_accuracy();
    ukernel.print("bench: done=1\n", .{});
    return 0;
}

// ---- task.yield ---------------------------------------------------------------------------------

var yield_count: u64 = 0;
fn yielder(n: u64) callconv(.c) u32 {
    for (0..n) |_| ukernel.yield();
    return 0;
}

/// Two tasks yield to each other N times: one round trip = main → other → main.
fn yield_round_trip(n: u64) !void {
    const other = try ukernel.spawn(&yielder, n + 1, 0);
    ukernel.yield(); // the other task starts and yields back
    const t0 = ukernel.now_ns();
    for (0..n) |_| ukernel.yield();
    const elapsed = ukernel.now_ns() - t0;
    _ = try ukernel.join(other, abi.timeout_infinite);
    ukernel.print("bench: yield_n={d} yield_rt_ns={d:.1} yield_switch_ns={d:.1}\n", .{ n, per(elapsed, n), per(elapsed, 2 * n) });
}

// ---- Channels -----------------------------------------------------------------------------------

var throughput_channel: ukernel.Channel = undefined;
fn producer(n: u64) callconv(.c) u32 {
    var message: [16]u8 = .{7} ** 16;
    for (0..n) |i| {
        std.mem.writeInt(u64, message[0..8], i, .little);
        throughput_channel.send(&message) catch return 1;
    }
    return 0;
}

/// One producer, one consumer, 16-byte messages through a channel of 64.
fn channel_throughput(n: u64) !void {
    throughput_channel = try ukernel.Channel.create(64, 16);
    const task = try ukernel.spawn(&producer, n, 0);
    var buffer: [16]u8 = undefined;
    const t0 = ukernel.now_ns();
    for (0..n) |i| {
        _ = try throughput_channel.recv(&buffer);
        if (std.mem.readInt(u64, buffer[0..8], .little) != i) return error.OutOfOrder;
    }
    const elapsed = ukernel.now_ns() - t0;
    _ = try ukernel.join(task, abi.timeout_infinite);
    try throughput_channel.close();
    try throughput_channel.close();
    ukernel.print("bench: chan_n={d} chan_msgs_per_s={d:.0} chan_ns_per_msg={d:.1}\n", .{ n, @as(f64, @floatFromInt(n)) * 1e9 / @as(f64, @floatFromInt(elapsed)), per(elapsed, n) });
}

var ping: ukernel.Channel = undefined;
var pong: ukernel.Channel = undefined;
fn ponger(n: u64) callconv(.c) u32 {
    var buffer: [8]u8 = undefined;
    for (0..n) |_| {
        _ = ping.recv(&buffer) catch return 1;
        pong.send(&buffer) catch return 2;
    }
    return 0;
}

/// Request and reply between two tasks over two channels of capacity 1.
fn channel_ping_pong(n: u64) !void {
    ping = try ukernel.Channel.create(1, 8);
    pong = try ukernel.Channel.create(1, 8);
    const task = try ukernel.spawn(&ponger, n, 0);
    var buffer: [8]u8 = undefined;
    const t0 = ukernel.now_ns();
    for (0..n) |i| {
        std.mem.writeInt(u64, &buffer, i, .little);
        try ping.send(&buffer);
        _ = try pong.recv(&buffer);
    }
    const elapsed = ukernel.now_ns() - t0;
    _ = try ukernel.join(task, abi.timeout_infinite);
    for ([_]ukernel.Channel{ ping, pong }) |c| {
        try c.close();
        try c.close();
    }
    ukernel.print("bench: pingpong_n={d} chan_pingpong_rt_ns={d:.1}\n", .{ n, per(elapsed, n) });
}

// ---- io.poll ------------------------------------------------------------------------------------

var wake_channel: ukernel.Channel = undefined;
var ack_channel: ukernel.Channel = undefined;
fn waker(n: u64) callconv(.c) u32 {
    var buffer: [8]u8 = undefined;
    for (0..n) |_| {
        std.mem.writeInt(u64, &buffer, ukernel.now_ns(), .little);
        wake_channel.send(&buffer) catch return 1;
        _ = ack_channel.recv(&buffer) catch return 2;
    }
    return 0;
}

/// The poller blocks in io.poll; the other task reads the clock and sends: send → poller awake.
fn poll_wake(n: u64) !void {
    wake_channel = try ukernel.Channel.create(1, 8);
    ack_channel = try ukernel.Channel.create(1, 8);
    const samples = try ukernel.allocator.alloc(u64, n);
    defer ukernel.allocator.free(samples);
    const task = try ukernel.spawn(&waker, n, 0);
    var buffer: [8]u8 = undefined;
    for (samples) |*sample| {
        var items = [1]abi.PollItem{.{ .handle = wake_channel.handle, .events = abi.poll_readable, .revents = 0 }};
        _ = try ukernel.poll(&items, abi.timeout_infinite);
        const woke = ukernel.now_ns();
        _ = try wake_channel.recv(&buffer);
        sample.* = woke -| std.mem.readInt(u64, &buffer, .little);
        try ack_channel.send(&buffer);
    }
    _ = try ukernel.join(task, abi.timeout_infinite);
    for ([_]ukernel.Channel{ wake_channel, ack_channel }) |c| {
        try c.close();
        try c.close();
    }
    std.mem.sort(u64, samples, {}, std.sort.asc(u64));
    ukernel.print("bench: poll_n={d} poll_wake_ns={d} poll_wake_min_ns={d} poll_wake_p99_ns={d}\n", .{ n, samples[n / 2], samples[0], samples[n * 99 / 100] });
}

// ---- task.sleep ---------------------------------------------------------------------------------

fn sleep_accuracy() void {
    const requests = [_]u64{ 100_000, 1_000_000, 10_000_000 };
    const names = [_][]const u8{ "100us", "1ms", "10ms" };
    for (requests, names) |request, name| {
        var samples: [21]u64 = undefined;
        for (&samples) |*sample| {
            const t0 = ukernel.now_ns();
            ukernel.sleep(request);
            sample.* = ukernel.now_ns() - t0;
        }
        std.mem.sort(u64, &samples, {}, std.sort.asc(u64));
        ukernel.print("bench: sleep_{s}_ns={d} sleep_{s}_late_ns={d} sleep_{s}_max_ns={d}\n", .{ name, samples[10], name, samples[10] -| request, name, samples[20] });
    }
}

// ---- trace.event --------------------------------------------------------------------------------

fn trace(n: u64) u8 {
    const t0 = ukernel.now_ns();
    ukernel.print("bench: trace_n={d} trace_start_ns={d}\n", .{ n, t0 });
    const loop_start = ukernel.now_ns();
    for (0..n) |i| ukernel.trace.event("bench.ev", i);
    const loop_ns = ukernel.now_ns() - loop_start;
    ukernel.print("bench: trace_loop_ns={d} trace_call_ns={d:.1}\n", .{ loop_ns, per(loop_ns, @max(n, 1)) });
    return 0;
}

fn per(elapsed: u64, n: u64) f64 {
    return @as(f64, @floatFromInt(elapsed)) / @as(f64, @floatFromInt(n));
}
