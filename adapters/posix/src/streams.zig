//! Byte streams over IPC channels: socketpair (AF_UNIX, SOCK_STREAM: two channels, one per
//! direction; asyncio's self-pipe), pipe/pipe2 (one channel), eventfd (a counter carried as
//! 8-byte messages), and ABI handles the adapter adopts as fds (uk_posix_adopt). Every channel
//! is closed once by each of its two ends: the first close stops it (the peer reads what is
//! left, then end of stream; its writes get EPIPE), the second releases the handle.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const fd = @import("fd.zig");
const linux = @import("linux.zig");
const stream = @import("stream.zig");
const uk = @import("uk.zig");

const Error = errno.Error;
const fail = errno.fail;

/// What one stream's channel holds (F_GETPIPE_SZ).
pub const message_bytes_total: i64 = constants.stream_message_bytes_max *
    constants.stream_channel_capacity;

var buffers: [constants.streams_max]stream.Buffer = undefined;
var buffers_used = [_]bool{false} ** constants.streams_max;

fn buffer_take() Error!u16 {
    for (&buffers_used, 0..) |*used, index| {
        if (used.*) continue;
        used.* = true;
        buffers[index] = .{};
        return @intCast(index);
    }
    return error.MFILE;
}

fn channel_create(capacity: u32, message_bytes: u32) Error!u32 {
    return @intCast(try errno.check(uk.table.ipc_channel_create(capacity, message_bytes)));
}

/// Closes a channel twice: for an object that is its only user.
fn channel_close_both(channel: u32) void {
    _ = uk.table.io_close(channel);
    _ = uk.table.io_close(channel);
}

/// Closes the channel an end reads. The messages left unread are received and dropped first:
/// the kernel reports a channel closed only once it is drained, and the writer must see it
/// closed (poll, select; Linux: POLLERR, EPIPE). Without this a pipe's writer waited for ever.
fn receive_close(channel: u32) void {
    var scratch: [constants.stream_message_bytes_max]u8 = undefined;
    var rounds: u32 = 0;
    while (rounds < constants.stream_channel_capacity) : (rounds += 1) {
        const flags = abi.flag_nonblocking;
        if (uk.table.ipc_recv(channel, &scratch, scratch.len, flags) < 0) break;
    }
    _ = uk.table.io_close(channel);
}

pub fn release(object: fd.Object) void {
    switch (object) {
        .stream => |end| {
            if (end.receive != fd.handle_none) receive_close(end.receive);
            if (end.send != fd.handle_none) _ = uk.table.io_close(end.send);
            assert(buffers_used[end.slot]);
            buffers_used[end.slot] = false;
        },
        .eventfd => |counter| channel_close_both(counter.channel),
        else => unreachable,
    }
}

/// Two ends, each reading one channel and writing the other, installed as fds; the objects
/// are released when installing fails.
fn install_pair(
    first: fd.Stream,
    second: fd.Stream,
    nonblocking: bool,
    cloexec: bool,
) Error![2]i32 {
    const fd_first = uk.fds.open(.{ .stream = first }, nonblocking, cloexec, 0) catch {
        release(.{ .stream = first });
        release(.{ .stream = second });
        return error.MFILE;
    };
    const fd_second = uk.fds.open(.{ .stream = second }, nonblocking, cloexec, 0) catch {
        if (uk.fds.close(fd_first) catch null) |object| release(object);
        release(.{ .stream = second });
        return error.MFILE;
    };
    return .{ @intCast(fd_first), @intCast(fd_second) };
}

fn pair_create(socket: bool, nonblocking: bool, cloexec: bool) Error![2]i32 {
    const capacity = constants.stream_channel_capacity;
    const message_bytes = constants.stream_message_bytes_max;
    const forward = try channel_create(capacity, message_bytes);
    const backward: u32 = if (socket) channel_create(capacity, message_bytes) catch |e| {
        channel_close_both(forward);
        return e;
    } else fd.handle_none;
    const slot_first = buffer_take() catch |e| {
        channel_close_both(forward);
        if (backward != fd.handle_none) channel_close_both(backward);
        return e;
    };
    const slot_second = buffer_take() catch |e| {
        buffers_used[slot_first] = false;
        channel_close_both(forward);
        if (backward != fd.handle_none) channel_close_both(backward);
        return e;
    };
    // A pipe: fds[0] reads `forward`, fds[1] writes it. A socketpair: each end also writes
    // the channel the other reads.
    const first: fd.Stream =
        .{ .receive = forward, .send = backward, .slot = slot_first, .socket = socket };
    const second: fd.Stream =
        .{ .receive = backward, .send = forward, .slot = slot_second, .socket = socket };
    return install_pair(first, second, nonblocking, cloexec);
}

fn write_pair(out: u64, fds: [2]i32) i64 {
    const pair = uk.object([2]i32, out) orelse return fail(error.FAULT);
    pair.* = fds;
    return 0;
}

/// socketpair(AF_UNIX, SOCK_STREAM[|SOCK_NONBLOCK|SOCK_CLOEXEC], 0, fds).
pub fn sys_socketpair(a: linux.Args) i64 {
    const kind: u32 = @truncate(a[1]);
    if (a[0] != 1) return fail(error.AFNOSUPPORT); // AF_UNIX only
    if (kind & 0xf != 1) return fail(error.OPNOTSUPP); // SOCK_STREAM only
    if (a[3] == 0) return fail(error.FAULT);
    const nonblocking = kind & linux.o_nonblock != 0;
    const cloexec = kind & linux.o_cloexec != 0;
    const fds = pair_create(true, nonblocking, cloexec) catch |e| return fail(e);
    return write_pair(a[3], fds);
}

pub fn sys_pipe2(a: linux.Args) i64 {
    const flags: u32 = @truncate(a[1]);
    if (flags & ~(linux.o_nonblock | linux.o_cloexec) != 0) return fail(error.INVAL);
    if (a[0] == 0) return fail(error.FAULT);
    const nonblocking = flags & linux.o_nonblock != 0;
    const fds = pair_create(false, nonblocking, flags & linux.o_cloexec != 0) catch |e|
        return fail(e);
    return write_pair(a[0], fds);
}

pub fn sys_pipe(a: linux.Args) i64 {
    return sys_pipe2(.{ a[0], 0, 0, 0, 0, 0 });
}

/// Bytes received on a stream and not yet read.
pub fn pending(description: *const fd.Description) u64 {
    const end = description.object.stream;
    return buffers[end.slot].pending();
}

/// read on a stream end: buffered bytes first, else one message (waiting unless non-blocking);
/// 0 at the end of the stream (the writer closed).
pub fn read(description: *fd.Description, destination: []u8, wait: bool, peek: bool) Error!u64 {
    const end = &description.object.stream;
    const buffer = &buffers[end.slot];
    if (end.receive == fd.handle_none) {
        if (!end.socket) return error.BADF; // a pipe's write end
        if (buffer.pending() == 0) return 0; // shut down for reading (SHUT_RD): end of stream
    }
    if (destination.len == 0) return 0;
    if (buffer.pending() == 0) {
        const flags: u32 = if (wait) 0 else abi.flag_nonblocking;
        const space = buffer.space();
        const received = uk.table.ipc_recv(end.receive, space.ptr, space.len, flags);
        if (errno.is(received, .closed)) return 0;
        buffer.filled(try errno.check(received));
    }
    if (peek) return buffer.peek(destination);
    return buffer.take(destination);
}

/// write on a stream end: cut into messages; a non-blocking writer gets what fit (EAGAIN when
/// nothing did); EPIPE once the reader closed.
pub fn write(description: *fd.Description, data: []const u8, wait: bool) Error!u64 {
    const end = &description.object.stream;
    // A pipe's read end: EBADF; a socketpair end shut down for writing (SHUT_WR): EPIPE.
    if (end.send == fd.handle_none) return if (end.socket) error.PIPE else error.BADF;
    const flags: u32 = if (wait) 0 else abi.flag_nonblocking;
    var sent: u64 = 0;
    var index: u64 = 0;
    while (index < stream.chunks(data.len)) : (index += 1) {
        const message = stream.chunk(data, index);
        const result = uk.table.ipc_send(end.send, message.ptr, message.len, flags);
        if (result < 0) {
            if (sent > 0) return sent;
            return errno.of_result(result);
        }
        sent += message.len;
    }
    assert(sent == data.len);
    return sent;
}

/// shutdown on a socketpair end: SHUT_WR closes the channel it writes (the peer reads the end
/// of the stream), SHUT_RD the one it reads (the peer's writes get EPIPE).
pub fn shutdown(description: *fd.Description, how: u32) Error!void {
    const end = &description.object.stream;
    if (how > 2) return error.INVAL;
    if (how != 1 and end.receive != fd.handle_none) {
        receive_close(end.receive);
        end.receive = fd.handle_none;
    }
    if (how != 0 and end.send != fd.handle_none) {
        _ = uk.table.io_close(end.send);
        end.send = fd.handle_none;
    }
}

// ---- eventfd ----------------------------------------------------------------------------------

/// eventfd2(initial, flags): EFD_SEMAPHORE 1, EFD_NONBLOCK, EFD_CLOEXEC.
pub fn sys_eventfd2(a: linux.Args) i64 {
    const flags: u32 = @truncate(a[1]);
    if (flags & ~(linux.o_nonblock | linux.o_cloexec | 1) != 0) return fail(error.INVAL);
    const channel = channel_create(constants.eventfd_channel_capacity, 8) catch |e| return fail(e);
    const object: fd.Object = .{ .eventfd = .{ .channel = channel, .semaphore = flags & 1 != 0 } };
    const nonblocking = flags & linux.o_nonblock != 0;
    const new_fd = uk.fds.open(object, nonblocking, flags & linux.o_cloexec != 0, 0) catch {
        channel_close_both(channel);
        return fail(error.MFILE);
    };
    const initial: u64 = @as(u32, @truncate(a[0]));
    if (initial > 0) {
        _ = uk.table.ipc_send(channel, std.mem.asBytes(&initial), 8, abi.flag_nonblocking);
    }
    return new_fd;
}

pub fn sys_eventfd(a: linux.Args) i64 {
    return sys_eventfd2(.{ a[0], 0, 0, 0, 0, 0 });
}

/// Sums every queued increment (the first may wait); 0 when none.
fn counter_drain(channel: u32, wait: bool) Error!u64 {
    var sum: u64 = 0;
    var rounds: u32 = 0;
    while (rounds <= constants.eventfd_channel_capacity) : (rounds += 1) {
        var value: u64 = 0;
        const flags: u32 = if (wait and rounds == 0) 0 else abi.flag_nonblocking;
        const result = uk.table.ipc_recv(channel, std.mem.asBytes(&value), 8, flags);
        if (result < 0) {
            if (rounds > 0 and errno.is(result, .would_block)) break;
            return errno.of_result(result);
        }
        sum +%= value;
    }
    return sum;
}

pub fn eventfd_read(description: *fd.Description, buffer: []u8, wait: bool) Error!u64 {
    const counter = description.object.eventfd;
    if (buffer.len < 8) return error.INVAL;
    var value = try counter_drain(counter.channel, wait);
    if (value == 0) return error.AGAIN; // Only increments of 0 were queued.
    if (counter.semaphore and value > 1) {
        const rest = value - 1;
        _ = uk.table.ipc_send(counter.channel, std.mem.asBytes(&rest), 8, abi.flag_nonblocking);
        value = 1;
    }
    @memcpy(buffer[0..8], std.mem.asBytes(&value));
    return 8;
}

/// Adds to the counter; a full channel is folded into one message first.
pub fn eventfd_write(description: *fd.Description, data: []const u8, wait: bool) Error!u64 {
    _ = wait;
    const counter = description.object.eventfd;
    if (data.len < 8) return error.INVAL;
    var value = std.mem.readInt(u64, data[0..8], .little);
    if (value == std.math.maxInt(u64)) return error.INVAL;
    if (value == 0) return 8;
    const flags = abi.flag_nonblocking;
    var result = uk.table.ipc_send(counter.channel, std.mem.asBytes(&value), 8, flags);
    if (errno.is(result, .would_block)) {
        value +%= counter_drain(counter.channel, false) catch 0;
        result = uk.table.ipc_send(counter.channel, std.mem.asBytes(&value), 8, flags);
    }
    _ = try errno.check(result);
    return 8;
}

// ---- Adopted handles --------------------------------------------------------------------------

pub const adopt_channel: i32 = 1;
pub const adopt_socket: i32 = 2;

/// uk_posix_adopt: an ABI handle as an fd. A channel (adopt_channel) stays the caller's: the fd
/// reads and writes one message per call and polls the handle; close(fd) leaves the handle
/// open. A socket (adopt_socket, a net.socket stream handle) becomes the fd's, as if socket(2)
/// had made it. Returns the fd or -errno.
pub fn adopt(handle: u32, kind: i32) i64 {
    if (handle == fd.handle_none) return fail(error.BADF);
    const object: fd.Object = switch (kind) {
        adopt_channel => .{ .adopted = .{ .handle = handle, .owned = false } },
        adopt_socket => .{ .socket = .{ .handle = handle, .datagram = false } },
        else => return fail(error.INVAL),
    };
    const new_fd = uk.fds.open(object, false, true, 0) catch return fail(error.MFILE);
    return new_fd;
}
