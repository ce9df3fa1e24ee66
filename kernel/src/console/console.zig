//! Formatted console output, from either ring: ring 3 (the kernel proper) sends bytes through a
//! supervisor call, ring 0 (fault reports) writes the UART directly. Each call formats one piece
//! into a bounded buffer and sends it in one burst (one supervisor call); output that does not
//! fit is cut and marked, never overflowed.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const cpu = @import("../arch/x86_64/cpu.zig");
const supervisor = @import("../arch/x86_64/supervisor.zig");
const serial = @import("../arch/x86_64/serial.zig");

/// True when the last byte sent ended a line (or nothing was sent yet): kernel records must
/// start a line, whatever the workload printed before them.
var at_line_start: bool = true;

/// Set (by the events channel) while an events device is attached: returns the guest time to
/// stamp the kernel text about to be written with, when anything went to the events device
/// since the last stamp, else null. The `@uk:mark` record lets the host place serial text
/// among the events device's timed output.
pub var mark_hook: ?*const fn () ?u64 = null;

/// The kernel's own output (either ring).
pub fn write(bytes: []const u8) void {
    if (bytes.len == 0) return;
    if (at_line_start) if (mark_hook) |hook| if (hook()) |t_ns| mark(t_ns);
    send(bytes);
    at_line_start = bytes[bytes.len - 1] == '\n';
}

/// A kernel `@uk:` record line (without its newline), always at the start of a line.
pub fn write_record(line: []const u8) void {
    assert(std.mem.startsWith(u8, line, "@uk:"));
    assert(line.len <= constants.console_line_bytes_max);
    // One burst (one supervisor call): a newline first when the line is open, the record, its
    // newline.
    var burst: [constants.console_line_bytes_max + 2]u8 = undefined;
    var used: usize = 0;
    if (!at_line_start) {
        burst[0] = '\n';
        used = 1;
    }
    @memcpy(burst[used..][0..line.len], line);
    used += line.len;
    burst[used] = '\n';
    send(burst[0 .. used + 1]);
    at_line_start = true;
}

fn mark(t_ns: u64) void {
    assert(at_line_start);
    var line: [64]u8 = undefined;
    const text = std.fmt.bufPrint(&line, "@uk:mark v={d} t_ns={d}\n", .{
        constants.console_protocol_version, t_ns,
    }) catch unreachable; // 64 bytes hold the longest
    send(text);
}

/// Workload bytes (console output, log text without an events device): every line that starts
/// with '@' gets one more '@' in front, so no workload line can parse as a `@uk:` record; the
/// host removes it again (docs/console-protocol.md, "Escaping").
pub fn write_workload(bytes: []const u8) void {
    var escaped: [constants.console_line_bytes_max]u8 = undefined;
    var used: usize = 0;
    for (bytes) |byte| {
        if (used + 2 > escaped.len) {
            send(escaped[0..used]);
            used = 0;
        }
        if (at_line_start and byte == '@') {
            escaped[used] = '@';
            used += 1;
        }
        escaped[used] = byte;
        used += 1;
        at_line_start = byte == '\n';
    }
    send(escaped[0..used]);
    assert(used <= escaped.len);
}

fn send(bytes: []const u8) void {
    if (bytes.len == 0) return;
    if (!cpu.in_ring3()) return serial.write(bytes);
    var sent: u64 = 0;
    var calls: u64 = 0;
    // Each call writes up to console_write_bytes_max; the bound on calls follows from that.
    while (sent < bytes.len and
        calls <= bytes.len / constants.console_write_bytes_max) : (calls += 1)
    {
        const written = supervisor.call(
            .console_write,
            @intFromPtr(bytes[sent..].ptr),
            bytes.len - sent,
            0,
        );
        if (written == supervisor.refused or written == 0) return;
        sent += written;
    }
}

pub fn print(comptime format: []const u8, arguments: anytype) void {
    var buffer: [constants.console_line_bytes_max]u8 = undefined;
    var writer = std.Io.Writer.fixed(&buffer);
    const complete = if (writer.print(format, arguments)) true else |_| false;
    write(writer.buffered());
    if (!complete) write(" [cut]\n");
}
