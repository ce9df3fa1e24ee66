//! The report of system calls the layer does not serve: each returns ENOSYS and is logged once
//! per run (per syscall number) as a warning record, `posix: unserved system call` with fields
//! `syscall=<name>` (from the x86-64 syscall table) and `number=<n>`, so `ukernel logs` shows
//! which calls a program needed.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const linux = @import("linux.zig");
const uk = @import("uk.zig");

pub const message = "posix: unserved system call";

var reported = std.StaticBitSet(constants.syscall_numbers_max).initEmpty();

/// The x86-64 name of a syscall number ("unknown" for numbers Linux does not have).
pub fn name_of(number: u64) []const u8 {
    const known = std.meta.intToEnum(linux.SYS, number) catch return "unknown";
    return @tagName(known);
}

/// Whether `number` is reported now (the first time in this run).
pub fn first_time(number: u64) bool {
    const index: usize = @intCast(@min(number, constants.syscall_numbers_max - 1));
    if (reported.isSet(index)) return false;
    reported.set(index);
    return true;
}

/// -ENOSYS for an unserved call, logged the first time its number comes.
pub fn unserved(number: u64) i64 {
    if (first_time(number)) {
        var digits: [20]u8 = undefined;
        const number_text = std.fmt.bufPrint(&digits, "{d}", .{number}) catch unreachable;
        const keys = [_][]const u8{ "syscall", "number" };
        const values = [_][]const u8{ name_of(number), number_text };
        uk.log(abi.log_level_warn, message, &keys, &values);
    }
    return errno.fail(error.NOSYS);
}

/// A warning logged once per run for each distinct message.
pub fn once_text(comptime text: []const u8) void {
    const Once = struct {
        var done = false;
    };
    if (Once.done) return;
    Once.done = true;
    uk.log(abi.log_level_warn, text, &.{}, &.{});
}

test "syscall names come from the x86-64 table" {
    try std.testing.expectEqualStrings("read", name_of(0));
    try std.testing.expectEqualStrings("epoll_create1", name_of(291));
    try std.testing.expectEqualStrings("pidfd_open", name_of(434));
    try std.testing.expectEqualStrings("unknown", name_of(100000));
}

test "each number is reported once; numbers past the table share the last slot" {
    reported = @TypeOf(reported).initEmpty();
    try std.testing.expect(first_time(291));
    try std.testing.expect(!first_time(291));
    try std.testing.expect(first_time(292));
    try std.testing.expect(first_time(100000));
    try std.testing.expect(!first_time(200000));
    reported = @TypeOf(reported).initEmpty();
}
