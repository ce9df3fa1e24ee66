//! Formatted console output. Each call formats one piece into a bounded buffer and sends it in
//! one burst; output that does not fit is cut and marked, never overflowed.

const std = @import("std");
const constants = @import("../constants.zig");
const serial = @import("serial.zig");

pub fn init() void {
    serial.init();
}

pub fn write(bytes: []const u8) void {
    serial.write(bytes);
}

pub fn print(comptime format: []const u8, arguments: anytype) void {
    var buffer: [constants.console_line_bytes_max]u8 = undefined;
    var writer = std.Io.Writer.fixed(&buffer);
    const complete = if (writer.print(format, arguments)) true else |_| false;
    serial.write(writer.buffered());
    if (!complete) serial.write(" [cut]\n");
}
