//! `timers [LATE_MEDIAN_US] [LATE_MAX_US]`: sleeps of 0.1, 1, 5 and 20 ms, REPEAT times each,
//! measured with clock.now_ns. A sleep may never end early (the definition says "at least");
//! how late it may end is a bound, because the VM's vCPU is a host thread:
//!
//! - KVM (also nested, PVM): a wake-up is a timer interrupt plus a halt exit, tens of µs; under
//!   PVM the ring-0 path is emulated (~0.1 ms per round trip) and a busy shared host can
//!   deschedule the vCPU for a few ms. Median ≤ 2 ms late, worst ≤ 20 ms.
//! - TCG: QEMU delivers timer interrupts between translated blocks and its timers have ms-level
//!   slack under load. Median ≤ 10 ms, worst ≤ 50 ms.
//!
//! The defaults are the TCG bounds; the e2e test passes the KVM ones under KVM.
//!
//! Then: four tasks sleeping 4, 3, 2, 1 ms wake shortest first; a sleeping task wakes on time while
//! another task keeps yielding, and while two tasks ping-pong over channels (the scheduler must
//! look at timers when it switches, not only when idle); and a 300 ms sleep between two marker lines, so the host can check the guest's clock
//! against its own.

const std = @import("std");
const ukernel = @import("ukernel");
const sys = @import("sys.zig");
const check = @import("check.zig");

const repeat = 10;

fn parse(arguments: []const [*:0]const u8, index: usize, default: u64) u64 {
    if (arguments.len <= index) return default;
    return std.fmt.parseInt(u64, std.mem.span(arguments[index]), 10) catch default;
}

var wake_order: [4]u64 = .{ 0, 0, 0, 0 };
var wake_count: usize = 0;
fn sleeper(argument: u64) callconv(.c) u32 {
    _ = sys.task_sleep(argument * 1_000_000);
    wake_order[wake_count] = argument;
    wake_count += 1;
    return 0;
}

var spin_until: u64 = 0;
var ping_stop: bool = false;
var ping_channels: [2]u32 = .{ 0, 0 };
var ping_round_trips: u64 = 0;
/// Ping-pong over two channels, blocking, until told to stop or 3 s have passed (so that a
/// kernel which never wakes the sleeper still ends this test, with a FAIL).
fn ping_task(_: u64) callconv(.c) u32 {
    const give_up = sys.now() + 3_000_000_000;
    var b: [8]u8 = undefined;
    while (!@atomicLoad(bool, &ping_stop, .acquire) and sys.now() < give_up) {
        if (sys.send(ping_channels[0], sys.addr(&b), 8, 0) != 0) break;
        if (sys.recv(ping_channels[1], sys.addr(&b), 8, 0) != 8) break;
        ping_round_trips += 1;
    }
    _ = sys.io_close(ping_channels[0]);
    return 0;
}
fn pong_task(_: u64) callconv(.c) u32 {
    var b: [8]u8 = undefined;
    while (sys.recv(ping_channels[0], sys.addr(&b), 8, 0) == 8) {
        if (sys.send(ping_channels[1], sys.addr(&b), 8, 0) != 0) break;
    }
    return 0;
}
fn spinner(_: u64) callconv(.c) u32 {
    while (sys.now() < spin_until) _ = sys.task_yield();
    return 0;
}

pub fn run(arguments: []const [*:0]const u8) u8 {
    const late_median_bound = parse(arguments, 0, 10_000) * 1000;
    const late_max_bound = parse(arguments, 1, 50_000) * 1000;
    ukernel.print("timers: bounds late median {d} us, worst {d} us\n", .{ late_median_bound / 1000, late_max_bound / 1000 });
    const requests = [_]u64{ 100_000, 1_000_000, 5_000_000, 20_000_000 };
    for (requests) |request| {
        var samples: [repeat]u64 = undefined;
        for (&samples) |*sample| {
            const t0 = sys.now();
            _ = sys.task_sleep(request);
            sample.* = sys.since(t0);
        }
        std.mem.sort(u64, &samples, {}, std.sort.asc(u64));
        const min = samples[0];
        const median = samples[repeat / 2];
        const max = samples[repeat - 1];
        ukernel.print("timers: sleep_ns={d} achieved_min={d} achieved_median={d} achieved_max={d} late_median_us={d}\n", .{ request, min, median, max, (median -| request) / 1000 });
        var name: [64]u8 = undefined;
        _ = check.truth(std.fmt.bufPrint(&name, "timers.{d}us.never_early", .{request / 1000}) catch "timers.early", min >= request, "slept {d} ns for {d}", .{ min, request });
        _ = check.truth(std.fmt.bufPrint(&name, "timers.{d}us.median_late", .{request / 1000}) catch "timers.median", median -| request <= late_median_bound, "median {d} ns late (bound {d})", .{ median -| request, late_median_bound });
        _ = check.truth(std.fmt.bufPrint(&name, "timers.{d}us.worst_late", .{request / 1000}) catch "timers.worst", max -| request <= late_max_bound, "worst {d} ns late (bound {d})", .{ max -| request, late_max_bound });
    }

    // Shortest first.
    var handles: [4]i64 = undefined;
    for (&handles, 0..) |*h, i| h.* = sys.task_spawn(@intFromPtr(&sleeper), 4 - i, 0);
    for (handles) |h| if (h >= 0) {
        _ = sys.task_join(sys.handle(h), sys.infinite);
    };
    _ = check.truth("timers.wake_order", wake_count == 4 and wake_order[0] == 1 and wake_order[1] == 2 and wake_order[2] == 3 and wake_order[3] == 4, "woke in order {d} {d} {d} {d} ms", .{ wake_order[0], wake_order[1], wake_order[2], wake_order[3] });

    // A sleep ends on time while another task keeps the CPU busy yielding.
    spin_until = sys.now() + 100_000_000;
    const spin = sys.task_spawn(@intFromPtr(&spinner), 0, 0);
    const t0 = sys.now();
    _ = sys.task_sleep(5_000_000);
    const slept = sys.since(t0);
    if (spin >= 0) _ = sys.task_join(sys.handle(spin), sys.infinite);
    ukernel.print("timers: sleep_ns=5000000 while_yielding_achieved={d}\n", .{slept});
    _ = check.truth("timers.wake_while_others_yield", slept >= 5_000_000 and slept - 5_000_000 <= late_max_bound, "5 ms sleep took {d} ns while another task yielded", .{slept});

    // A sleep ends on time while two other tasks ping-pong over channels (they block and wake
    // each other, so the ready queue is never empty and nobody yields).
    const c0 = sys.channel_create(1, 8);
    const c1 = sys.channel_create(1, 8);
    if (c0 >= 0 and c1 >= 0) {
        ping_channels = .{ sys.handle(c0), sys.handle(c1) };
        const p0 = sys.task_spawn(@intFromPtr(&ping_task), 0, 0);
        const p1 = sys.task_spawn(@intFromPtr(&pong_task), 0, 0);
        const t1 = sys.now();
        _ = sys.task_sleep(5_000_000);
        const napped = sys.since(t1);
        @atomicStore(bool, &ping_stop, true, .release);
        if (p0 >= 0) _ = sys.task_join(sys.handle(p0), sys.infinite);
        if (p1 >= 0) _ = sys.task_join(sys.handle(p1), sys.infinite);
        for (ping_channels) |h| {
            _ = sys.io_close(h);
            _ = sys.io_close(h);
        }
        ukernel.print("timers: sleep_ns=5000000 while_ping_pong_achieved={d} round_trips={d}\n", .{ napped, ping_round_trips });
        _ = check.truth("timers.wake_while_others_ping_pong", napped >= 5_000_000 and napped - 5_000_000 <= late_max_bound, "5 ms sleep took {d} ns while two tasks ping-ponged over channels (expired sleepers only woken when the ready queue empties?)", .{napped});
    } else check.fail("timers.wake_while_others_ping_pong", "ipc.channel_create failed", .{});

    // For the host: 300 ms by the guest's clock between the two marks.
    ukernel.print("timers: mark begin\n", .{});
    const m0 = sys.now();
    _ = sys.task_sleep(300_000_000);
    const marked = sys.since(m0);
    ukernel.print("timers: mark end guest_ns={d}\n", .{marked});
    return @intCast(@min(check.failures, 255));
}
