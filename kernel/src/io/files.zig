//! Files of the image's root filesystem, opened with io.open. Opening reads and verifies only
//! the file's block-hash list; each read loads the blocks it touches on first touch, verifies
//! each against the list and keeps it (image/block_file.zig), so a large file costs only what
//! is read of it. Closing frees the list and the blocks.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const console = @import("../console/console.zig");
const pages = @import("../memory/pages.zig");
const disk_module = @import("../image/disk.zig");
const rootfs = @import("../image/rootfs.zig");
const block_file = @import("../image/block_file.zig");

pub const Error = error{ NotFound, OutOfRange, LimitReached, IoFailed, NoMemory, TooLarge };

const File = struct {
    in_use: bool = false,
    blocks: block_file.BlockFile = undefined,
    position: u64 = 0,
    /// A block of this open file failed its hash and the console said so (once per open file).
    reported: bool = false,
};

var files: [constants.files_open_max]File = [_]File{.{}} ** constants.files_open_max;
var disk: ?*disk_module.Disk = null;

pub fn init(image: ?*disk_module.Disk) void {
    disk = image;
}

pub fn open(path: []const u8) Error!u32 {
    const image = disk orelse return error.NotFound;
    const entry = image.index.lookup(path) orelse return error.NotFound;
    if (entry.kind != .file) return error.NotFound;
    const index = for (files, 0..) |file, index| {
        if (!file.in_use) break index;
    } else return error.LimitReached;
    const opened = block_file.BlockFile.open(
        entry,
        image.source(),
        &pages.global,
        constants.file_open_bytes_max,
    ) catch |err| {
        if (err == error.ListHashMismatch) {
            console.print("files: {s}: its block-hash list does not match the index " ++
                "(the image is corrupt: rebuild it with `ukernel pack`)\n", .{entry.path});
        }
        return map_error(err);
    };
    assert(opened.list.len == entry.list_bytes());
    files[index] = .{ .in_use = true, .blocks = opened };
    return @intCast(index);
}

/// Copies from the current position and moves it; 0 at the end.
pub fn read(index: u32, buffer: []u8) Error!u64 {
    const file = &files[index];
    assert(file.in_use);
    assert(file.position <= file.blocks.entry.size);
    const count = try read_at(index, buffer, file.position);
    file.position += count;
    assert(file.position <= file.blocks.entry.size);
    return count;
}

/// Copies from `offset` without moving the position; 0 at or past the end. A block that fails
/// its hash fails the read with IoFailed (and a console line naming the file and block, once).
pub fn read_at(index: u32, buffer: []u8, offset: u64) Error!u64 {
    const file = &files[index];
    assert(file.in_use);
    const image = disk.?;
    const count = file.blocks.read_at(image.source(), &pages.global, buffer, offset) catch |err| {
        if (err == error.BlockHashMismatch and !file.reported) {
            file.reported = true;
            console.print("files: {s}: block {d} (bytes {d}..) does not match its hash " ++
                "(the image is corrupt: rebuild it with `ukernel pack`)\n", .{
                file.blocks.entry.path,
                file.blocks.failed_block,
                file.blocks.failed_block * rootfs.block_bytes,
            });
        }
        return map_error(err);
    };
    assert(count <= buffer.len);
    return count;
}

fn map_error(err: block_file.Error) Error {
    return switch (err) {
        error.TooLarge => error.TooLarge,
        error.NoMemory => error.NoMemory,
        error.IoFailed, error.ListHashMismatch, error.BlockHashMismatch => error.IoFailed,
    };
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
    const file = &files[index];
    assert(file.in_use);
    file.blocks.close(&pages.global);
    files[index] = .{};
    assert(!files[index].in_use);
}
