//! Files of the image's root filesystem, opened with io.open. A file is read whole into memory
//! at open and its sha256 checked against the index (the kernel verifies everything it loads);
//! reads are then copies. Closing frees the memory.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const pages = @import("../memory/pages.zig");
const disk_module = @import("../image/disk.zig");
const rootfs = @import("../image/rootfs.zig");

pub const Error = error{ NotFound, OutOfRange, LimitReached, IoFailed, NoMemory, TooLarge };

const File = struct { in_use: bool = false, data: []u8 = &.{}, position: u64 = 0 };

var files: [constants.files_open_max]File = [_]File{.{}} ** constants.files_open_max;
var disk: ?*disk_module.Disk = null;

pub fn init(image: ?*disk_module.Disk) void {
    disk = image;
}

pub fn open(path: []const u8) Error!u32 {
    const image = disk orelse return error.NotFound;
    const entry = image.index.lookup(path) orelse return error.NotFound;
    if (entry.kind != .file) return error.NotFound;
    if (entry.size > constants.file_open_bytes_max) return error.TooLarge;
    const index = for (files, 0..) |file, index| {
        if (!file.in_use) break index;
    } else return error.LimitReached;
    const data = image.read_file(entry, constants.file_open_bytes_max) catch |err| {
        return switch (err) {
            error.OutOfMemory => error.NoMemory,
            else => error.IoFailed,
        };
    };
    assert(data.len == entry.size);
    assert(@intFromPtr(data.ptr) % pages.page_bytes == 0); // Whole pages: close frees them.
    files[index] = .{ .in_use = true, .data = data };
    return @intCast(index);
}

/// Copies from the current position; 0 at the end.
pub fn read(index: u32, buffer: []u8) u64 {
    const file = &files[index];
    assert(file.in_use);
    assert(file.position <= file.data.len);
    const left = file.data.len - file.position;
    const count = @min(left, buffer.len);
    @memcpy(buffer[0..count], file.data[file.position..][0..count]);
    file.position += count;
    assert(file.position <= file.data.len);
    return count;
}

/// Copies from `offset` without moving the position; 0 at or past the end.
pub fn read_at(index: u32, buffer: []u8, offset: u64) u64 {
    const file = &files[index];
    assert(file.in_use);
    if (offset >= file.data.len) return 0;
    const count = @min(file.data.len - offset, buffer.len);
    @memcpy(buffer[0..count], file.data[offset..][0..count]);
    assert(count <= buffer.len);
    return count;
}

pub const Stat = struct { size: u64, kind: rootfs.Kind, mode: u32 };

/// What the index says about `path` ("" is the root directory, which has no entry).
pub fn stat(path: []const u8) ?Stat {
    const image = disk orelse return null;
    if (path.len == 0) return .{ .size = 0, .kind = .directory, .mode = 0o755 };
    const entry = image.index.lookup(path) orelse return null;
    assert(entry.path.len == path.len);
    return .{ .size = entry.size, .kind = entry.kind, .mode = entry.mode };
}

/// The entry of directory `path` at `cursor` (0 first; then what the last call returned), and
/// the cursor after it; null at the end. Error when `path` is not a directory.
pub fn list(path: []const u8, cursor: u32) error{NotFound}!?rootfs.Child {
    const found = stat(path) orelse return error.NotFound;
    if (found.kind != .directory) return error.NotFound;
    const image = disk.?;
    return image.index.next_child(path, cursor);
}

pub fn close(index: u32) void {
    const file = files[index];
    assert(file.in_use);
    assert(@intFromPtr(file.data.ptr) % pages.page_bytes == 0);
    // Disk.read_file took whole pages; give them back.
    const padded = std.mem.alignForward(u64, @max(file.data.len, 1), 512);
    const page_count = std.math.divCeil(u64, padded, pages.page_bytes) catch unreachable;
    pages.global.free(@intFromPtr(file.data.ptr), page_count);
    files[index] = .{};
}
