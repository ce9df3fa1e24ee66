//! kvmclock (KVM's paravirtual clock): the hypervisor publishes, in a page the guest names by
//! MSR, how to turn TSC ticks into nanoseconds. The kernel uses it for the TSC frequency and to
//! learn when it was entered relative to VM creation. Present on KVM (QEMU and Firecracker),
//! absent under TCG. entry.S detects it and writes the MSR (ring 0, ENABLE_KVMCLOCK); this file
//! reads the page.

const std = @import("std");
const assert = std.debug.assert;

/// struct pvclock_vcpu_time_info.
const TimeInfo = extern struct {
    version: u32,
    pad0: u32,
    tsc_timestamp: u64,
    system_time_ns: u64,
    tsc_to_system_mul: u32,
    tsc_shift: i8,
    flags: u8,
    pad: [2]u8,
};

comptime {
    assert(@sizeOf(TimeInfo) == 32);
}

/// Written by the hypervisor once entry.S enabled kvmclock; must not cross a page boundary.
export var kvmclock_time_info: TimeInfo align(64) = std.mem.zeroes(TimeInfo);
/// Set by entry.S when it enabled kvmclock.
export var kvmclock_enabled: u32 = 0;

/// struct pvclock_wall_clock: the wall-clock time (since the Unix epoch) at which kvmclock's
/// system time was 0. Written by KVM when entry.S names it (MSR_KVM_WALL_CLOCK_NEW).
const WallClock = extern struct { version: u32, seconds: u32, nanoseconds: u32 };
export var kvmclock_wall_clock: WallClock align(16) = std.mem.zeroes(WallClock);

/// The wall-clock time at kvmclock's zero, in nanoseconds since the Unix epoch; null without
/// kvmclock or while KVM has not written it.
pub fn wall_clock_base_ns() ?u64 {
    if (@atomicLoad(u32, &kvmclock_enabled, .acquire) == 0) return null;
    const wall = stable_copy(WallClock, &kvmclock_wall_clock) orelse return null;
    if (wall.seconds == 0) return null;
    assert(wall.nanoseconds < 1_000_000_000);
    return @as(u64, wall.seconds) * 1_000_000_000 + wall.nanoseconds;
}

/// A consistent copy of a structure the hypervisor publishes with a leading `version` (pvclock):
/// it bumps `version` to odd while it updates the rest, so retry a bounded number of times until
/// a stable, even version brackets the copy. Null when no attempt got one.
fn stable_copy(comptime T: type, shared: *const T) ?T {
    comptime assert(@offsetOf(T, "version") == 0);
    var attempt: u32 = 0;
    while (attempt < 1000) : (attempt += 1) {
        const version_before = @atomicLoad(u32, &shared.version, .acquire);
        if (version_before & 1 != 0) continue;
        const copy = shared.*;
        if (@atomicLoad(u32, &shared.version, .acquire) == version_before) return copy;
    }
    return null;
}

pub const Reading = struct {
    tsc_hz: u64,
    /// kvmclock time at `tsc`: nanoseconds since the VMM created the VM.
    system_time_ns: u64,
    tsc: u64,
    tsc_to_system_mul: u32,
    tsc_shift: i8,
};

/// Takes one consistent reading, or null when there is no kvmclock.
pub fn read() ?Reading {
    if (@atomicLoad(u32, &kvmclock_enabled, .acquire) == 0) return null;
    const snapshot = stable_copy(TimeInfo, &kvmclock_time_info) orelse return null;
    // Version 0: the hypervisor has not written the page yet.
    if (snapshot.version == 0 or snapshot.tsc_to_system_mul == 0) return null;
    return .{
        .tsc_hz = tsc_hz_from_scale(snapshot.tsc_to_system_mul, snapshot.tsc_shift),
        .system_time_ns = snapshot.system_time_ns,
        .tsc = snapshot.tsc_timestamp,
        .tsc_to_system_mul = snapshot.tsc_to_system_mul,
        .tsc_shift = snapshot.tsc_shift,
    };
}

/// ns = (ticks shifted by `shift`) * mul / 2^32, so hz = 10^9 * 2^32 / (mul * 2^shift).
pub fn tsc_hz_from_scale(mul: u32, shift: i8) u64 {
    assert(mul != 0);
    assert(shift >= -32 and shift <= 32);
    var numerator: u128 = @as(u128, 1_000_000_000) << 32;
    var denominator: u128 = mul;
    if (shift >= 0) denominator <<= @intCast(shift) else numerator <<= @intCast(-shift);
    return @intCast(numerator / denominator);
}

/// Converts a TSC delta (possibly negative) to nanoseconds with the kvmclock scale.
pub fn scale_delta(delta_ticks: i64, mul: u32, shift: i8) i64 {
    const magnitude: u64 = @abs(delta_ticks);
    var shifted: u128 = magnitude;
    if (shift >= 0) shifted <<= @intCast(shift) else shifted >>= @intCast(-shift);
    const ns: i64 = @intCast((shifted * mul) >> 32);
    return if (delta_ticks < 0) -ns else ns;
}

test "tsc frequency from kvmclock scale" {
    // 2 GHz: 0.5 ns per tick = mul 2^31 with shift 0.
    try std.testing.expectEqual(@as(u64, 2_000_000_000), tsc_hz_from_scale(1 << 31, 0));
    // 4 GHz: 0.25 ns per tick = mul 2^31 with shift -1.
    try std.testing.expectEqual(@as(u64, 4_000_000_000), tsc_hz_from_scale(1 << 31, -1));
    try std.testing.expectEqual(@as(i64, -500), scale_delta(-1000, 1 << 31, 0));
    try std.testing.expectEqual(@as(i64, 250), scale_delta(1000, 1 << 31, -1));
}
