//! The root filesystem, read-only: open/openat, stat and friends, getdents64, access,
//! readlink, getcwd/chdir, over io.stat, io.open, io.read_at and io.list (ABI 0.3.0). Paths are
//! normalised against the working directory (path.zig). Kernel file handles are cached by path
//! and shared by every fd on that file (io.read_at is positional; each fd keeps its own
//! offset), and kept after the last close for the next open.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const fd = @import("fd.zig");
const io = @import("io.zig");
const linux = @import("linux.zig");
const path = @import("path.zig");
const process = @import("process.zig");
const tmpfs = @import("tmpfs.zig");
const uk = @import("uk.zig");

const Error = errno.Error;
const fail = errno.fail;

const CachedFile = struct {
    handle: u32 = fd.handle_none,
    /// A file the layer provides itself (`builtin_files`): its bytes; handle is then
    /// handle_builtin and no kernel handle is held.
    data: ?[]const u8 = null,
    size: u64 = 0,
    mode: u32 = 0,
    references: u16 = 0,
    last_use: u64 = 0,
    path_length: u16 = 0,
    path: path.Buffer = undefined,

    fn name(file: *const CachedFile) []const u8 {
        return file.path[0..file.path_length];
    }
};

const Directory = struct {
    used: bool = false,
    path_length: u16 = 0,
    path: path.Buffer = undefined,
};

var cache: [constants.files_cached_max]CachedFile =
    [_]CachedFile{.{}} ** constants.files_cached_max;
var directories: [constants.directories_max]Directory =
    [_]Directory{.{}} ** constants.directories_max;
var uses: u64 = 0;
var cwd: path.Buffer = undefined;
var cwd_length: u16 = 0;
/// "/" + argv[0] (the kernel gives the entry's rootfs path), what /proc/self/exe reads.
pub var executable: path.Buffer = undefined;
pub var executable_length: u16 = 0;

pub const Kind = enum { file, directory, null_device, random_device };

/// Files the layer provides when the image has none at that path: /etc/hosts, so that musl's
/// getaddrinfo resolves "localhost" from it (without it musl asks a DNS server at 127.0.0.1
/// and waits out its timeout). IPv4 only: sockets are AF_INET only.
const builtin_files = [_]struct { path: []const u8, data: []const u8 }{
    .{ .path = "etc/hosts", .data = "127.0.0.1\tlocalhost\n" },
};
const handle_builtin: u32 = std.math.maxInt(u32);

fn builtin_data(name: []const u8) ?[]const u8 {
    for (builtin_files) |file| {
        if (std.mem.eql(u8, file.path, name)) return file.data;
    }
    return null;
}

pub const Found = struct { kind: Kind, size: u64, mode: u32 };

/// A path argument resolved against `dirfd` (AT_FDCWD: the working directory) into `out`.
pub fn resolve_at(dirfd: i32, pointer: u64, out: *path.Buffer) Error![]const u8 {
    if (pointer == 0) return error.FAULT;
    const input = uk.string(pointer, constants.path_bytes_max) orelse return error.NAMETOOLONG;
    var base: []const u8 = cwd[0..cwd_length];
    if (input.len > 0 and input[0] != '/' and dirfd != linux.at_fdcwd) {
        const description = uk.fds.get(dirfd) catch return error.BADF;
        const slot = switch (description.object) {
            .directory => |directory| directory.slot,
            else => return error.NOTDIR,
        };
        base = directories[slot].path[0..directories[slot].path_length];
    }
    return path.resolve(base, input, out) catch |err| switch (err) {
        error.Empty => error.NOENT,
        error.NameTooLong => error.NAMETOOLONG,
    };
}

/// What a rootfs path names: a device this layer provides, /tmp, or io.stat's answer.
pub fn lookup(name: []const u8) Error!Found {
    if (tmpfs.owns(name)) {
        const kind = tmpfs.kind_of(name) orelse return error.NOENT;
        if (std.mem.eql(u8, name, tmpfs.root)) {
            return .{ .kind = .directory, .size = 0, .mode = 0o777 };
        }
        const node = tmpfs.find(name).?;
        const mode = tmpfs.node_mode(node);
        if (kind == .directory) return .{ .kind = .directory, .size = 0, .mode = mode };
        return .{ .kind = .file, .size = tmpfs.node_size(node), .mode = mode };
    }
    if (std.mem.eql(u8, name, "dev/null")) {
        return .{ .kind = .null_device, .size = 0, .mode = 0o666 };
    }
    if (std.mem.eql(u8, name, "dev/urandom") or std.mem.eql(u8, name, "dev/random")) {
        return .{ .kind = .random_device, .size = 0, .mode = 0o444 };
    }
    if (std.mem.eql(u8, name, "dev")) return .{ .kind = .directory, .size = 0, .mode = 0o555 };
    for (&cache) |*file| {
        if (file.handle != fd.handle_none and std.mem.eql(u8, file.name(), name)) {
            return .{ .kind = .file, .size = file.size, .mode = file.mode };
        }
    }
    var stat: abi.FileStat = undefined;
    const result = uk.table.io_stat(name.ptr, name.len, &stat);
    if (result < 0) {
        if (errno.is(result, .not_found)) if (builtin_data(name)) |data| {
            return .{ .kind = .file, .size = data.len, .mode = 0o444 };
        };
        return errno.of_result(result);
    }
    const kind: Kind = if (stat.kind == 2) .directory else .file;
    const mode_default: u32 = if (kind == .directory) 0o555 else 0o444;
    const mode = if (stat.mode & 0o7777 != 0) stat.mode & 0o7777 else mode_default;
    return .{ .kind = kind, .size = stat.size, .mode = mode };
}

/// Whether a path argument ends in `/` (or `/.`): then it must name a directory.
fn trailing_slash(pointer: u64) bool {
    const input = uk.string(pointer, constants.path_bytes_max) orelse return false;
    return std.mem.endsWith(u8, input, "/") or std.mem.endsWith(u8, input, "/.");
}

/// open and openat; `mode` is the permission bits of a file O_CREAT makes (in /tmp).
fn open_at(dirfd: i32, pointer: u64, flags: u32, mode: u64) i64 {
    var buffer: path.Buffer = undefined;
    const name = resolve_at(dirfd, pointer, &buffer) catch |e| return fail(e);
    if (trailing_slash(pointer)) {
        // A directory is meant: a file there is ENOTDIR, creating one EISDIR (as Linux).
        const found = lookup(name) catch |e| {
            if (e == error.NOENT and flags & linux.o_creat != 0) return fail(error.ISDIR);
            return fail(e);
        };
        if (found.kind != .directory) return fail(error.NOTDIR);
    }
    if (tmpfs.owns(name)) return open_memory(name, flags, process.creation_mode(mode));
    const writing = flags & linux.o_accmode != 0 or flags & (linux.o_trunc | linux.o_append) != 0;
    const found = lookup(name) catch |e| {
        if (e == error.NOENT and flags & linux.o_creat != 0) return fail(error.ROFS);
        return fail(e);
    };
    if (flags & linux.o_creat != 0 and flags & linux.o_excl != 0) return fail(error.EXIST);
    if (flags & linux.o_tmpfile == linux.o_tmpfile) return fail(error.ROFS);
    const device = found.kind == .null_device or found.kind == .random_device;
    if (device and flags & linux.o_directory != 0) return fail(error.NOTDIR);
    const object: fd.Object = switch (found.kind) {
        .null_device => .null_device,
        .random_device => .random_device,
        .directory => blk: {
            if (writing) return fail(error.ISDIR);
            break :blk .{ .directory = .{ .slot = directory_take(name) catch |e| return fail(e) } };
        },
        .file => blk: {
            if (flags & linux.o_directory != 0) return fail(error.NOTDIR);
            if (writing) return fail(error.ROFS);
            break :blk .{ .file = .{ .file = file_take(name, found) catch |e| return fail(e) } };
        },
    };
    const nonblocking = flags & linux.o_nonblock != 0;
    const cloexec = flags & linux.o_cloexec != 0;
    const new_fd = uk.fds.open(object, nonblocking, cloexec, 0) catch {
        release(object);
        return fail(error.MFILE);
    };
    return new_fd;
}

fn directory_take(name: []const u8) Error!u16 {
    for (&directories, 0..) |*directory, index| {
        if (directory.used) continue;
        directory.* = .{ .used = true, .path_length = @intCast(name.len) };
        @memcpy(directory.path[0..name.len], name);
        return @intCast(index);
    }
    return error.MFILE;
}

/// A cache slot holding an open kernel handle for `name` (a file `lookup` found), with one
/// more reference.
fn file_take(name: []const u8, found: Found) Error!u16 {
    uses += 1;
    for (&cache, 0..) |*file, index| {
        if (file.handle == fd.handle_none or !std.mem.eql(u8, file.name(), name)) continue;
        file.references += 1;
        file.last_use = uses;
        return @intCast(index);
    }
    const slot = cache_slot() orelse return error.MFILE;
    const builtin = builtin_data(name);
    var result: i64 = handle_builtin;
    if (builtin == null) result = uk.table.io_open(name.ptr, name.len, 0);
    if (errno.is(result, .limit_reached) or errno.is(result, .no_memory)) {
        assert(builtin == null);
        evict_idle();
        result = uk.table.io_open(name.ptr, name.len, 0);
    }
    if (result < 0) return errno.of_result(result);
    const file = &cache[slot];
    assert(file.handle == fd.handle_none);
    file.* = .{
        .handle = @intCast(result),
        .data = builtin,
        .size = found.size,
        .mode = found.mode,
        .references = 1,
        .last_use = uses,
        .path_length = @intCast(name.len),
    };
    @memcpy(file.path[0..name.len], name);
    return slot;
}

/// A free cache slot, or the least recently used idle one (its handle closed); null when every
/// slot is referenced by an open fd.
fn cache_slot() ?u16 {
    var oldest: ?u16 = null;
    for (&cache, 0..) |*file, index| {
        if (file.handle == fd.handle_none) return @intCast(index);
        if (file.references > 0) continue;
        if (oldest == null or file.last_use < cache[oldest.?].last_use) oldest = @intCast(index);
    }
    const slot = oldest orelse return null;
    if (cache[slot].data == null) _ = uk.table.io_close(cache[slot].handle);
    cache[slot] = .{};
    return slot;
}

/// Closes every cached handle no fd uses (the kernel's file table or memory ran short).
pub fn evict_idle() void {
    for (&cache) |*file| {
        if (file.handle == fd.handle_none or file.references > 0) continue;
        if (file.data == null) _ = uk.table.io_close(file.handle);
        file.* = .{};
    }
}

/// Called when a file or directory description's last fd closes.
pub fn release(object: fd.Object) void {
    switch (object) {
        .file => |file| {
            assert(cache[file.file].references > 0);
            cache[file.file].references -= 1;
        },
        .directory => |directory| {
            assert(directories[directory.slot].used);
            directories[directory.slot] = .{};
        },
        .memory => |file| tmpfs.release(file.node),
        else => {},
    }
}

/// A stable inode number for a rootfs path (FNV-1a; never 0).
pub fn inode(name: []const u8) u64 {
    return std.hash.Fnv1a_64.hash(name) | 1;
}

/// The inode number stat reports for a path: a /tmp file's is its node's, as fstat says
/// (shutil.rmtree compares the two).
pub fn inode_of_path(name: []const u8) u64 {
    if (tmpfs.owns(name)) {
        if (tmpfs.find(name)) |node| {
            if (tmpfs.kind_of(name) == .file) return 3 + @as(u64, node);
        }
    }
    return inode(name);
}

/// struct stat for what `lookup` found (times are 0: the image carries none).
pub fn stat_fill(stat: *align(1) linux.Stat, found: Found, ino: u64) void {
    const format: u32 = switch (found.kind) {
        .file => linux.s_ifreg,
        .directory => linux.s_ifdir,
        .null_device, .random_device => linux.s_ifchr,
    };
    stat.* = std.mem.zeroes(linux.Stat);
    stat.dev = 1;
    stat.ino = ino;
    stat.nlink = if (found.kind == .directory) 2 else 1;
    stat.mode = format | found.mode;
    stat.size = @intCast(found.size);
    stat.blksize = @intCast(constants.page_bytes);
    stat.blocks = @intCast(std.math.divCeil(u64, found.size, 512) catch unreachable);
    assert(stat.mode & linux.s_ifmt == format);
}

/// A struct stat for a file or directory description (fstat).
pub fn stat_object(object: fd.Object) Found {
    return switch (object) {
        .file => |file| .{
            .kind = .file,
            .size = cache[file.file].size,
            .mode = cache[file.file].mode,
        },
        .directory => .{ .kind = .directory, .size = 0, .mode = 0o555 },
        .memory => |file| .{
            .kind = .file,
            .size = tmpfs.node_size(file.node),
            .mode = tmpfs.node_mode(file.node),
        },
        .null_device => .{ .kind = .null_device, .size = 0, .mode = 0o666 },
        .random_device => .{ .kind = .random_device, .size = 0, .mode = 0o444 },
        else => unreachable,
    };
}

pub fn inode_object(object: fd.Object) u64 {
    return switch (object) {
        .file => |file| inode(cache[file.file].name()),
        .directory => |directory| inode(directory_path(directory.slot)),
        .memory => |file| 3 + @as(u64, file.node),
        else => 2,
    };
}

fn directory_path(slot: u16) []const u8 {
    assert(directories[slot].used);
    return directories[slot].path[0..directories[slot].path_length];
}

/// read(2) on a file: io.read_at at the description's offset, which then moves.
pub fn read(description: *fd.Description, buffer: []u8) Error!u64 {
    const file = &description.object.file;
    const count = try read_at(file.file, buffer, file.offset);
    file.offset += count;
    return count;
}

/// pread64: positional, the offset stays.
pub fn read_at(slot: u16, buffer: []u8, offset: u64) Error!u64 {
    const cached = &cache[slot];
    assert(cached.references > 0);
    if (offset >= cached.size or buffer.len == 0) return 0;
    if (cached.data) |data| {
        const count = @min(buffer.len, data.len - offset);
        @memcpy(buffer[0..count], data[offset..][0..count]);
        return count;
    }
    // io.read_at takes at most write_bytes_max; a read(2) may return fewer bytes than asked.
    const length = @min(buffer.len, abi.write_bytes_max);
    return errno.check(uk.table.io_read_at(cached.handle, buffer.ptr, length, offset));
}

/// The new offset of an lseek from `current` in a file of `size` bytes.
fn seek_target(current: u64, size: u64, offset: i64, whence: u32) Error!u64 {
    const base: u64 = switch (whence) {
        linux.seek_set => 0,
        linux.seek_cur => current,
        linux.seek_end => size,
        else => return error.INVAL,
    };
    const target = std.math.add(i64, @intCast(base), offset) catch return error.INVAL;
    if (target < 0) return error.INVAL;
    return @intCast(target);
}

/// lseek on a file (SEEK_SET/CUR/END) or a directory (only back to 0: rewinddir).
pub fn seek(description: *fd.Description, offset: i64, whence: u32) Error!u64 {
    switch (description.object) {
        .file => |*file| {
            file.offset = try seek_target(file.offset, cache[file.file].size, offset, whence);
            return file.offset;
        },
        .memory => |*file| {
            const size = tmpfs.node_size(file.node);
            file.offset = try seek_target(file.offset, size, offset, whence);
            return file.offset;
        },
        .directory => |*directory| {
            if (whence != linux.seek_set or offset != 0) return error.INVAL;
            directory.* = .{ .slot = directory.slot };
            return 0;
        },
        else => return error.SPIPE,
    }
}

fn image_has_tmp() bool {
    var stat: abi.FileStat = undefined;
    return uk.table.io_stat(tmpfs.root.ptr, tmpfs.root.len, &stat) == 0;
}

/// d_ino of `name` in the directory `dir_path` ("." and ".." included): the st_ino stat gives
/// for its path, which os.DirEntry.inode() promises.
fn entry_inode(dir_path: []const u8, name: []const u8) u64 {
    if (std.mem.eql(u8, name, ".")) return inode_of_path(dir_path);
    if (std.mem.eql(u8, name, "..")) {
        const slash = std.mem.lastIndexOfScalar(u8, dir_path, '/') orelse 0;
        return inode_of_path(dir_path[0..slash]);
    }
    var buffer: path.Buffer = undefined;
    const separator: usize = @intFromBool(dir_path.len > 0);
    const length = dir_path.len + separator + name.len;
    if (length > buffer.len) return inode(name) +% inode(dir_path);
    @memcpy(buffer[0..dir_path.len], dir_path);
    if (separator == 1) buffer[dir_path.len] = '/';
    @memcpy(buffer[dir_path.len + separator ..][0..name.len], name);
    return inode_of_path(buffer[0..length]);
}

const dirent_header_bytes: usize = 19; // d_ino 8, d_off 8, d_reclen 2, d_type 1

/// Writes one linux_dirent64 at `buffer[offset..]`; false when it does not fit.
fn dirent_put(buffer: []u8, offset: *usize, ino: u64, next: u64, kind: u8, name: []const u8) bool {
    const record = std.mem.alignForward(usize, dirent_header_bytes + name.len + 1, 8);
    if (buffer.len - offset.* < record) return false;
    const out = buffer[offset.*..][0..record];
    @memset(out, 0);
    std.mem.writeInt(u64, out[0..8], ino, .little);
    std.mem.writeInt(u64, out[8..16], next, .little);
    std.mem.writeInt(u16, out[16..18], @intCast(record), .little);
    out[18] = kind;
    @memcpy(out[dirent_header_bytes..][0..name.len], name);
    offset.* += record;
    return true;
}

/// getdents64: `.` and `..`, then io.list's entries from the description's cursor, as many as
/// fit; 0 at the end. EINVAL when not even one entry fits.
pub fn getdents(description: *fd.Description, buffer: []u8) Error!u64 {
    const directory = switch (description.object) {
        .directory => |*directory| directory,
        else => return error.NOTDIR,
    };
    const dir_path = directory_path(directory.slot);
    var written: usize = 0;
    var rounds: usize = 0;
    while (rounds <= buffer.len / 24 + 2) : (rounds += 1) {
        if (directory.dots < 2) {
            const name = if (directory.dots == 0) "." else "..";
            const ino = entry_inode(dir_path, name);
            const next: u64 = directory.dots + 1;
            if (!dirent_put(buffer, &written, ino, next, linux.dt_dir, name)) break;
            directory.dots += 1;
            continue;
        }
        if (directory.done) break;
        if (tmpfs.owns(dir_path)) {
            const found = tmpfs.list(dir_path, directory.cursor) orelse {
                directory.done = true;
                break;
            };
            const kind = if (found.directory) linux.dt_dir else linux.dt_reg;
            const ino = entry_inode(dir_path, found.name);
            if (!dirent_put(buffer, &written, ino, found.next + 2, kind, found.name)) break;
            directory.cursor = found.next;
            continue;
        }
        var entry: abi.DirEntry = undefined;
        const next = uk.table.io_list(dir_path.ptr, dir_path.len, directory.cursor, &entry);
        if (next < 0) {
            if (written > 0) break;
            return errno.of_result(next);
        }
        if (next == 0) {
            // The root lists /tmp last when the image has none of its own (dots 3: listed).
            if (dir_path.len == 0 and directory.dots == 2 and !image_has_tmp()) {
                const ino = inode(tmpfs.root);
                if (!dirent_put(buffer, &written, ino, 1 << 31, linux.dt_dir, tmpfs.root)) break;
                directory.dots = 3;
            }
            directory.done = true;
            break;
        }
        const name = entry.name[0..@min(entry.name_bytes, entry.name.len)];
        const kind = if (entry.kind == 2) linux.dt_dir else linux.dt_reg;
        const ino = entry_inode(dir_path, name);
        if (!dirent_put(buffer, &written, ino, @intCast(next + 2), kind, name)) break;
        directory.cursor = @intCast(next);
    }
    if (written == 0 and !directory.done) return error.INVAL;
    return written;
}

// ---- System calls -----------------------------------------------------------------------------

pub fn sys_open(a: linux.Args) i64 {
    return open_at(linux.at_fdcwd, a[0], @truncate(a[1]), a[2]);
}

pub fn sys_openat(a: linux.Args) i64 {
    return open_at(uk.int(a[0]), a[1], @truncate(a[2]), a[3]);
}

/// creat: open(path, O_CREAT | O_WRONLY | O_TRUNC); only /tmp is writable.
pub fn sys_creat(a: linux.Args) i64 {
    return open_at(linux.at_fdcwd, a[0], linux.o_creat | 1 | linux.o_trunc, a[1]);
}

fn stat_path(dirfd: i32, pointer: u64, out: u64) i64 {
    const stat = uk.object(linux.Stat, out) orelse return fail(error.FAULT);
    var buffer: path.Buffer = undefined;
    const name = resolve_at(dirfd, pointer, &buffer) catch |e| return fail(e);
    const found = lookup(name) catch |e| return fail(e);
    if (found.kind == .file and trailing_slash(pointer)) return fail(error.NOTDIR);
    stat_fill(stat, found, inode_of_path(name));
    return 0;
}

/// stat and lstat (the image has no symbolic links).
pub fn sys_stat(a: linux.Args) i64 {
    return stat_path(linux.at_fdcwd, a[0], a[1]);
}

/// newfstatat: a path against dirfd, or with AT_EMPTY_PATH and "" the fd itself.
pub fn sys_newfstatat(a: linux.Args) i64 {
    const flags: u32 = @truncate(a[3]);
    const empty = a[1] != 0 and @as(*const u8, @ptrFromInt(a[1])).* == 0;
    if (flags & linux.at_empty_path != 0 and empty) {
        return io.fstat_fd(uk.int(a[0]), a[2]);
    }
    return stat_path(uk.int(a[0]), a[1], a[2]);
}

/// statx: the same facts as stat, in struct statx (STATX_BASIC_STATS).
pub fn sys_statx(a: linux.Args) i64 {
    const out = uk.object(linux.Statx, a[4]) orelse return fail(error.FAULT);
    var stat: linux.Stat = undefined;
    const result = sys_newfstatat(.{ a[0], a[1], @intFromPtr(&stat), a[2], 0, 0 });
    if (result < 0) return result;
    out.* = std.mem.zeroes(linux.Statx);
    out.mask = 0x7ff; // STATX_BASIC_STATS
    out.blksize = @intCast(stat.blksize);
    out.nlink = @intCast(stat.nlink);
    out.mode = @intCast(stat.mode);
    out.ino = stat.ino;
    out.size = @intCast(stat.size);
    out.blocks = @intCast(stat.blocks);
    out.dev_major = 0;
    out.dev_minor = @intCast(stat.dev);
    return 0;
}

fn access_at(dirfd: i32, pointer: u64, mode: u32) i64 {
    var buffer: path.Buffer = undefined;
    const name = resolve_at(dirfd, pointer, &buffer) catch |e| return fail(e);
    const found = lookup(name) catch |e| return fail(e);
    const writable = found.kind == .null_device or tmpfs.owns(name);
    if (mode & 2 != 0 and !writable) return fail(error.ROFS); // W_OK
    if (mode & 1 != 0 and found.kind != .directory and found.mode & 0o111 == 0) {
        return fail(error.ACCES); // X_OK
    }
    return 0;
}

pub fn sys_access(a: linux.Args) i64 {
    return access_at(linux.at_fdcwd, a[0], @truncate(a[1]));
}

/// faccessat and faccessat2 (the flags change nothing without users or links).
pub fn sys_faccessat(a: linux.Args) i64 {
    return access_at(uk.int(a[0]), a[1], @truncate(a[2]));
}

fn readlink_at(dirfd: i32, pointer: u64, out: u64, size: u64) i64 {
    var buffer: path.Buffer = undefined;
    const name = resolve_at(dirfd, pointer, &buffer) catch |e| return fail(e);
    if (std.mem.eql(u8, name, "proc/self/exe") and executable_length > 0) {
        if (@as(i64, @bitCast(size)) <= 0) return fail(error.INVAL); // as Linux
        const target = uk.bytes(out, size) orelse return fail(error.FAULT);
        const count = @min(target.len, executable_length);
        @memcpy(target[0..count], executable[0..count]);
        return @intCast(count);
    }
    _ = lookup(name) catch |e| return fail(e);
    return fail(error.INVAL); // Exists, and is not a symbolic link.
}

pub fn sys_readlink(a: linux.Args) i64 {
    return readlink_at(linux.at_fdcwd, a[0], a[1], a[2]);
}

pub fn sys_readlinkat(a: linux.Args) i64 {
    return readlink_at(uk.int(a[0]), a[1], a[2], a[3]);
}

/// getcwd: "/" + the working directory; returns the length with the NUL.
pub fn sys_getcwd(a: linux.Args) i64 {
    const out = uk.bytes(a[0], a[1]) orelse return fail(error.FAULT);
    const length: usize = cwd_length + 1;
    if (out.len < length + 1) return fail(error.RANGE);
    out[0] = '/';
    @memcpy(out[1..length], cwd[0..cwd_length]);
    out[length] = 0;
    return @intCast(length + 1);
}

fn change_directory(name: []const u8) i64 {
    const found = lookup(name) catch |e| return fail(e);
    if (found.kind != .directory) return fail(error.NOTDIR);
    @memcpy(cwd[0..name.len], name);
    cwd_length = @intCast(name.len);
    return 0;
}

pub fn sys_chdir(a: linux.Args) i64 {
    var buffer: path.Buffer = undefined;
    const name = resolve_at(linux.at_fdcwd, a[0], &buffer) catch |e| return fail(e);
    return change_directory(name);
}

pub fn sys_fchdir(a: linux.Args) i64 {
    const description = uk.fds.get(uk.int(a[0])) catch return fail(error.BADF);
    return switch (description.object) {
        .directory => |directory| change_directory(directory_path(directory.slot)),
        else => fail(error.NOTDIR),
    };
}

/// Every call that would change the file system: the image is read-only.
pub fn sys_read_only(a: linux.Args) i64 {
    _ = a;
    return fail(error.ROFS);
}

// ---- /tmp (tmpfs.zig) -------------------------------------------------------------------------

fn install(object: fd.Object, flags: u32) i64 {
    const nonblocking = flags & linux.o_nonblock != 0;
    const cloexec = flags & linux.o_cloexec != 0;
    const new_fd = uk.fds.open(object, nonblocking, cloexec, 0) catch {
        io.release(object);
        return fail(error.MFILE);
    };
    return new_fd;
}

/// open in /tmp: files are created, truncated and written; directories open as directory fds.
fn open_memory(name: []const u8, flags: u32, mode: u32) i64 {
    const access = flags & linux.o_accmode;
    const anonymous = flags & linux.o_tmpfile == linux.o_tmpfile;
    const kind = tmpfs.kind_of(name);
    if (kind == .directory and !anonymous) {
        if (flags & linux.o_creat != 0 and flags & linux.o_excl != 0) return fail(error.EXIST);
        if (access != 0) return fail(error.ISDIR);
        const slot = directory_take(name) catch |e| return fail(e);
        return install(.{ .directory = .{ .slot = slot } }, flags);
    }
    if (kind == .file and flags & linux.o_directory != 0) return fail(error.NOTDIR);
    const node = tmpfs.open(name, .{
        .create = flags & linux.o_creat != 0,
        .exclusive = flags & linux.o_excl != 0,
        .truncate = flags & linux.o_trunc != 0 and access != 0,
        .anonymous = anonymous,
        .mode = mode,
    }) catch |e| return fail(e);
    return install(.{
        .memory = .{
            .node = node,
            .writable = access != 0,
            .append = flags & linux.o_append != 0,
            .readable = access != 1, // O_WRONLY
        },
    }, flags);
}

/// read(2) and write(2) on a /tmp file, at the description's offset (the end, with O_APPEND).
pub fn memory_read(description: *fd.Description, buffer: []u8) Error!u64 {
    const file = &description.object.memory;
    if (!file.readable) return error.BADF; // opened O_WRONLY
    const count = tmpfs.read_at(file.node, buffer, file.offset);
    file.offset += count;
    return count;
}

pub fn memory_write(description: *fd.Description, data: []const u8) Error!u64 {
    const file = &description.object.memory;
    if (!file.writable) return error.BADF;
    if (file.append) file.offset = tmpfs.node_size(file.node);
    const count = try tmpfs.write_at(file.node, data, file.offset);
    file.offset += count;
    return count;
}

fn path_of(pointer: u64, dirfd: i32, buffer: *path.Buffer) Error![]const u8 {
    return resolve_at(dirfd, pointer, buffer);
}

fn remove_at(dirfd: i32, pointer: u64, directory: bool) i64 {
    var buffer: path.Buffer = undefined;
    const name = path_of(pointer, dirfd, &buffer) catch |e| return fail(e);
    if (!tmpfs.owns(name)) return fail(error.ROFS);
    tmpfs.remove(name, directory) catch |e| return fail(e);
    return 0;
}

pub fn sys_unlink(a: linux.Args) i64 {
    return remove_at(linux.at_fdcwd, a[0], false);
}

pub fn sys_rmdir(a: linux.Args) i64 {
    return remove_at(linux.at_fdcwd, a[0], true);
}

/// unlinkat(dirfd, path, flags): AT_REMOVEDIR (0x200) removes a directory.
pub fn sys_unlinkat(a: linux.Args) i64 {
    return remove_at(uk.int(a[0]), a[1], a[2] & 0x200 != 0);
}

fn make_directory_at(dirfd: i32, pointer: u64, mode: u64) i64 {
    var buffer: path.Buffer = undefined;
    const name = path_of(pointer, dirfd, &buffer) catch |e| return fail(e);
    if (!tmpfs.owns(name)) {
        _ = lookup(name) catch return fail(error.ROFS);
        return fail(error.EXIST);
    }
    tmpfs.make_directory(name, process.creation_mode(mode)) catch |e| return fail(e);
    return 0;
}

pub fn sys_mkdir(a: linux.Args) i64 {
    return make_directory_at(linux.at_fdcwd, a[0], a[1]);
}

pub fn sys_mkdirat(a: linux.Args) i64 {
    return make_directory_at(uk.int(a[0]), a[1], a[2]);
}

fn rename_at(old_dirfd: i32, old_pointer: u64, new_dirfd: i32, new_pointer: u64) i64 {
    var old_buffer: path.Buffer = undefined;
    var new_buffer: path.Buffer = undefined;
    const old = path_of(old_pointer, old_dirfd, &old_buffer) catch |e| return fail(e);
    const new = path_of(new_pointer, new_dirfd, &new_buffer) catch |e| return fail(e);
    const old_owned = tmpfs.owns(old);
    if (old_owned != tmpfs.owns(new)) return fail(if (old_owned) error.XDEV else error.ROFS);
    if (!old_owned) return fail(error.ROFS);
    tmpfs.rename(old, new) catch |e| return fail(e);
    return 0;
}

pub fn sys_rename(a: linux.Args) i64 {
    return rename_at(linux.at_fdcwd, a[0], linux.at_fdcwd, a[1]);
}

/// renameat and renameat2 (flags: RENAME_NOREPLACE is honoured, others refused).
pub fn sys_renameat(a: linux.Args) i64 {
    const flags: u32 = @truncate(a[4]);
    if (flags & ~@as(u32, 1) != 0) return fail(error.INVAL);
    if (flags & 1 != 0) {
        var buffer: path.Buffer = undefined;
        const new = path_of(a[3], uk.int(a[2]), &buffer) catch |e| return fail(e);
        if (lookup(new)) |_| return fail(error.EXIST) else |_| {}
    }
    return rename_at(uk.int(a[0]), a[1], uk.int(a[2]), a[3]);
}

pub fn sys_truncate(a: linux.Args) i64 {
    var buffer: path.Buffer = undefined;
    const name = path_of(a[0], linux.at_fdcwd, &buffer) catch |e| return fail(e);
    if (!tmpfs.owns(name)) return fail(error.ROFS);
    if (@as(i64, @bitCast(a[1])) < 0) return fail(error.INVAL);
    tmpfs.truncate_path(name, a[1]) catch |e| return fail(e);
    return 0;
}

pub fn sys_ftruncate(a: linux.Args) i64 {
    const description = uk.fds.get(uk.int(a[0])) catch return fail(error.BADF);
    if (@as(i64, @bitCast(a[1])) < 0) return fail(error.INVAL);
    return switch (description.object) {
        .memory => |file| blk: {
            if (!file.writable) break :blk fail(error.INVAL);
            tmpfs.truncate(file.node, a[1]) catch |e| break :blk fail(e);
            break :blk 0;
        },
        .file => fail(error.INVAL), // opened read-only
        else => fail(error.INVAL),
    };
}

/// chmod (mode: the new permission bits), chown and utimensat (mode null: accepted, nothing
/// records owners or times): /tmp only, EROFS elsewhere.
fn change_at(dirfd: i32, pointer: u64, mode: ?u32) i64 {
    var buffer: path.Buffer = undefined;
    if (pointer == 0) return 0; // utimensat(fd, NULL, ...): the fd itself
    const name = path_of(pointer, dirfd, &buffer) catch |e| return fail(e);
    _ = lookup(name) catch |e| return fail(e);
    if (!tmpfs.owns(name)) return fail(error.ROFS);
    if (mode) |bits| tmpfs.set_mode(name, bits) catch |e| return fail(e);
    return 0;
}

pub fn sys_chmod(a: linux.Args) i64 {
    return change_at(linux.at_fdcwd, a[0], @truncate(a[1]));
}

pub fn sys_fchmodat(a: linux.Args) i64 {
    return change_at(uk.int(a[0]), a[1], @truncate(a[2]));
}

pub fn sys_chown(a: linux.Args) i64 {
    return change_at(linux.at_fdcwd, a[0], null);
}

/// fchownat, utimensat.
pub fn sys_change_at(a: linux.Args) i64 {
    return change_at(uk.int(a[0]), a[1], null);
}

/// fchmod, fchown: on a /tmp file (fchmod sets its mode), EROFS on the image's.
pub fn sys_fchmod(a: linux.Args) i64 {
    const description = uk.fds.get(uk.int(a[0])) catch return fail(error.BADF);
    return switch (description.object) {
        .memory => |file| blk: {
            tmpfs.set_node_mode(file.node, @truncate(a[1]));
            break :blk 0;
        },
        else => fail(error.ROFS),
    };
}

pub fn sys_fchown(a: linux.Args) i64 {
    const description = uk.fds.get(uk.int(a[0])) catch return fail(error.BADF);
    return switch (description.object) {
        .memory => 0,
        else => fail(error.ROFS),
    };
}

/// mknod, mknodat: no device or FIFO can be made here.
pub fn sys_mknod(a: linux.Args) i64 {
    _ = a;
    return fail(error.PERM);
}

/// struct statfs: /tmp as tmpfs (its limit and what is used), the image as a read-only file
/// system (ST_RDONLY) with nothing free.
fn statfs_fill(out: u64, temporary: bool) i64 {
    const bytes = uk.bytes(out, 120) orelse return fail(error.FAULT);
    @memset(bytes, 0);
    const words: *align(1) [15]i64 = @ptrCast(bytes.ptr);
    const block_bytes: i64 = @intCast(constants.page_bytes);
    const total: i64 = @intCast(constants.tmp_bytes_max / constants.page_bytes);
    const used: i64 = @intCast(tmpfs.bytes_used / constants.page_bytes);
    words[0] = if (temporary) 0x01021994 else 0x73717368; // TMPFS_MAGIC, SQUASHFS_MAGIC
    words[1] = block_bytes;
    words[2] = if (temporary) total else 0;
    words[3] = if (temporary) total - used else 0;
    words[4] = words[3];
    words[8] = 255; // f_namelen
    words[9] = block_bytes; // f_frsize
    words[10] = if (temporary) 0 else 1; // f_flags: ST_RDONLY
    return 0;
}

pub fn sys_statfs(a: linux.Args) i64 {
    var buffer: path.Buffer = undefined;
    const name = path_of(a[0], linux.at_fdcwd, &buffer) catch |e| return fail(e);
    _ = lookup(name) catch |e| return fail(e);
    return statfs_fill(a[1], tmpfs.owns(name));
}

pub fn sys_fstatfs(a: linux.Args) i64 {
    const description = uk.fds.get(uk.int(a[0])) catch return fail(error.BADF);
    const temporary = switch (description.object) {
        .memory => true,
        .directory => |directory| tmpfs.owns(directory_path(directory.slot)),
        else => false,
    };
    return statfs_fill(a[1], temporary);
}
