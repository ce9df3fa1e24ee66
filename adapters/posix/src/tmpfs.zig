//! /tmp: a small writable file system in memory, the only writable place (the image is
//! read-only). Programs expect one: Python's tempfile, test.support's temporary directories.
//! Files and directories live in `nodes` (paths are whole rootfs paths, "tmp/a/b"); a file's
//! bytes are one mem.alloc block that grows by doubling. A file unlinked while open lives on
//! until its last fd closes (and O_TMPFILE makes such a file at once). Everything is lost when
//! the program ends. Bounded by constants.tmp_nodes_max and tmp_bytes_max (then ENOSPC).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const path = @import("path.zig");
const uk = @import("uk.zig");

const Error = errno.Error;

pub const root = "tmp";

const Node = struct {
    used: bool = false,
    directory: bool = false,
    /// Has a name; false once unlinked (the node then lives while `opens` > 0).
    linked: bool = false,
    opens: u16 = 0,
    mode: u32 = 0o644,
    path_length: u16 = 0,
    path: path.Buffer = undefined,
    data: u64 = 0,
    capacity: u64 = 0,
    size: u64 = 0,

    fn name(node: *const Node) []const u8 {
        return node.path[0..node.path_length];
    }
};

var nodes: [constants.tmp_nodes_max]Node = [_]Node{.{}} ** constants.tmp_nodes_max;
pub var bytes_used: u64 = 0;

/// Whether a rootfs path is in /tmp (this file system's, whatever the image holds there).
pub fn owns(name: []const u8) bool {
    return std.mem.eql(u8, name, root) or
        (name.len > root.len and std.mem.startsWith(u8, name, root) and name[root.len] == '/');
}

/// The node of a /tmp file or directory (its inode number is 3 + the node's index).
pub fn find(name: []const u8) ?u16 {
    for (&nodes, 0..) |*node, index| {
        if (node.used and node.linked and std.mem.eql(u8, node.name(), name)) {
            return @intCast(index);
        }
    }
    return null;
}

/// A path's kind in /tmp: null when nothing is there.
pub fn kind_of(name: []const u8) ?enum { file, directory } {
    assert(owns(name));
    if (std.mem.eql(u8, name, root)) return .directory;
    const index = find(name) orelse return null;
    return if (nodes[index].directory) .directory else .file;
}

pub fn node_size(index: u16) u64 {
    return nodes[index].size;
}

pub fn node_mode(index: u16) u32 {
    return nodes[index].mode;
}

/// chmod: the permission bits of a node (the root keeps 0o777).
pub fn set_mode(name: []const u8, mode: u32) Error!void {
    if (std.mem.eql(u8, name, root)) return;
    const index = find(name) orelse return error.NOENT;
    nodes[index].mode = mode & 0o7777;
}

pub fn set_node_mode(index: u16, mode: u32) void {
    nodes[index].mode = mode & 0o7777;
}

/// The size of a file, 0 for a directory (stat); null when nothing is there.
pub fn size_of(name: []const u8) ?u64 {
    if (std.mem.eql(u8, name, root)) return 0;
    const index = find(name) orelse return null;
    return nodes[index].size;
}

/// ENOENT when `name`'s directory does not exist, ENOTDIR when it is a file.
fn parent_check(name: []const u8) Error!void {
    const slash = std.mem.lastIndexOfScalar(u8, name, '/') orelse return error.NOENT;
    const parent = name[0..slash];
    if (!owns(parent)) return error.NOENT;
    const kind = kind_of(parent) orelse return error.NOENT;
    if (kind != .directory) return error.NOTDIR;
}

fn create(name: []const u8, directory: bool, linked: bool, mode: u32) Error!u16 {
    try parent_check(name);
    for (&nodes, 0..) |*node, index| {
        if (node.used) continue;
        node.* = .{
            .used = true,
            .directory = directory,
            .linked = linked,
            .mode = mode & 0o7777,
            .path_length = @intCast(name.len),
        };
        @memcpy(node.path[0..name.len], name);
        return @intCast(index);
    }
    return error.NOSPC;
}

fn free(index: u16) void {
    const node = &nodes[index];
    assert(node.used and !node.linked and node.opens == 0);
    if (node.capacity > 0) _ = uk.table.mem_free(node.data, node.capacity);
    bytes_used -= node.capacity;
    node.* = .{};
}

pub const OpenFlags = struct {
    create: bool,
    exclusive: bool,
    truncate: bool,
    anonymous: bool,
    /// The new file's permission bits (open's mode less the umask).
    mode: u32 = 0o644,
};

/// Opens (or creates) a file in /tmp; returns its node with one more open. Directories are
/// opened as directory fds by the caller (kind_of says which).
pub fn open(name: []const u8, flags: OpenFlags) Error!u16 {
    if (flags.anonymous) {
        // O_TMPFILE: `name` is the directory; the file has no name from the start.
        if (kind_of(name) != .directory) return error.NOTDIR;
        var unnamed: path.Buffer = undefined;
        const inside = std.fmt.bufPrint(&unnamed, "{s}/.tmpfile", .{name}) catch
            return error.NAMETOOLONG;
        const index = try create(inside, false, false, flags.mode);
        nodes[index].opens = 1;
        return index;
    }
    var created = false;
    const index = find(name) orelse blk: {
        if (!flags.create) return error.NOENT;
        created = true;
        break :blk try create(name, false, true, flags.mode);
    };
    const node = &nodes[index];
    if (!created and flags.create and flags.exclusive) return error.EXIST;
    if (node.directory) return error.ISDIR;
    if (flags.truncate) node.size = 0;
    node.opens += 1;
    return index;
}

pub fn release(index: u16) void {
    const node = &nodes[index];
    assert(node.used and node.opens > 0);
    node.opens -= 1;
    if (!node.linked and node.opens == 0) free(index);
}

pub fn read_at(index: u16, buffer: []u8, offset: u64) u64 {
    const node = &nodes[index];
    assert(node.used and !node.directory);
    if (offset >= node.size) return 0;
    const count = @min(buffer.len, node.size - offset);
    const source: [*]const u8 = @ptrFromInt(node.data);
    @memcpy(buffer[0..count], source[offset..][0..count]);
    return count;
}

/// Makes room for `size` bytes (zero-filled past the old end).
fn reserve(node: *Node, size: u64) Error!void {
    if (size <= node.capacity) return;
    // Checked first: a size near 2^64 (fallocate, ftruncate) must not overflow below.
    if (size > constants.tmp_bytes_max) return error.NOSPC;
    const capacity = std.mem.alignForward(u64, @max(size, node.capacity * 2, 4096), 4096);
    if (bytes_used - node.capacity + capacity > constants.tmp_bytes_max) return error.NOSPC;
    const result = uk.table.mem_alloc(capacity, 4096);
    if (result < 0) return error.NOSPC;
    const address: u64 = @intCast(result);
    if (node.capacity > 0) {
        const old: [*]const u8 = @ptrFromInt(node.data);
        const new: [*]u8 = @ptrFromInt(address);
        @memcpy(new[0..node.size], old[0..node.size]);
        _ = uk.table.mem_free(node.data, node.capacity);
    }
    bytes_used = bytes_used - node.capacity + capacity;
    node.data = address;
    node.capacity = capacity;
}

pub fn write_at(index: u16, data: []const u8, offset: u64) Error!u64 {
    const node = &nodes[index];
    assert(node.used and !node.directory);
    const end = std.math.add(u64, offset, data.len) catch return error.INVAL;
    try reserve(node, end);
    const destination: [*]u8 = @ptrFromInt(node.data);
    // mem.alloc memory is zeroed; a gap left by a truncate-then-grow is zeroed here.
    if (offset > node.size) @memset(destination[node.size..offset], 0);
    @memcpy(destination[offset..][0..data.len], data);
    node.size = @max(node.size, end);
    return data.len;
}

pub fn truncate(index: u16, size: u64) Error!void {
    const node = &nodes[index];
    if (node.directory) return error.ISDIR;
    try reserve(node, size);
    const bytes: [*]u8 = @ptrFromInt(node.data);
    if (size > node.size) @memset(bytes[node.size..size], 0);
    node.size = size;
}

pub fn truncate_path(name: []const u8, size: u64) Error!void {
    const index = find(name) orelse return error.NOENT;
    return truncate(index, size);
}

fn has_children(name: []const u8) bool {
    for (&nodes) |*node| {
        if (!node.used or !node.linked) continue;
        const child = node.name();
        if (child.len > name.len and std.mem.startsWith(u8, child, name) and
            child[name.len] == '/') return true;
    }
    return false;
}

/// unlink (directory false) or rmdir (directory true).
pub fn remove(name: []const u8, directory: bool) Error!void {
    if (std.mem.eql(u8, name, root)) return error.PERM;
    const index = find(name) orelse return error.NOENT;
    const node = &nodes[index];
    if (directory and !node.directory) return error.NOTDIR;
    if (!directory and node.directory) return error.ISDIR;
    if (directory and has_children(name)) return error.NOTEMPTY;
    node.linked = false;
    if (node.opens == 0) free(index);
}

pub fn make_directory(name: []const u8, mode: u32) Error!void {
    if (std.mem.eql(u8, name, root) or find(name) != null) return error.EXIST;
    _ = try create(name, true, true, mode);
}

/// rename within /tmp: a directory takes its whole subtree along; an existing target is
/// replaced (a directory only by a directory, and only when empty).
pub fn rename(old: []const u8, new: []const u8) Error!void {
    if (std.mem.eql(u8, old, root) or std.mem.eql(u8, new, root)) return error.PERM;
    const index = find(old) orelse return error.NOENT;
    if (std.mem.eql(u8, old, new)) return;
    const directory = nodes[index].directory;
    if (directory and new.len > old.len and std.mem.startsWith(u8, new, old) and
        new[old.len] == '/') return error.INVAL; // into itself
    try parent_check(new);
    // Every new name is checked before anything changes: a rename is whole or not at all.
    if (new.len + longest_below(old) - old.len >= @sizeOf(path.Buffer)) return error.NAMETOOLONG;
    if (find(new)) |target| {
        if (nodes[target].directory != directory) {
            return if (directory) error.NOTDIR else error.ISDIR;
        }
        try remove(new, directory);
    }
    for (&nodes) |*node| {
        if (!node.used or !node.linked) continue;
        const name = node.name();
        const inside = name.len > old.len and std.mem.startsWith(u8, name, old) and
            name[old.len] == '/';
        if (!std.mem.eql(u8, name, old) and !inside) continue;
        const rest_length = name.len - old.len;
        assert(new.len + rest_length < node.path.len);
        std.mem.copyBackwards(u8, node.path[new.len..][0..rest_length], name[old.len..]);
        @memcpy(node.path[0..new.len], new);
        node.path_length = @intCast(new.len + rest_length);
    }
}

/// The longest name among `name` and the nodes below it.
fn longest_below(name: []const u8) usize {
    var longest: usize = name.len;
    for (&nodes) |*node| {
        if (!node.used or !node.linked) continue;
        const child = node.name();
        const inside = child.len > name.len and std.mem.startsWith(u8, child, name) and
            child[name.len] == '/';
        if (inside) longest = @max(longest, child.len);
    }
    return longest;
}

/// One entry of a /tmp directory from `cursor` (0 first): its name and kind, and the cursor of
/// the next; null when none is left.
pub const Entry = struct { name: []const u8, directory: bool, next: u32 };

pub fn list(directory: []const u8, cursor: u32) ?Entry {
    var index: u32 = cursor;
    while (index < nodes.len) : (index += 1) {
        const node = &nodes[index];
        if (!node.used or !node.linked) continue;
        const name = node.name();
        if (name.len <= directory.len + 1 or !std.mem.startsWith(u8, name, directory)) continue;
        if (name[directory.len] != '/') continue;
        const rest = name[directory.len + 1 ..];
        if (std.mem.indexOfScalar(u8, rest, '/') != null) continue;
        return .{ .name = rest, .directory = node.directory, .next = index + 1 };
    }
    return null;
}

test "create, write, read, truncate, unlink while open" {
    // Host test: the node table only (no mem.alloc): a directory tree.
    try make_directory("tmp/a", 0o755);
    try std.testing.expectError(error.EXIST, make_directory("tmp/a", 0o755));
    try std.testing.expectError(error.NOENT, make_directory("tmp/x/y", 0o755));
    try make_directory("tmp/a/b", 0o755);
    try std.testing.expectEqual(.directory, kind_of("tmp/a/b").?);
    try std.testing.expectError(error.NOTEMPTY, remove("tmp/a", true));
    try rename("tmp/a", "tmp/c");
    try std.testing.expect(kind_of("tmp/a/b") == null);
    try std.testing.expectEqual(.directory, kind_of("tmp/c/b").?);
    const first = list("tmp", 0).?;
    try std.testing.expectEqualStrings("c", first.name);
    try std.testing.expect(list("tmp", first.next) == null);
    try std.testing.expectEqualStrings("b", list("tmp/c", 0).?.name);
    try std.testing.expectError(error.INVAL, rename("tmp/c", "tmp/c/b/d"));
    try remove("tmp/c/b", true);
    try remove("tmp/c", true);
    try std.testing.expect(list("tmp", 0) == null);
    try std.testing.expect(owns("tmp") and owns("tmp/x") and !owns("tmpx") and !owns("lib"));
}

test "a rename whose new names would be too long changes nothing" {
    try make_directory("tmp/r", 0o755);
    const long = "tmp/r/" ++ "x" ** 240;
    const flags: OpenFlags =
        .{ .create = true, .exclusive = true, .truncate = false, .anonymous = false };
    const index = try open(long, flags);
    release(index);
    const target = "tmp/" ++ "y" ** 20;
    try std.testing.expectError(error.NAMETOOLONG, rename("tmp/r", target));
    try std.testing.expectEqual(.directory, kind_of("tmp/r").?);
    try std.testing.expectEqual(.file, kind_of(long).?);
    try std.testing.expect(find(target) == null);
    try remove(long, false);
    try remove("tmp/r", true);
}

test "a size past the limit is ENOSPC, never an overflow (fallocate or ftruncate to 2^64 - 1)" {
    const flags: OpenFlags =
        .{ .create = true, .exclusive = true, .truncate = false, .anonymous = false };
    const index = try open("tmp/huge", flags);
    try std.testing.expectError(error.NOSPC, truncate(index, std.math.maxInt(u64)));
    try std.testing.expectError(error.NOSPC, truncate(index, constants.tmp_bytes_max + 1));
    try std.testing.expectError(error.NOSPC, write_at(index, "x", std.math.maxInt(u64) - 1));
    try remove("tmp/huge", false);
    release(index);
    try std.testing.expect(find("tmp/huge") == null);
}
