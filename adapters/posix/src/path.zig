//! Path normalisation: a path as a program gives it (absolute, or relative to the working
//! directory or to a directory fd) to the rootfs path the kernel's io.open, io.stat and io.list
//! take: no leading `/`, no `.` or `..` or empty segments; "" is the root directory. `..` at the
//! root stays at the root, as on Linux. Symbolic links do not exist in the image. Pure code.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");

pub const Error = error{ NameTooLong, Empty };

pub const Buffer = [constants.rootfs_path_bytes_max]u8;

/// Resolves `input` against `base` (a rootfs path, already normal, used when `input` is
/// relative) into `out`; returns the normal rootfs path, a slice of `out`.
/// Errors: Empty for "" (ENOENT on Linux), NameTooLong when the input or the result is longer
/// than the limits (constants.path_bytes_max, constants.rootfs_path_bytes_max - 1).
pub fn resolve(base: []const u8, input: []const u8, out: *Buffer) Error![]const u8 {
    if (input.len == 0) return error.Empty;
    if (input.len >= constants.path_bytes_max) return error.NameTooLong;
    assert(base.len < out.len);
    var length: usize = 0;
    if (input[0] != '/') {
        @memcpy(out[0..base.len], base);
        length = base.len;
    }
    var segments = std.mem.tokenizeScalar(u8, input, '/');
    var steps: u32 = 0;
    while (segments.next()) |segment| : (steps += 1) {
        assert(steps < constants.path_bytes_max);
        if (std.mem.eql(u8, segment, ".")) continue;
        if (std.mem.eql(u8, segment, "..")) {
            length = parent_length(out[0..length]);
            continue;
        }
        const separator: usize = @intFromBool(length > 0);
        if (length + separator + segment.len >= out.len) return error.NameTooLong;
        if (separator == 1) out[length] = '/';
        @memcpy(out[length + separator ..][0..segment.len], segment);
        length += separator + segment.len;
    }
    assert(length < out.len);
    return out[0..length];
}

/// The length of `path` without its last segment ("a/b" → 1, "a" → 0, "" → 0).
fn parent_length(path: []const u8) usize {
    const slash = std.mem.lastIndexOfScalar(u8, path, '/') orelse return 0;
    return slash;
}

/// The last segment of a normal rootfs path ("" for the root).
pub fn base_name(path: []const u8) []const u8 {
    const slash = std.mem.lastIndexOfScalar(u8, path, '/') orelse return path;
    return path[slash + 1 ..];
}

fn expect_resolved(base: []const u8, input: []const u8, expected: []const u8) !void {
    var out: Buffer = undefined;
    try std.testing.expectEqualStrings(expected, try resolve(base, input, &out));
}

test "absolute paths drop the leading slash, dots and empty segments" {
    try expect_resolved("", "/lib/python313.zip", "lib/python313.zip");
    try expect_resolved("src", "/lib//./python313.zip", "lib/python313.zip");
    try expect_resolved("", "/", "");
    try expect_resolved("", "///", "");
    try expect_resolved("", "/src/pkg/../main.py", "src/main.py");
    try expect_resolved("", "/../../etc/ukernel.env", "etc/ukernel.env");
    try expect_resolved("", "/src/", "src");
}

test "relative paths resolve against the base directory" {
    try expect_resolved("", "bin/python", "bin/python");
    try expect_resolved("", ".", "");
    try expect_resolved("src", "main.py", "src/main.py");
    try expect_resolved("src/pkg", "../main.py", "src/main.py");
    try expect_resolved("src", "../../..", "");
    try expect_resolved("src", "./a/./b/..", "src/a");
}

test "empty and overlong paths are refused" {
    var out: Buffer = undefined;
    try std.testing.expectError(error.Empty, resolve("", "", &out));
    const long = "a" ** (constants.rootfs_path_bytes_max);
    try std.testing.expectError(error.NameTooLong, resolve("", long, &out));
    const huge = "/" ** constants.path_bytes_max;
    try std.testing.expectError(error.NameTooLong, resolve("", huge, &out));
    // Long input that normalises to something short is fine.
    const dots = "./" ** 1000 ++ "x";
    try expect_resolved("", dots, "x");
}

test "base_name is the last segment" {
    try std.testing.expectEqualStrings("main.py", base_name("src/main.py"));
    try std.testing.expectEqualStrings("src", base_name("src"));
    try std.testing.expectEqualStrings("", base_name(""));
}
