//! Machine-readable console records (`@uk:` lines) for the host CLI. The format is specified in
//! docs/console-protocol.md; the host treats them as untrusted and validates every field.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const console = @import("console.zig");

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
    console.write(writer.buffered());
}

fn format_boot(writer: *std.Io.Writer, record: *const BootRecord) !void {
    try writer.print("@uk:boot v={d} proto={s} clock={s} tsc_khz={d}", .{
        constants.console_protocol_version, record.protocol, record.clock_source, record.tsc_khz,
    });
    if (record.kvmclock_entry_ns) |ns| try writer.print(" kvmclock_ns={d}", .{ns});
    inline for (@typeInfo(constants.BootPhase).@"enum".fields, 0..) |field, index| {
        try writer.print(" phase.{s}={d}", .{ field.name, record.phase_ns[index] });
    }
    try writer.writeByte('\n');
}

pub fn exit(status: u8, reason: ExitReason) void {
    const dropped = @import("../observe/events.zig").dropped_total;
    if (dropped > 0) {
        console.print("@uk:exit v={d} status={d} reason={s} events_dropped={d}\n", .{
            constants.console_protocol_version, status, @tagName(reason), dropped,
        });
        return;
    }
    console.print("@uk:exit v={d} status={d} reason={s}\n", .{
        constants.console_protocol_version, status, @tagName(reason),
    });
}

/// The workload is about to run: `t_ns` since kernel entry, and how long the steps before took.
pub fn workload_start(t_ns: u64, disk_ns: u64, image_ns: u64, load_ns: u64) void {
    console.print("@uk:workload v={d} event=start t_ns={d} disk_ns={d} image_ns={d} load_ns={d}\n", .{
        constants.console_protocol_version, t_ns, disk_ns, image_ns, load_ns,
    });
}

/// The workload returned (or called task.exit) with `status`.
pub fn workload_exit(status: u8, t_ns: u64) void {
    console.print("@uk:workload v={d} event=exit status={d} t_ns={d}\n", .{
        constants.console_protocol_version, status, t_ns,
    });
}
