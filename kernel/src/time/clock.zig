//! The kernel's clock: the TSC, with its frequency from kvmclock (KVM), CPUID leaves 0x15/0x16,
//! or PIT calibration (TCG), in that order. Boot phases are timestamped with raw TSC reads and
//! converted once the frequency is known.

const std = @import("std");
const assert = std.debug.assert;
const cpu = @import("../arch/x86_64/cpu.zig");
const constants = @import("../constants.zig");
const kvmclock = @import("kvmclock.zig");
const supervisor = @import("../arch/x86_64/supervisor.zig");

pub const Source = enum { kvmclock, cpuid, pit, assumed };

/// 40 bits of fraction keep the error under 2 ns per 1000 s; the factor fits in 64 bits for any
/// TSC of at least tsc_hz_min.
const fixed_point_bits = 40;
const tsc_hz_min: u64 = 1_000_000;

pub const Clock = struct {
    source: Source,
    tsc_hz: u64,
    /// Nanoseconds per TSC tick, fixed point with fixed_point_bits of fraction, rounded up:
    /// conversions are one multiply, not a 128-bit division (a software loop here).
    ns_per_tick_fixed: u64,
    entry_tsc: u64,
    /// kvmclock time at kernel entry: nanoseconds since the VM was created (KVM only).
    kvmclock_entry_ns: ?u64,
    /// Wall-clock time at kernel entry, nanoseconds since the Unix epoch: kvmclock's wall clock
    /// plus its time at entry, or what the CLI passed (set_wall_clock); null when unknown.
    wall_at_entry_ns: ?u64 = null,

    fn init(source: Source, tsc_hz: u64, entry_tsc: u64, kvmclock_entry_ns: ?u64) Clock {
        assert(tsc_hz > 0);
        assert(tsc_hz >= tsc_hz_min);
        const fixed: u64 = @intCast(std.math.divCeil(
            u128,
            @as(u128, 1_000_000_000) << fixed_point_bits,
            tsc_hz,
        ) catch unreachable);
        assert(fixed > 0);
        return .{
            .source = source,
            .tsc_hz = tsc_hz,
            .ns_per_tick_fixed = fixed,
            .entry_tsc = entry_tsc,
            .kvmclock_entry_ns = kvmclock_entry_ns,
        };
    }

    pub fn ns_since_entry(clock: *const Clock, tsc: u64) u64 {
        assert(clock.ns_per_tick_fixed > 0);
        const delta = tsc -% clock.entry_tsc;
        return @truncate((@as(u128, delta) * clock.ns_per_tick_fixed) >> fixed_point_bits);
    }

    /// TSC ticks in `ns` nanoseconds (for deadlines).
    pub fn ticks_for_ns(clock: *const Clock, ns: u64) u64 {
        assert(clock.tsc_hz > 0);
        return @intCast(@as(u128, ns) * clock.tsc_hz / 1_000_000_000);
    }

    pub fn now_ns(clock: *const Clock) u64 {
        return clock.ns_since_entry(cpu.rdtsc());
    }

    /// Wall-clock time now, nanoseconds since the Unix epoch; 0 when unknown.
    pub fn wall_ns(clock: *const Clock) u64 {
        const base = clock.wall_at_entry_ns orelse return 0;
        return base +| clock.now_ns();
    }

    /// Takes the CLI's launch time (uk.wall_ns, nanoseconds since the epoch) as the time at
    /// entry when the hypervisor gave none (TCG): it is early by the VMM's start-up, tens of ms.
    pub fn set_wall_clock(clock: *Clock, launch_ns: u64) void {
        assert(launch_ns > 0);
        if (clock.wall_at_entry_ns == null) clock.wall_at_entry_ns = launch_ns;
        assert(clock.wall_at_entry_ns != null);
    }
};

/// The kernel's clock: this module owns it, `init` sets it once at boot (kmain, before any
/// module reads it), everyone else reads it through `&clock.global`. Zero until then.
pub var global: Clock = .{
    .source = .assumed,
    .tsc_hz = 0,
    .ns_per_tick_fixed = 0,
    .entry_tsc = 0,
    .kvmclock_entry_ns = null,
};

/// Sets `global` from the best source there is, once.
pub fn init(entry_tsc: u64) *const Clock {
    assert(global.tsc_hz == 0);
    global = measure(entry_tsc);
    assert(global.tsc_hz >= tsc_hz_min);
    return &global;
}

fn measure(entry_tsc: u64) Clock {
    if (kvmclock.read()) |reading| {
        const delta: i64 = @bitCast(entry_tsc -% reading.tsc);
        const entry_ns = @as(i64, @intCast(reading.system_time_ns)) +
            kvmclock.scale_delta(delta, reading.tsc_to_system_mul, reading.tsc_shift);
        var clock = Clock.init(
            .kvmclock,
            reading.tsc_hz,
            entry_tsc,
            if (entry_ns > 0) @intCast(entry_ns) else null,
        );
        if (kvmclock.wall_clock_base_ns()) |base| {
            if (clock.kvmclock_entry_ns) |since_zero| clock.wall_at_entry_ns = base + since_zero;
        }
        return clock;
    }
    if (cpuid_tsc_hz()) |hz| return Clock.init(.cpuid, hz, entry_tsc, null);
    const pit_hz = supervisor.call(.calibrate_tsc_with_pit, 0, 0, 0);
    if (pit_hz != 0 and pit_hz != supervisor.refused) return Clock.init(
        .pit,
        pit_hz,
        entry_tsc,
        null,
    );
    return Clock.init(.assumed, constants.tsc_hz_fallback, entry_tsc, null);
}

/// CPUID leaf 0x15 (TSC/crystal ratio with the crystal frequency) or 0x16 (base MHz).
fn cpuid_tsc_hz() ?u64 {
    const max_leaf = cpu.cpuid(0, 0).eax;
    if (max_leaf >= 0x15) {
        const leaf = cpu.cpuid(0x15, 0);
        if (leaf.eax != 0 and leaf.ebx != 0 and leaf.ecx != 0) {
            return @as(u64, leaf.ecx) * leaf.ebx / leaf.eax;
        }
    }
    if (max_leaf >= 0x16) {
        const base_mhz = cpu.cpuid(0x16, 0).eax & 0xffff;
        if (base_mhz != 0) return @as(u64, base_mhz) * 1_000_000;
    }
    return null;
}

test "tsc to ns conversion by fixed-point multiply" {
    const clock = Clock.init(.assumed, 2_500_000_000, 1000, null);
    try std.testing.expectEqual(@as(u64, 0), clock.ns_since_entry(1000));
    try std.testing.expectEqual(@as(u64, 1_000_000), clock.ns_since_entry(1000 + 2_500_000));
    // One hour at 2.5 GHz stays within 1 ppm.
    const hour_ns = clock.ns_since_entry(1000 + 2_500_000_000 * 3600);
    try std.testing.expect(hour_ns >= 3600_000_000_000 and hour_ns < 3600_000_000_000 + 3_600_000);
}
