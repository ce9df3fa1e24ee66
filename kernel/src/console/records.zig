//! The kernel's records (`@uk:` lines) for the host CLI. The format is specified in
//! docs/console-protocol.md; the host treats them as untrusted and validates every field. They
//! travel on the events device when one is attached (where workload bytes cannot imitate them),
//! else on the serial console, always at the start of a line.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const console = @import("console.zig");
const events = @import("../observe/events.zig");
const exceptions = @import("../arch/x86_64/exceptions.zig");

/// Sends one formatted record line (without its newline) on the channel the host trusts.
fn emit(line: []const u8) void {
    assert(std.mem.startsWith(u8, line, "@uk:"));
    if (events.kernel_record(line)) return;
    console.write_record(line);
}

/// Formats a record into a bounded line and emits it. Records are far shorter than the bound
/// (the longest, `boot`, is about 300 bytes), so a cut is a programming error.
fn emit_formatted(comptime format: []const u8, arguments: anytype) void {
    var line: [constants.console_line_bytes_max]u8 = undefined;
    var writer = std.Io.Writer.fixed(&line);
    writer.print(format, arguments) catch unreachable;
    emit(writer.buffered());
}

pub const ExitReason = enum { @"return", panic, exception, @"test", workload_not_started };

pub const BootRecord = struct {
    protocol: []const u8,
    clock_source: []const u8,
    tsc_khz: u64,
    /// Nanoseconds from entry to the end of each phase, indexed by constants.BootPhase.
    phase_ns: [phase_count]u64,
    kvmclock_entry_ns: ?u64,
};

pub const phase_count = @typeInfo(constants.BootPhase).@"enum".fields.len;

pub fn boot(record: *const BootRecord) void {
    assert(record.tsc_khz > 0);
    var buffer: [constants.console_line_bytes_max]u8 = undefined;
    var writer = std.Io.Writer.fixed(&buffer);
    format_boot(&writer, record) catch unreachable; // The buffer bounds the record.
    emit(writer.buffered());
}

fn format_boot(writer: *std.Io.Writer, record: *const BootRecord) !void {
    try writer.print("@uk:boot v={d} proto={s} clock={s} tsc_khz={d}", .{
        constants.console_protocol_version, record.protocol, record.clock_source, record.tsc_khz,
    });
    if (record.kvmclock_entry_ns) |ns| try writer.print(" kvmclock_ns={d}", .{ns});
    inline for (@typeInfo(constants.BootPhase).@"enum".fields, 0..) |field, index| {
        try writer.print(" phase.{s}={d}", .{ field.name, record.phase_ns[index] });
    }
}

/// The VM is about to stop with `status`. Also reports what was lost on the way: records the
/// events device could not take, whether writing to it failed, and device interrupts no driver
/// claimed.
pub fn exit(status: u8, reason: ExitReason) void {
    var line: Line = undefined;
    emit(format_exit(&line, status, reason));
}

/// The exit record again, on the serial console: when the events device failed under it.
pub fn exit_on_console(status: u8, reason: ExitReason) void {
    assert(events.write_failed);
    var line: Line = undefined;
    console.write_record(format_exit(&line, status, reason));
}

const Line = [constants.console_line_bytes_max]u8;

fn format_exit(line: *Line, status: u8, reason: ExitReason) []const u8 {
    const format = "@uk:exit v={d} status={d} reason={s} events_dropped={d} events_failed={d}" ++
        " interrupts_unexpected={d}";
    return std.fmt.bufPrint(line, format, .{
        constants.console_protocol_version,
        status,
        @tagName(reason),
        events.dropped_total,
        @intFromBool(events.write_failed),
        exceptions.unexpected_interrupts(),
    }) catch unreachable; // The line bounds the record.
}

/// The workload is about to run: `t_ns` since kernel entry, and how long the steps before took
/// (`disk`: finding the image disk and reading its first sector; `image`: verifying the header
/// and the rootfs index; `load`: reading, verifying and loading the entry ELF).
pub fn workload_start(t_ns: u64, disk_ns: u64, image_ns: u64, load_ns: u64) void {
    const format = "@uk:workload v={d} event=start t_ns={d} disk_ns={d} image_ns={d} load_ns={d}";
    emit_formatted(format, .{
        constants.console_protocol_version, t_ns, disk_ns, image_ns, load_ns,
    });
}

/// The workload returned (or called task.exit) with `status`.
pub fn workload_exit(status: u8, t_ns: u64) void {
    emit_formatted("@uk:workload v={d} event=exit status={d} t_ns={d}", .{
        constants.console_protocol_version, status, t_ns,
    });
}

/// The network interface's configuration, once it is done (or given up): its MAC, where the
/// address came from (`static`, `dhcp`, or `none` when DHCP did not answer in time), the
/// address with its prefix, gateway, resolver, and how long configuration took (`config_ns`,
/// from the NIC's set-up to the address). Addresses are network-order bytes.
pub const NetRecord = struct {
    mac: [6]u8,
    source: []const u8,
    address: [4]u8,
    netmask: [4]u8,
    gateway: [4]u8,
    dns: [4]u8,
    dns_port: u16,
    config_ns: u64,
};

pub fn net(record: NetRecord) void {
    const mask = std.mem.readInt(u32, &record.netmask, .big);
    const prefix_bits: u32 = @popCount(mask);
    assert(mask == 0 or @clz(~mask) == prefix_bits); // Contiguous: lwIP's netif_set_addr checks.
    const a = record.address;
    const g = record.gateway;
    const d = record.dns;
    const m = record.mac;
    emit_formatted("@uk:net v={d} mac={x:0>2}:{x:0>2}:{x:0>2}:{x:0>2}:{x:0>2}:{x:0>2} source={s}" ++
        " address={d}.{d}.{d}.{d}/{d} gateway={d}.{d}.{d}.{d} dns={d}.{d}.{d}.{d}:{d}" ++
        " config_ns={d}", .{
        constants.console_protocol_version, m[0],             m[1], m[2], m[3], m[4],        m[5],
        record.source,                      a[0],             a[1], a[2], a[3], prefix_bits, g[0],
        g[1],                               g[2],             g[3], d[0], d[1], d[2],        d[3],
        record.dns_port,                    record.config_ns,
    });
}

/// The network stack's counters at exit, when it ran (docs/console-protocol.md): frames in and
/// out, frames dropped, and what lwIP still holds from its bounded pools and heap (after every
/// socket is closed, a leak shows as a pool that is not back to 0; TCP PCBs may still be in
/// TIME_WAIT).
pub const NetStats = struct {
    rx_frames: u64,
    tx_frames: u64,
    rx_dropped: u64,
    tx_dropped: u64,
    notifies: u64,
    interrupts: u64,
    half_open_reaped: u64,
    pool_pbufs_used: u64,
    pool_pbufs_max: u64,
    tcp_pcbs_used: u64,
    tcp_segments_used: u64,
    heap_bytes_used: u64,
    heap_bytes_max: u64,
};

pub fn net_stats(stats: NetStats) void {
    emit_formatted("@uk:netstat v={d} rx_frames={d} tx_frames={d} rx_dropped={d} tx_dropped={d}" ++
        " notifies={d} interrupts={d} half_open_reaped={d} pool_pbufs_used={d}" ++
        " pool_pbufs_max={d} tcp_pcbs_used={d} tcp_segments_used={d} heap_bytes_used={d}" ++
        " heap_bytes_max={d}", .{
        constants.console_protocol_version, stats.rx_frames,        stats.tx_frames,
        stats.rx_dropped,                   stats.tx_dropped,       stats.notifies,
        stats.interrupts,                   stats.half_open_reaped, stats.pool_pbufs_used,
        stats.pool_pbufs_max,               stats.tcp_pcbs_used,    stats.tcp_segments_used,
        stats.heap_bytes_used,              stats.heap_bytes_max,
    });
}
