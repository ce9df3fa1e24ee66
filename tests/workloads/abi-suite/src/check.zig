//! Checks: each prints `ok NAME` or `FAIL NAME: WHY` on its own line and counts the failures.
//! Results print as `ok(N)` or the error's name.

const std = @import("std");
const ukernel = @import("ukernel");
const sys = @import("sys.zig");
const Error = sys.abi.Error;

pub var failures: u32 = 0;
pub var passes: u32 = 0;

pub fn section(name: []const u8) void {
    ukernel.print("# {s}\n", .{name});
}

pub fn pass(name: []const u8) void {
    passes += 1;
    ukernel.print("ok {s}\n", .{name});
}

/// `ok NAME (note)`: a pass that also reports what was observed.
pub fn pass_note(name: []const u8, comptime format: []const u8, arguments: anytype) void {
    passes += 1;
    var buffer: [256]u8 = undefined;
    const note = std.fmt.bufPrint(&buffer, format, arguments) catch "…";
    ukernel.print("ok {s} ({s})\n", .{ name, note });
}

pub fn fail(name: []const u8, comptime format: []const u8, arguments: anytype) void {
    failures += 1;
    var buffer: [512]u8 = undefined;
    const why = std.fmt.bufPrint(&buffer, format, arguments) catch "(reason too long)";
    ukernel.print("FAIL {s}: {s}\n", .{ name, why });
}

pub fn truth(name: []const u8, condition: bool, comptime format: []const u8, arguments: anytype) bool {
    if (condition) pass(name) else fail(name, format, arguments);
    return condition;
}

/// The call must fail with `want`.
pub fn err(name: []const u8, got: i64, want: Error) bool {
    if (got == sys.err(want)) {
        pass(name);
        return true;
    }
    var buffer: [32]u8 = undefined;
    fail(name, "expected {s}, got {s}", .{ @tagName(want), sys.show(&buffer, got) });
    return false;
}

/// The call must fail with one of `wants` (where the definition allows more than one reading).
pub fn errs(name: []const u8, got: i64, wants: []const Error) bool {
    for (wants) |want| if (got == sys.err(want)) {
        pass_note(name, "{s}", .{@tagName(want)});
        return true;
    };
    var buffer: [32]u8 = undefined;
    var expected: [128]u8 = undefined;
    var writer = std.Io.Writer.fixed(&expected);
    for (wants, 0..) |want, index| writer.print("{s}{s}", .{ if (index == 0) "" else " or ", @tagName(want) }) catch {};
    fail(name, "expected {s}, got {s}", .{ writer.buffered(), sys.show(&buffer, got) });
    return false;
}

/// The call must succeed, or fail with one of `wants`; either way it must not crash.
pub fn ok_or(name: []const u8, got: i64, wants: []const Error) bool {
    if (got >= 0) {
        pass_note(name, "ok({d})", .{got});
        return true;
    }
    return errs(name, got, wants);
}

/// The call must succeed; returns the result (or null after a FAIL line).
pub fn ok(name: []const u8, got: i64) ?i64 {
    if (got >= 0) {
        pass(name);
        return got;
    }
    var buffer: [32]u8 = undefined;
    fail(name, "expected success, got {s}", .{sys.show(&buffer, got)});
    return null;
}

/// The call must return exactly `want`.
pub fn value(name: []const u8, got: i64, want: i64) bool {
    if (got == want) {
        pass(name);
        return true;
    }
    var buffer: [32]u8 = undefined;
    fail(name, "expected ok({d}), got {s}", .{ want, sys.show(&buffer, got) });
    return false;
}

/// Success without printing (set-up steps); a FAIL line when it fails.
pub fn quiet(name: []const u8, got: i64) ?i64 {
    if (got >= 0) return got;
    var buffer: [32]u8 = undefined;
    fail(name, "set-up call failed: {s}", .{sys.show(&buffer, got)});
    return null;
}
