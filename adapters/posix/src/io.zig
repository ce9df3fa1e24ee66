//! The calls that work on any fd, whatever it names: read/write and their vector and
//! positional forms, close, lseek, fstat, dup/dup2/dup3, fcntl, ioctl, fsync. Each looks up
//! the fd's description and hands the work to the module of its kind (files, sockets, streams).

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const fd = @import("fd.zig");
const files = @import("files.zig");
const linux = @import("linux.zig");
const sockets = @import("sockets.zig");
const streams = @import("streams.zig");
const tmpfs = @import("tmpfs.zig");
const uk = @import("uk.zig");

const Error = errno.Error;
const fail = errno.fail;

/// Releases what a closed description held (its kernel handles, its slot).
pub fn release(object: fd.Object) void {
    switch (object) {
        .free => unreachable,
        .console, .null_device, .random_device => {},
        .file, .directory, .memory => files.release(object),
        .socket => |socket| _ = uk.table.io_close(socket.handle),
        .stream, .eventfd => streams.release(object),
        .adopted => |adopted| if (adopted.owned) {
            _ = uk.table.io_close(adopted.handle);
        },
    }
}

/// read(2) on any description; `nonblocking` adds to the description's own mode (the second
/// and later buffers of a readv must not wait once data arrived).
pub fn read_description(description: *fd.Description, buffer: []u8, nonblocking: bool) Error!u64 {
    const wait = !(nonblocking or description.nonblocking);
    return switch (description.object) {
        .free => unreachable,
        .console => |console| if (console == .input) 0 else error.BADF,
        .null_device => 0,
        .random_device => random_fill(buffer),
        .file => files.read(description, buffer),
        .memory => files.memory_read(description, buffer),
        .directory => error.ISDIR,
        .socket => sockets.receive(description, buffer, wait, false),
        .stream => streams.read(description, buffer, wait, false),
        .eventfd => streams.eventfd_read(description, buffer, wait),
        .adopted => |adopted| errno.check(
            uk.table.ipc_recv(adopted.handle, buffer.ptr, buffer.len, flags_of(wait)),
        ),
    };
}

pub fn write_description(
    description: *fd.Description,
    data: []const u8,
    nonblocking: bool,
) Error!u64 {
    const wait = !(nonblocking or description.nonblocking);
    return switch (description.object) {
        .free => unreachable,
        .console => |console| if (console == .output) console_write(data) else error.BADF,
        .null_device, .random_device => data.len,
        .file, .directory => error.BADF,
        .memory => files.memory_write(description, data),
        .socket => sockets.send(description, data, wait),
        .stream => streams.write(description, data, wait),
        .eventfd => streams.eventfd_write(description, data, wait),
        .adopted => |adopted| blk: {
            const flags = flags_of(wait);
            _ = try errno.check(uk.table.ipc_send(adopted.handle, data.ptr, data.len, flags));
            break :blk data.len;
        },
    };
}

pub fn flags_of(wait: bool) u32 {
    return if (wait) 0 else abi.flag_nonblocking;
}

fn console_write(data: []const u8) u64 {
    uk.console_write(data);
    return data.len;
}

pub fn random_fill(buffer: []u8) Error!u64 {
    if (buffer.len == 0) return 0;
    return errno.check(uk.table.random_fill(buffer.ptr, buffer.len));
}

fn description_of(value: u64) Error!*fd.Description {
    return uk.fds.get(uk.int(value)) catch error.BADF;
}

fn result(value: Error!u64) i64 {
    const count = value catch |e| return fail(e);
    return @intCast(count);
}

pub fn sys_read(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    const buffer = uk.bytes(a[1], a[2]) orelse return fail(error.FAULT);
    return result(read_description(description, buffer, false));
}

pub fn sys_write(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    const data = uk.bytes(a[1], a[2]) orelse return fail(error.FAULT);
    return result(write_description(description, data, false));
}

const iov_max: u64 = 1024;

fn iovecs(pointer: u64, count: u64) Error![]align(1) const linux.Iovec {
    if (count > iov_max) return error.INVAL;
    if (count == 0) return &.{};
    if (pointer == 0) return error.FAULT;
    const start: [*]align(1) const linux.Iovec = @ptrFromInt(pointer);
    const vector = start[0..count];
    // A length past SSIZE_MAX is EINVAL, as Linux (sums below then cannot overflow).
    for (vector) |item| if (item.length > std.math.maxInt(i64)) return error.INVAL;
    return vector;
}

/// readv: fills the buffers in order; stops at a short read. Only the first may wait.
pub fn read_vector(description: *fd.Description, vector: []align(1) const linux.Iovec) Error!u64 {
    var total: u64 = 0;
    for (vector, 0..) |item, index| {
        const buffer = uk.bytes(item.base, item.length) orelse return error.FAULT;
        const count = read_description(description, buffer, index > 0) catch |e| {
            if (total > 0) return total;
            return e;
        };
        total += count;
        if (count < buffer.len) break;
    }
    return total;
}

pub fn write_vector(description: *fd.Description, vector: []align(1) const linux.Iovec) Error!u64 {
    var total: u64 = 0;
    for (vector) |item| {
        const data = uk.bytes(item.base, item.length) orelse return error.FAULT;
        const count = write_description(description, data, false) catch |e| {
            if (total > 0) return total;
            return e;
        };
        total += count;
        if (count < data.len) break;
    }
    return total;
}

pub fn sys_readv(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    const vector = iovecs(a[1], a[2]) catch |e| return fail(e);
    return result(read_vector(description, vector));
}

pub fn sys_writev(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    const vector = iovecs(a[1], a[2]) catch |e| return fail(e);
    return result(write_vector(description, vector));
}

fn positional(description: *fd.Description) Error!u16 {
    return switch (description.object) {
        .file => |file| file.file,
        .directory => error.ISDIR,
        .null_device, .random_device, .console => error.SPIPE,
        else => error.SPIPE,
    };
}

pub fn sys_pread64(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    const buffer = uk.bytes(a[1], a[2]) orelse return fail(error.FAULT);
    if (@as(i64, @bitCast(a[3])) < 0) return fail(error.INVAL);
    switch (description.object) {
        .memory => |file| {
            if (!file.readable) return fail(error.BADF);
            return @intCast(tmpfs.read_at(file.node, buffer, a[3]));
        },
        else => {},
    }
    const slot = positional(description) catch |e| return fail(e);
    return result(files.read_at(slot, buffer, a[3]));
}

/// One buffer of a preadv at `offset`: the image's file (slot) or a /tmp file.
fn read_positional(description: *fd.Description, buffer: []u8, offset: u64) Error!u64 {
    return switch (description.object) {
        .memory => |file| if (file.readable)
            tmpfs.read_at(file.node, buffer, offset)
        else
            error.BADF,
        else => files.read_at(try positional(description), buffer, offset),
    };
}

pub fn sys_preadv(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    const vector = iovecs(a[1], a[2]) catch |e| return fail(e);
    if (@as(i64, @bitCast(a[3])) < 0) return fail(error.INVAL);
    var offset = a[3];
    for (vector) |item| {
        const buffer = uk.bytes(item.base, item.length) orelse return fail(error.FAULT);
        const count = read_positional(description, buffer, offset) catch |e| return fail(e);
        offset += count;
        if (count < buffer.len) break;
    }
    return @intCast(offset - a[3]);
}

/// pwritev: /tmp files only, as pwrite64.
pub fn sys_pwritev(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    const vector = iovecs(a[1], a[2]) catch |e| return fail(e);
    if (@as(i64, @bitCast(a[3])) < 0) return fail(error.INVAL);
    const file = switch (description.object) {
        .memory => |file| file,
        else => {
            _ = positional(description) catch |e| return fail(e);
            return fail(error.BADF);
        },
    };
    if (!file.writable) return fail(error.BADF);
    var offset = a[3];
    for (vector) |item| {
        const data = uk.bytes(item.base, item.length) orelse return fail(error.FAULT);
        offset += tmpfs.write_at(file.node, data, offset) catch |e| return fail(e);
    }
    return @intCast(offset - a[3]);
}

/// fallocate(fd, mode 0, offset, length): a /tmp file grows to offset + length.
pub fn sys_fallocate(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    if (a[1] != 0) return fail(error.OPNOTSUPP);
    // offset and length are off_t: a negative offset or a length <= 0 is EINVAL (as Linux),
    // an end past the largest off_t EFBIG.
    const offset: i64 = @bitCast(a[2]);
    const length: i64 = @bitCast(a[3]);
    if (offset < 0 or length <= 0) return fail(error.INVAL);
    const end = std.math.add(i64, offset, length) catch return fail(error.FBIG);
    return switch (description.object) {
        .memory => |file| blk: {
            if (!file.writable) break :blk fail(error.BADF);
            if (end > tmpfs.node_size(file.node)) {
                tmpfs.truncate(file.node, @intCast(end)) catch |e| break :blk fail(e);
            }
            break :blk 0;
        },
        .file => fail(error.BADF),
        else => fail(error.NODEV),
    };
}

/// pwrite64: /tmp files only (the image's are read-only: EBADF); the offset stays.
pub fn sys_pwrite(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    if (@as(i64, @bitCast(a[3])) < 0) return fail(error.INVAL);
    switch (description.object) {
        .memory => |file| {
            if (!file.writable) return fail(error.BADF);
            const data = uk.bytes(a[1], a[2]) orelse return fail(error.FAULT);
            return result(tmpfs.write_at(file.node, data, a[3]));
        },
        else => {},
    }
    _ = positional(description) catch |e| return fail(e);
    return fail(error.BADF);
}

pub fn sys_close(a: linux.Args) i64 {
    const released = uk.fds.close(uk.int(a[0])) catch return fail(error.BADF);
    if (released) |object| release(object);
    return 0;
}

pub fn sys_lseek(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    return result(files.seek(description, @bitCast(a[1]), @truncate(a[2])));
}

pub fn sys_getdents64(a: linux.Args) i64 {
    const description = description_of(a[0]) catch |e| return fail(e);
    const buffer = uk.bytes(a[1], a[2]) orelse return fail(error.FAULT);
    return result(files.getdents(description, buffer));
}

/// fstat on any fd: files and directories from the rootfs, the rest by kind.
pub fn fstat_fd(fd_number: i32, out: u64) i64 {
    const stat = uk.object(linux.Stat, out) orelse return fail(error.FAULT);
    const description = uk.fds.get(fd_number) catch return fail(error.BADF);
    const format: u32 = switch (description.object) {
        .free => unreachable,
        .file, .directory, .memory, .null_device, .random_device => {
            const object = description.object;
            files.stat_fill(stat, files.stat_object(object), files.inode_object(object));
            return 0;
        },
        .console => linux.s_ifchr,
        .socket => linux.s_ifsock,
        .stream => |stream| if (stream.socket) linux.s_ifsock else linux.s_ififo,
        .eventfd, .adopted => linux.s_ififo,
    };
    stat.* = std.mem.zeroes(linux.Stat);
    stat.dev = 2;
    stat.ino = @intCast(fd_number + 16);
    stat.nlink = 1;
    stat.mode = format | 0o600;
    stat.blksize = @intCast(constants.page_bytes);
    return 0;
}

pub fn sys_fstat(a: linux.Args) i64 {
    return fstat_fd(uk.int(a[0]), a[1]);
}

pub fn sys_fsync(a: linux.Args) i64 {
    _ = description_of(a[0]) catch |e| return fail(e);
    return 0;
}

fn dup_result(value: fd.Error!u32) i64 {
    const new_fd = value catch |e| return fail(switch (e) {
        error.BadFd => error.BADF,
        error.TooManyFds, error.TooManyDescriptions => error.MFILE,
    });
    return new_fd;
}

pub fn sys_dup(a: linux.Args) i64 {
    return dup_result(uk.fds.dup(uk.int(a[0]), 0, false));
}

fn dup_to(old: i32, new: i32, cloexec: bool) i64 {
    const released = uk.fds.dup_to(old, new, cloexec) catch return fail(error.BADF);
    if (released) |object| release(object);
    return new;
}

pub fn sys_dup2(a: linux.Args) i64 {
    const old = uk.int(a[0]);
    _ = uk.fds.get(old) catch return fail(error.BADF);
    return dup_to(old, uk.int(a[1]), false);
}

pub fn sys_dup3(a: linux.Args) i64 {
    const flags: u32 = @truncate(a[2]);
    if (a[0] == a[1] or flags & ~linux.o_cloexec != 0) return fail(error.INVAL);
    return dup_to(uk.int(a[0]), uk.int(a[1]), flags & linux.o_cloexec != 0);
}

/// O_NONBLOCK of a description: FIONBIO and F_SETFL both land here, F_GETFL reads it; a
/// socket's kernel mode follows (net.connect and net.accept wait by it).
pub fn set_nonblocking(description: *fd.Description, nonblocking: bool) Error!void {
    switch (description.object) {
        .socket => |socket| {
            const value: u64 = @intFromBool(nonblocking);
            const option = abi.option_nonblocking;
            _ = try errno.check(uk.table.net_set_option(socket.handle, option, value));
        },
        else => {},
    }
    description.nonblocking = nonblocking;
}

/// O_RDONLY 0, O_WRONLY 1, O_RDWR 2.
fn memory_access(readable: bool, writable: bool) u32 {
    if (!writable) return 0;
    return if (readable) 2 else 1;
}

fn status_flags(description: *const fd.Description) u32 {
    const access: u32 = switch (description.object) {
        .free => unreachable,
        .file, .directory, .random_device => 0, // O_RDONLY
        .memory => |file| memory_access(file.readable, file.writable) |
            (if (file.append) linux.o_append else 0),
        .console => |console| if (console == .input) 0 else 1,
        .stream => |stream| if (stream.socket) 2 else if (stream.send == fd.handle_none) 0 else 1,
        .null_device, .socket, .eventfd, .adopted => 2, // O_RDWR
    };
    return access | if (description.nonblocking) linux.o_nonblock else 0;
}

pub fn sys_fcntl(a: linux.Args) i64 {
    const number = uk.int(a[0]);
    const entry = uk.fds.entry(number) catch return fail(error.BADF);
    const description = uk.fds.get(number) catch return fail(error.BADF);
    const command: u32 = @truncate(a[1]);
    switch (command) {
        linux.f_dupfd, linux.f_dupfd_cloexec => {
            const fd_min: u32 = @truncate(a[2]);
            if (fd_min >= constants.fds_max) return fail(error.INVAL);
            return dup_result(uk.fds.dup(number, fd_min, command == linux.f_dupfd_cloexec));
        },
        linux.f_getfd => return if (entry.cloexec) linux.fd_cloexec else 0,
        linux.f_setfd => entry.cloexec = a[2] & linux.fd_cloexec != 0,
        linux.f_getfl => return status_flags(description),
        linux.f_setfl => set_nonblocking(description, a[2] & linux.o_nonblock != 0) catch |e|
            return fail(e),
        linux.f_getlk => {
            // struct flock starts with l_type: F_UNLCK, nobody else holds a lock.
            const lock = uk.object(i16, a[2]) orelse return fail(error.FAULT);
            lock.* = 2;
        },
        linux.f_setlk, linux.f_setlkw => {},
        1032 => return streams.message_bytes_total, // F_GETPIPE_SZ
        1031 => return streams.message_bytes_total, // F_SETPIPE_SZ: the size stays
        else => return fail(error.INVAL),
    }
    return 0;
}

pub fn sys_ioctl(a: linux.Args) i64 {
    const number = uk.int(a[0]);
    const entry = uk.fds.entry(number) catch return fail(error.BADF);
    const description = uk.fds.get(number) catch return fail(error.BADF);
    switch (@as(u32, @truncate(a[1]))) {
        linux.fionbio => {
            const value = uk.object(i32, a[2]) orelse return fail(error.FAULT);
            set_nonblocking(description, value.* != 0) catch |e| return fail(e);
        },
        linux.fioclex => entry.cloexec = true,
        linux.fionclex => entry.cloexec = false,
        linux.fionread => {
            const value = uk.object(i32, a[2]) orelse return fail(error.FAULT);
            value.* = @intCast(@min(readable_bytes(description), std.math.maxInt(i32)));
        },
        // Not a terminal (musl's isatty asks TIOCGWINSZ), and nothing else applies: ENOTTY,
        // never ENOSYS (CPython turns ENOSYS from FIOCLEX into "can't open file").
        else => return fail(error.NOTTY),
    }
    return 0;
}

fn readable_bytes(description: *fd.Description) u64 {
    return switch (description.object) {
        .file => |file| blk: {
            const size = files.stat_object(description.object).size;
            break :blk if (file.offset < size) size - file.offset else 0;
        },
        .stream => streams.pending(description),
        .memory => |file| tmpfs.node_size(file.node) -| file.offset,
        else => 0,
    };
}

/// sendfile(out, in, offset, count): from a rootfs file (at *offset, which then moves, or at
/// the file's own offset) to any fd, at most 64 KiB per call, through a buffer: asyncio's
/// loop.sendfile would otherwise fall back to a thread.
pub fn sys_sendfile(a: linux.Args) i64 {
    const out = description_of(a[0]) catch |e| return fail(e);
    const in = description_of(a[1]) catch |e| return fail(e);
    const file = switch (in.object) {
        .file => |*file| file,
        else => return fail(error.INVAL),
    };
    const offset_pointer = uk.object(i64, a[2]);
    const offset: u64 = if (offset_pointer) |pointer| blk: {
        if (pointer.* < 0) return fail(error.INVAL);
        break :blk @intCast(pointer.*);
    } else file.offset;
    var buffer: [sendfile_bytes_max]u8 = undefined;
    const wanted = @min(a[3], buffer.len);
    const count = files.read_at(file.file, buffer[0..wanted], offset) catch |e| return fail(e);
    if (count == 0) return 0;
    const written = write_description(out, buffer[0..count], false) catch |e| return fail(e);
    if (offset_pointer) |pointer| pointer.* += @intCast(written) else file.offset += written;
    return @intCast(written);
}

const sendfile_bytes_max: u64 = 65536;

/// flock, fadvise64: one process, and every file is in memory: nothing to do.
pub fn sys_advice(a: linux.Args) i64 {
    _ = description_of(a[0]) catch |e| return fail(e);
    return 0;
}
