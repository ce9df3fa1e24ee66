//! The layer's own tidy checks (TIGER_STYLE, as kernel/tools/tidy.zig checks the kernel):
//! lines of at most 100 columns and functions of at most 70 lines, in every source file.

const std = @import("std");

const line_columns_max = 100;
const function_lines_max = 70;

const sources = [_][]const u8{
    "constants.zig", "dispatch.zig", "errno.zig",  "fd.zig",         "files.zig",
    "io.zig",        "linux.zig",    "memory.zig", "path.zig",       "poll.zig",
    "process.zig",   "report.zig",   "root.zig",   "signals.zig",    "sockaddr.zig",
    "sockets.zig",   "start.zig",    "stream.zig", "streams.zig",    "time.zig",
    "tidy_test.zig", "tmpfs.zig",    "uk.zig",     "unit_tests.zig",
};

/// The length in lines of the function that starts at `lines[start]` (its `fn` line to the
/// closing brace at the same indentation), or null for a declaration without a body.
fn function_length(lines: []const []const u8, start: usize) ?usize {
    const first = lines[start];
    if (std.mem.endsWith(u8, first, ";")) return null;
    const indent = first.len - std.mem.trimLeft(u8, first, " ").len;
    for (lines[start + 1 ..], start + 1..) |line, index| {
        if (line.len == indent + 1 and line[indent] == '}') return index - start + 1;
    }
    return null;
}

fn check(name: []const u8, text: []const u8) !void {
    var lines: [4096][]const u8 = undefined;
    var count: usize = 0;
    var iterator = std.mem.splitScalar(u8, text, '\n');
    while (iterator.next()) |line| : (count += 1) lines[count] = line;
    for (lines[0..count], 0..) |line, index| {
        const columns = try std.unicode.utf8CountCodepoints(line);
        if (columns > line_columns_max) {
            std.debug.print("{s}:{d}: {d} columns\n", .{ name, index + 1, columns });
            return error.LineTooLong;
        }
        const trimmed = std.mem.trimLeft(u8, line, " ");
        const is_function = std.mem.startsWith(u8, trimmed, "fn ") or
            std.mem.startsWith(u8, trimmed, "pub fn ") or
            std.mem.startsWith(u8, trimmed, "export fn ");
        if (!is_function) continue;
        const length = function_length(lines[0..count], index) orelse continue;
        if (length > function_lines_max) {
            std.debug.print("{s}:{d}: a function of {d} lines\n", .{ name, index + 1, length });
            return error.FunctionTooLong;
        }
    }
}

test "lines within 100 columns, functions within 70 lines" {
    inline for (sources) |name| try check(name, @embedFile(name));
}
