//! The driver's boot self-test (`uk.net.selftest`): ARP requests for the host's address, each
//! reply waited for by halting the CPU until the device's interrupt ends the halt. It exercises
//! the whole path before a TCP/IP stack exists: TX copy and notify, RX buffers, EVENT_IDX
//! arming, the IOAPIC route, the ring-0 handler and the early return from the halt.
//!
//! `uk.net.selftest=1` asks QEMU user networking (slirp) for its gateway, 10.0.2.2, as
//! 10.0.2.15; `uk.net.selftest=OURS,TARGET` names both (e.g. `172.16.0.2,172.16.0.1` on a tap).
//!
//! A reply can beat the halt (the VMM may answer while the notify's exit is handled), so the
//! ARP rounds do not always halt. `listen` makes sure: it halts for a while and counts the
//! frames that arrive unasked (a host connecting to a forwarded port, a host pinging the guest)
//! and the halts the device's interrupt ended.

const std = @import("std");
const cmdline = @import("../../../boot/cmdline.zig");
const assert = std.debug.assert;
const constants = @import("../../../constants.zig");
const cpu = @import("../../../arch/x86_64/cpu.zig");
const supervisor = @import("../../../arch/x86_64/supervisor.zig");
const Clock = @import("../../../time/clock.zig").Clock;
const arp = @import("arp.zig");
const Device = @import("device.zig").Device;

pub const Options = struct {
    ours: arp.Ipv4 = .{ 10, 0, 2, 15 },
    target: arp.Ipv4 = .{ 10, 0, 2, 2 },
};

pub const Error = error{ BadOptions, NoReply, TransmitBusy };

/// What the test saw: round-trip times (request handed to the driver → reply in hand, wake-up
/// included), the halts it took and how they ended, and the device's counters.
pub const Result = struct {
    replier: arp.Mac = undefined,
    round_trip_ns_min: u64 = std.math.maxInt(u64),
    round_trip_ns_max: u64 = 0,
    round_trip_ns_total: u64 = 0,
    rounds: u32 = 0,
    /// Per round: the round trip, and how the wait ended (halts, early wake-ups).
    round_trip_ns: [constants.net_selftest_rounds]u64 = @splat(0),
    round_halts: [constants.net_selftest_rounds]u32 = @splat(0),
    round_interrupts: [constants.net_selftest_rounds]u64 = @splat(0),
    /// Halts taken while waiting, and those that ended before their deadline (an interrupt).
    halts: u64 = 0,
    halts_woken_early: u64 = 0,
    /// Waits that found the reply already there when arming (no halt).
    replies_before_halt: u64 = 0,
    interrupts: u64 = 0,
};

/// "1" or "" for the slirp defaults, else "OURS,TARGET" (dotted quads).
pub fn parse_options(text: []const u8) Error!Options {
    if (text.len == 0 or std.mem.eql(u8, text, "1")) return .{};
    const comma = std.mem.indexOfScalar(u8, text, ',') orelse return error.BadOptions;
    return .{
        .ours = cmdline.parse_ipv4(text[0..comma]) orelse return error.BadOptions,
        .target = cmdline.parse_ipv4(text[comma + 1 ..]) orelse return error.BadOptions,
    };
}

/// Runs net_selftest_rounds ARP exchanges, one after the other; each reply is waited for up to
/// net_selftest_reply_timeout_ns (error.NoReply past it).
pub fn run(device: *Device, clock: *const Clock, options: Options) Error!Result {
    var result: Result = .{};
    const interrupts_before = device.interrupts();
    for (0..constants.net_selftest_rounds) |round| {
        const halts_before = result.halts;
        const round_interrupts_before = device.interrupts();
        var frame: [arp.request_bytes]u8 = undefined;
        arp.request(&frame, device.mac(), options.ours, options.target);
        // From before the transmit: the reply may come back while the notify's exit is handled.
        const sent_tsc = cpu.rdtsc();
        device.transmit(&.{&frame}) catch return error.TransmitBusy;
        device.flush();
        const replied_tsc = try wait_reply(device, clock, options, sent_tsc, &result);
        const round_trip_ns = clock.ns_since_entry(replied_tsc) - clock.ns_since_entry(sent_tsc);
        result.round_trip_ns_min = @min(result.round_trip_ns_min, round_trip_ns);
        result.round_trip_ns_max = @max(result.round_trip_ns_max, round_trip_ns);
        result.round_trip_ns_total += round_trip_ns;
        result.round_trip_ns[round] = round_trip_ns;
        result.round_halts[round] = @intCast(result.halts - halts_before);
        result.round_interrupts[round] = device.interrupts() - round_interrupts_before;
        result.rounds += 1;
    }
    result.interrupts = device.interrupts() - interrupts_before;
    assert(result.rounds == constants.net_selftest_rounds);
    return result;
}

/// What `listen` saw.
pub const Listened = struct {
    frames: u64 = 0,
    halts: u64 = 0,
    /// Halts after which the device's interrupt handler had run (its InterruptStatus noted).
    woken_by_interrupt: u64 = 0,
};

/// Halts for `duration_ns` in all, the device's interrupt armed before each halt, taking every
/// frame that arrives.
pub fn listen(device: *Device, clock: *const Clock, duration_ns: u64) Listened {
    var listened: Listened = .{};
    const deadline_tsc = cpu.rdtsc() + clock.ticks_for_ns(duration_ns);
    _ = device.interrupted();
    // Each round ends a halt or takes frames; the deadline ends the loop.
    var rounds: u32 = 0;
    while (rounds < constants.net_selftest_wait_rounds_max) : (rounds += 1) {
        listened.frames += drain(device, null).frames;
        if (cpu.rdtsc() >= deadline_tsc) break;
        if (device.interrupt_arm()) continue;
        _ = supervisor.call(.halt_until, deadline_tsc, 0, 0);
        listened.halts += 1;
        if (device.interrupted()) listened.woken_by_interrupt += 1;
    }
    return listened;
}

/// Waits for the reply: drains what arrived, else arms the device's interrupt and halts until
/// it (or the deadline) ends the halt. Returns the TSC when the reply was in hand.
fn wait_reply(
    device: *Device,
    clock: *const Clock,
    options: Options,
    sent_tsc: u64,
    result: *Result,
) Error!u64 {
    const deadline_tsc = sent_tsc + clock.ticks_for_ns(constants.net_selftest_reply_timeout_ns);
    // Each round ends a halt (an interrupt or the deadline) or finds frames; other traffic
    // (slirp's own ARP, IPv6 router solicitations on a tap) is bounded by the deadline too.
    var rounds: u32 = 0;
    while (rounds < constants.net_selftest_wait_rounds_max) : (rounds += 1) {
        if (drain(device, options).reply) |sender| {
            result.replier = sender;
            return cpu.rdtsc();
        }
        const now = cpu.rdtsc();
        if (now >= deadline_tsc) return error.NoReply;
        if (device.interrupt_arm()) {
            result.replies_before_halt += 1;
            continue;
        }
        _ = supervisor.call(.halt_until, deadline_tsc, 0, 0);
        result.halts += 1;
        if (cpu.rdtsc() < deadline_tsc) result.halts_woken_early += 1;
        _ = device.interrupted();
    }
    return error.NoReply;
}

const Drained = struct { frames: u32, reply: ?arp.Mac };

/// Takes every waiting frame, noting the ARP reply `options` expects among them (none without
/// options). Re-posted buffers are flushed.
fn drain(device: *Device, options: ?Options) Drained {
    var drained: Drained = .{ .frames = 0, .reply = null };
    while (drained.frames < constants.net_queue_size) : (drained.frames += 1) {
        const frame = device.receive() orelse break;
        if (options) |expected| {
            const sender = arp.reply_sender(frame, expected.target, expected.ours);
            if (sender != null) drained.reply = sender;
        }
        device.receive_done();
    }
    device.flush();
    return drained;
}

test "self-test options" {
    const defaults = try parse_options("1");
    try std.testing.expectEqual(arp.Ipv4{ 10, 0, 2, 2 }, defaults.target);
    const tap = try parse_options("172.16.0.2,172.16.0.1");
    try std.testing.expectEqual(arp.Ipv4{ 172, 16, 0, 2 }, tap.ours);
    try std.testing.expectEqual(arp.Ipv4{ 172, 16, 0, 1 }, tap.target);
    try std.testing.expectError(error.BadOptions, parse_options("172.16.0.2"));
    try std.testing.expectError(error.BadOptions, parse_options("172.16.0.2,x"));
}
