//! The file descriptor table. Two levels, as on Linux: an fd names an open file description
//! (what dup and dup2 share: the object, the file offset, O_NONBLOCK), and carries its own
//! FD_CLOEXEC. A description is released when its last fd closes; then the caller releases
//! its object (the kernel handle, the directory slot, ...). Pure code: no ABI calls here.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");

/// No kernel handle (the kernel never hands out 0).
pub const handle_none: u32 = 0;

pub const Console = enum(u8) { input, output };

pub const Object = union(enum) {
    free,
    console: Console,
    /// /dev/null: reads end at once, writes vanish.
    null_device,
    /// /dev/urandom, /dev/random: reads are random.fill.
    random_device,
    /// A rootfs file: `file` indexes the layer's cache of kernel file handles.
    file: struct { file: u16, offset: u64 = 0 },
    /// A file in /tmp (tmpfs.zig): `node` is its node.
    /// `readable` is false for O_WRONLY (reads: EBADF).
    memory: struct {
        node: u16,
        offset: u64 = 0,
        writable: bool,
        append: bool,
        readable: bool = true,
    },
    /// A rootfs directory: `slot` holds its path; getdents64 walks io.list from `cursor` after
    /// the `.` and `..` entries (`dots` of them emitted so far).
    directory: struct { slot: u16, cursor: u32 = 0, dots: u8 = 0, done: bool = false },
    /// A net.* socket.
    socket: Socket,
    /// A byte stream over channels: a socketpair end (both handles) or a pipe end (one).
    stream: Stream,
    /// An eventfd: a counter carried as 8-byte messages on one channel.
    eventfd: struct { channel: u32, semaphore: bool },
    /// An ABI handle given by the adapter (uk_posix_adopt): pollable, read/write one message.
    adopted: struct { handle: u32, owned: bool },
};

pub const Socket = struct {
    handle: u32,
    datagram: bool,
    connecting: bool = false,
    listening: bool = false,
};

pub const Stream = struct {
    receive: u32,
    send: u32,
    /// Index of the receive buffer (streams.zig).
    slot: u16,
    /// A socketpair end (AF_UNIX socket) rather than a pipe end.
    socket: bool,
};

pub const Description = struct {
    object: Object = .free,
    references: u16 = 0,
    nonblocking: bool = false,
};

const Entry = struct {
    /// 1 + the description's index; 0: the fd is free.
    description: u16 = 0,
    cloexec: bool = false,
};

pub const Error = error{ BadFd, TooManyFds, TooManyDescriptions };

pub const Table = struct {
    entries: [constants.fds_max]Entry = [_]Entry{.{}} ** constants.fds_max,
    descriptions: [constants.descriptions_max]Description =
        [_]Description{.{}} ** constants.descriptions_max,

    /// A table with fds 0 (console input), 1 and 2 (console output).
    pub fn init() Table {
        var table: Table = .{};
        _ = table.open(.{ .console = .input }, false, false, 0) catch unreachable;
        _ = table.open(.{ .console = .output }, false, false, 0) catch unreachable;
        _ = table.open(.{ .console = .output }, false, false, 0) catch unreachable;
        return table;
    }

    /// A new description for `object` on the lowest free fd >= `fd_min`; returns the fd.
    pub fn open(
        table: *Table,
        object: Object,
        nonblocking: bool,
        cloexec: bool,
        fd_min: u32,
    ) Error!u32 {
        assert(object != .free);
        const fd = try table.free_fd(fd_min);
        const index = for (table.descriptions, 0..) |description, index| {
            if (description.references == 0) break index;
        } else return error.TooManyDescriptions;
        table.descriptions[index] = .{
            .object = object,
            .references = 1,
            .nonblocking = nonblocking,
        };
        table.entries[fd] = .{ .description = @intCast(index + 1), .cloexec = cloexec };
        return fd;
    }

    /// Whether `open` would find both an fd and a description (checked before an ABI call
    /// whose result must not be lost, such as net.accept).
    pub fn has_room(table: *const Table) bool {
        const fd_free = for (table.entries) |slot| {
            if (slot.description == 0) break true;
        } else false;
        const description_free = for (table.descriptions) |description| {
            if (description.references == 0) break true;
        } else false;
        return fd_free and description_free;
    }

    pub fn get(table: *Table, fd: i64) Error!*Description {
        const found = try table.entry(fd);
        const description = &table.descriptions[found.description - 1];
        assert(description.references > 0);
        assert(description.object != .free);
        return description;
    }

    pub fn entry(table: *Table, fd: i64) Error!*Entry {
        if (fd < 0 or fd >= constants.fds_max) return error.BadFd;
        const found = &table.entries[@intCast(fd)];
        if (found.description == 0) return error.BadFd;
        return found;
    }

    /// Closes `fd`; returns the object when this was its description's last fd (the caller
    /// releases it), null otherwise.
    pub fn close(table: *Table, fd: i64) Error!?Object {
        const found = try table.entry(fd);
        const description = &table.descriptions[found.description - 1];
        found.* = .{};
        assert(description.references > 0);
        description.references -= 1;
        if (description.references > 0) return null;
        const object = description.object;
        description.* = .{};
        return object;
    }

    /// dup / F_DUPFD: a new fd >= fd_min for the same description.
    pub fn dup(table: *Table, fd: i64, fd_min: u32, cloexec: bool) Error!u32 {
        const found = try table.entry(fd);
        const index = found.description;
        const new_fd = try table.free_fd(fd_min);
        table.descriptions[index - 1].references += 1;
        table.entries[new_fd] = .{ .description = index, .cloexec = cloexec };
        return new_fd;
    }

    /// dup2 / dup3: makes `new_fd` name `fd`'s description; returns the object `new_fd` named
    /// if that was its description's last fd (the caller releases it).
    pub fn dup_to(table: *Table, fd: i64, new_fd: i64, cloexec: bool) Error!?Object {
        const found = try table.entry(fd);
        if (new_fd < 0 or new_fd >= constants.fds_max) return error.BadFd;
        if (fd == new_fd) return null;
        const index = found.description;
        table.descriptions[index - 1].references += 1;
        const released = if (table.entries[@intCast(new_fd)].description != 0)
            try table.close(new_fd)
        else
            null;
        table.entries[@intCast(new_fd)] = .{ .description = index, .cloexec = cloexec };
        return released;
    }

    fn free_fd(table: *const Table, fd_min: u32) Error!u32 {
        if (fd_min >= constants.fds_max) return error.TooManyFds;
        var fd = fd_min;
        while (fd < constants.fds_max) : (fd += 1) {
            if (table.entries[fd].description == 0) return fd;
        }
        return error.TooManyFds;
    }
};

test "fds 0-2 are the console; open takes the lowest free fd" {
    var table = Table.init();
    try std.testing.expectEqual(Console.input, (try table.get(0)).object.console);
    try std.testing.expectEqual(Console.output, (try table.get(2)).object.console);
    const fd = try table.open(.null_device, false, true, 0);
    try std.testing.expectEqual(@as(u32, 3), fd);
    try std.testing.expect((try table.entry(3)).cloexec);
    _ = try table.close(1);
    try std.testing.expectEqual(@as(u32, 1), try table.open(.random_device, false, false, 0));
    try std.testing.expectEqual(@as(u32, 4), try table.open(.random_device, false, false, 3));
    try std.testing.expectError(error.BadFd, table.get(-1));
    try std.testing.expectError(error.BadFd, table.get(5));
    try std.testing.expectError(error.BadFd, table.get(constants.fds_max));
}

test "dup shares the description (O_NONBLOCK) but not FD_CLOEXEC; last close releases" {
    var table = Table.init();
    const object: Object = .{ .socket = .{ .handle = 7, .datagram = false } };
    const fd = try table.open(object, false, true, 0);
    const copy = try table.dup(fd, 0, false);
    try std.testing.expect(copy != fd);
    (try table.get(fd)).nonblocking = true;
    try std.testing.expect((try table.get(copy)).nonblocking);
    try std.testing.expect(!(try table.entry(copy)).cloexec);
    try std.testing.expectEqual(@as(?Object, null), try table.close(fd));
    const released = (try table.close(copy)).?;
    try std.testing.expectEqual(@as(u32, 7), released.socket.handle);
    try std.testing.expectError(error.BadFd, table.close(copy));
}

test "dup2 onto an open fd releases what it named; onto itself is a no-op" {
    var table = Table.init();
    const fd = try table.open(.null_device, false, false, 0);
    const released = (try table.dup_to(fd, 1, false)).?;
    try std.testing.expectEqual(Console.output, released.console);
    try std.testing.expect((try table.get(1)).object == .null_device);
    try std.testing.expectEqual(@as(?Object, null), try table.dup_to(fd, fd, false));
    const console = (try table.dup_to(0, 2, false)).?;
    try std.testing.expectEqual(Console.output, console.console);
    try std.testing.expectEqual(Console.input, (try table.get(2)).object.console);
    try std.testing.expectError(error.BadFd, table.dup_to(fd, -3, false));
}

test "the table is bounded: EMFILE when every fd is taken" {
    var table = Table.init();
    var opened: u32 = 3;
    while (opened < constants.fds_max) : (opened += 1) {
        _ = try table.dup(0, 0, false);
    }
    try std.testing.expect(!table.has_room());
    try std.testing.expectError(error.TooManyFds, table.dup(0, 0, false));
    try std.testing.expectError(error.TooManyFds, table.open(.null_device, false, false, 0));
}
