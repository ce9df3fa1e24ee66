//! Formatted console output, from either ring: ring 3 (the kernel proper) sends bytes through a
//! supervisor call, ring 0 (fault reports) writes the UART directly. Each call formats one piece
//! into a bounded buffer and sends it in one burst (one supervisor call); output that does not
//! fit is cut and marked, never overflowed.

const std = @import("std");
const constants = @import("../constants.zig");
const cpu = @import("../arch/x86_64/cpu.zig");
const supervisor = @import("../arch/x86_64/supervisor.zig");
const serial = @import("serial.zig");

pub fn write(bytes: []const u8) void {
    if (!cpu.in_ring3()) return serial.write(bytes);
    var sent: u64 = 0;
    var calls: u64 = 0;
    // Each call writes up to console_write_bytes_max; the bound on calls follows from that.
    while (sent < bytes.len and calls <= bytes.len / constants.console_write_bytes_max) : (calls += 1) {
        const written = supervisor.call(.console_write, @intFromPtr(bytes[sent..].ptr), bytes.len - sent, 0);
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
