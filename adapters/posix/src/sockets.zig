//! Sockets over net.*: AF_INET stream (TCP) and datagram (UDP) sockets; AF_INET6 is refused
//! with EAFNOSUPPORT, AF_UNIX exists only as socketpair (streams.zig), whose ends answer the
//! socket calls that make sense for them. A socket's O_NONBLOCK is the kernel socket's own
//! mode (io.set_nonblocking), so net.connect and net.accept wait exactly when the fd would.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const errno = @import("errno.zig");
const fd = @import("fd.zig");
const io = @import("io.zig");
const linux = @import("linux.zig");
const sockaddr = @import("sockaddr.zig");
const streams = @import("streams.zig");
const uk = @import("uk.zig");

const Error = errno.Error;
const fail = errno.fail;

const sock_stream: u32 = 1;
const sock_dgram: u32 = 2;
const sock_type_mask: u32 = 0xf;
const msg_peek: u32 = 0x2;
const msg_dontwait: u32 = 0x40;
const sol_socket: u32 = 1;
const ipproto_ip: u32 = 0;
const ipproto_tcp: u32 = 6;

/// Largest net.send one call hands the kernel (a socket write may be partial).
const send_bytes_max: u64 = 65536;

fn socket_of(value: u64) Error!*fd.Description {
    const description = uk.fds.get(uk.int(value)) catch return error.BADF;
    return switch (description.object) {
        .socket, .stream => description,
        else => error.NOTSOCK,
    };
}

fn handle_of(description: *fd.Description) Error!*fd.Socket {
    return switch (description.object) {
        .socket => |*socket| socket,
        .stream => error.OPNOTSUPP,
        else => error.NOTSOCK,
    };
}

/// socket(domain, type, protocol).
pub fn sys_socket(a: linux.Args) i64 {
    const domain = a[0];
    const kind: u32 = @truncate(a[1]);
    if (domain == sockaddr.af_inet6) return fail(error.AFNOSUPPORT);
    if (domain != sockaddr.af_inet) return fail(error.AFNOSUPPORT);
    const datagram = switch (kind & sock_type_mask) {
        sock_stream => false,
        sock_dgram => true,
        else => return fail(error.SOCKTNOSUPPORT),
    };
    const protocol = a[2];
    if (protocol != 0 and protocol != (if (datagram) 17 else ipproto_tcp)) {
        return fail(error.PROTONOSUPPORT);
    }
    const nonblocking = kind & linux.o_nonblock != 0;
    if (!uk.fds.has_room()) return fail(error.MFILE);
    const flags = if (nonblocking) abi.flag_nonblocking else 0;
    const abi_kind = if (datagram) abi.socket_datagram else abi.socket_stream;
    const handle = errno.check(uk.table.net_socket(abi_kind, flags)) catch |e| return fail(e);
    const object: fd.Object = .{ .socket = .{ .handle = @intCast(handle), .datagram = datagram } };
    const new_fd = uk.fds.open(object, nonblocking, kind & linux.o_cloexec != 0, 0) catch {
        io.release(object);
        return fail(error.MFILE);
    };
    return new_fd;
}

fn address_in(pointer: u64, length: u64) Error!abi.SocketAddress {
    const bytes = uk.bytes(pointer, length) orelse return error.FAULT;
    return sockaddr.to_abi(bytes) catch |e| switch (e) {
        error.Invalid => error.INVAL,
        error.FamilyUnsupported => error.AFNOSUPPORT,
    };
}

/// Writes a sockaddr into the program's (pointer, *length) pair, as getsockname does.
fn address_out(bytes: []const u8, pointer: u64, length_pointer: u64) Error!void {
    if (pointer == 0) return;
    const length = uk.object(u32, length_pointer) orelse return error.FAULT;
    const destination = uk.bytes(pointer, length.*) orelse return error.FAULT;
    _ = sockaddr.copy_out(bytes, destination);
    length.* = @intCast(bytes.len);
}

const unix_unnamed = [_]u8{ 1, 0 }; // sa_family = AF_UNIX, no path

pub fn sys_bind(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const socket = handle_of(description) catch |e| return fail(e);
    const address = address_in(a[1], a[2]) catch |e| return fail(e);
    const result = uk.table.net_bind(socket.handle, &address);
    if (errno.is(result, .already_connected)) return fail(error.INVAL);
    return errno.pass(result);
}

pub fn sys_listen(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const socket = handle_of(description) catch |e| return fail(e);
    // Listening again only changes the backlog on Linux; the kernel keeps its first one.
    if (socket.listening) return 0;
    const backlog: u32 = @intCast(std.math.clamp(uk.int(a[1]), 1, 4096));
    const result = uk.table.net_listen(socket.handle, backlog);
    if (result == 0) socket.listening = true;
    if (errno.is(result, .already_connected)) return fail(error.INVAL);
    return errno.pass(result);
}

/// accept4(fd, address, length, flags): SOCK_NONBLOCK, SOCK_CLOEXEC for the new fd.
pub fn sys_accept4(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const socket = handle_of(description) catch |e| return fail(e);
    const flags: u32 = @truncate(a[3]);
    if (flags & ~(linux.o_nonblock | linux.o_cloexec) != 0) return fail(error.INVAL);
    if (!uk.fds.has_room()) return fail(error.MFILE);
    var peer: abi.SocketAddress = undefined;
    const nonblocking = flags & linux.o_nonblock != 0;
    const accept_flags = if (nonblocking) abi.flag_nonblocking else 0;
    const accepted = uk.table.net_accept(socket.handle, &peer, accept_flags);
    // Not listening (or a datagram socket): EINVAL, as Linux says.
    if (errno.is(accepted, .unsupported)) return fail(error.INVAL);
    const handle = errno.check(accepted) catch |e| return fail(e);
    const object: fd.Object = .{ .socket = .{ .handle = @intCast(handle), .datagram = false } };
    const new_fd = uk.fds.open(object, nonblocking, flags & linux.o_cloexec != 0, 0) catch {
        io.release(object);
        return fail(error.MFILE);
    };
    address_out(&sockaddr.from_abi(peer), a[1], a[2]) catch |e| {
        // As Linux: the connection is dropped and no fd is left behind.
        if (uk.fds.close(new_fd) catch null) |dropped| io.release(dropped);
        return fail(e);
    };
    return new_fd;
}

pub fn sys_accept(a: linux.Args) i64 {
    return sys_accept4(.{ a[0], a[1], a[2], 0, 0, 0 });
}

/// connect: a non-blocking stream socket answers EINPROGRESS, then EALREADY while the
/// connection is still being made, EISCONN once it is.
pub fn sys_connect(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const socket = handle_of(description) catch |e| return fail(e);
    const address = address_in(a[1], a[2]) catch |e| return fail(e);
    var result = uk.table.net_connect(socket.handle, &address);
    if (errno.is(result, .no_route) and address_wait(address)) {
        result = uk.table.net_connect(socket.handle, &address);
    }
    if (errno.is(result, .would_block)) {
        if (socket.connecting) return fail(error.ALREADY);
        socket.connecting = true;
        return fail(error.INPROGRESS);
    }
    socket.connecting = false;
    return errno.pass(result);
}

/// Whether the program's first no_route waited for the network.
var address_waited = false;

/// The kernel brings the NIC up and asks DHCP off the path to main, and a non-blocking connect
/// or sendto (asyncio's) made before the address is there gets no_route; a Linux program never
/// sees its network unconfigured at start. So the first connect or sendto that gets no_route to
/// a non-loopback address waits for the address as a blocking call does (at most the kernel's
/// net_address_wait_ns_max, 3 s; at once without a NIC or once configured): a blocking
/// connect of a throwaway datagram socket, which sends nothing. Returns whether to try again.
fn address_wait(address: abi.SocketAddress) bool {
    if (address_waited or address.address[0] == 127) return false;
    address_waited = true;
    const handle = errno.check(uk.table.net_socket(abi.socket_datagram, 0)) catch return false;
    const waited = uk.table.net_connect(@intCast(handle), &address);
    _ = uk.table.io_close(@intCast(handle));
    return waited >= 0;
}

fn name_of(a: linux.Args, peer: bool) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const socket = switch (description.object) {
        .socket => |socket| socket,
        else => {
            address_out(&unix_unnamed, a[1], a[2]) catch |e| return fail(e);
            return 0;
        },
    };
    var address: abi.SocketAddress = undefined;
    const result = if (peer)
        uk.table.net_peer_address(socket.handle, &address)
    else
        uk.table.net_local_address(socket.handle, &address);
    if (result < 0) return errno.pass(result);
    if (address.family == 0) address.family = abi.family_inet4; // unbound: 0.0.0.0:0
    address_out(&sockaddr.from_abi(address), a[1], a[2]) catch |e| return fail(e);
    return 0;
}

pub fn sys_getsockname(a: linux.Args) i64 {
    return name_of(a, false);
}

pub fn sys_getpeername(a: linux.Args) i64 {
    return name_of(a, true);
}

/// The ABI option for a (level, name) pair, or null when the layer answers it itself.
fn option_of(level: u32, name: u32) ?u32 {
    if (level == sol_socket) return switch (name) {
        2 => abi.option_reuse_address, // SO_REUSEADDR
        7 => abi.option_send_buffer_bytes, // SO_SNDBUF
        8 => abi.option_receive_buffer_bytes, // SO_RCVBUF
        9 => abi.option_keepalive, // SO_KEEPALIVE
        else => null,
    };
    if (level == ipproto_tcp and name == 1) return abi.option_tcp_nodelay; // TCP_NODELAY
    return null;
}

/// Options accepted and not acted on (the kernel has no such knob, and a program setting them
/// works the same without): SO_LINGER, SO_RCVTIMEO/SO_SNDTIMEO (CPython times out with poll),
/// SO_BROADCAST, TCP_KEEPIDLE/KEEPINTVL/KEEPCNT, IP_TOS, IP_TTL.
fn option_ignored(level: u32, name: u32) bool {
    if (level == sol_socket) return name == 13 or name == 20 or name == 21 or name == 6;
    if (level == ipproto_tcp) return name == 4 or name == 5 or name == 6;
    if (level == ipproto_ip) return name == 1 or name == 2;
    return false;
}

pub fn sys_setsockopt(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const level: u32 = @truncate(a[1]);
    const name: u32 = @truncate(a[2]);
    const socket = switch (description.object) {
        .socket => |socket| socket,
        else => return if (level == sol_socket) 0 else fail(error.OPNOTSUPP),
    };
    if (option_ignored(level, name)) return 0;
    const option = option_of(level, name) orelse return fail(error.NOPROTOOPT);
    if (a[4] < 4) return fail(error.INVAL);
    const value = uk.object(i32, a[3]) orelse return fail(error.FAULT);
    var wanted: u64 = @intCast(@max(value.*, 0));
    const buffer_option = option == abi.option_send_buffer_bytes or
        option == abi.option_receive_buffer_bytes;
    if (buffer_option) wanted = @max(wanted, abi.socket_buffer_bytes_min);
    if (!buffer_option) wanted = @intFromBool(wanted != 0);
    const result = uk.table.net_set_option(socket.handle, option, wanted);
    // A stream socket's receive buffer is the kernel's TCP window, read only: keep quiet.
    if (errno.is(result, .unsupported) and buffer_option) return 0;
    return errno.pass(result);
}

/// The value getsockopt reports for options the layer knows itself.
fn option_local(description: *fd.Description, level: u32, name: u32) Error!?i32 {
    if (level != sol_socket) return null;
    const datagram = switch (description.object) {
        .socket => |socket| socket.datagram,
        else => false,
    };
    return switch (name) {
        3 => if (datagram) sock_dgram else sock_stream, // SO_TYPE
        38 => if (datagram) 17 else if (description.object == .socket) 6 else 0, // SO_PROTOCOL
        39 => if (description.object == .socket) sockaddr.af_inet else sockaddr.af_unix,
        30 => switch (description.object) { // SO_ACCEPTCONN
            .socket => |socket| @intFromBool(socket.listening),
            else => 0,
        },
        4 => switch (description.object) { // SO_ERROR
            .socket => |*socket| try pending_error(socket),
            else => 0,
        },
        else => null,
    };
}

/// SO_ERROR: the socket's pending error (read and cleared) as an errno, 0 when none.
fn pending_error(socket: *fd.Socket) Error!i32 {
    const code = try errno.check(uk.table.net_get_option(socket.handle, abi.option_error));
    if (code == 0) return 0;
    socket.connecting = false;
    return @intCast(-fail(errno.of_result(-@as(i64, @intCast(code)))));
}

pub fn sys_getsockopt(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const level: u32 = @truncate(a[1]);
    const name: u32 = @truncate(a[2]);
    const length = uk.object(u32, a[4]) orelse return fail(error.FAULT);
    if (length.* < 4) return fail(error.INVAL);
    const out = uk.object(i32, a[3]) orelse return fail(error.FAULT);
    const local = option_local(description, level, name) catch |e| return fail(e);
    if (local) |value| {
        out.* = value;
    } else {
        const socket = handle_of(description) catch return fail(error.NOPROTOOPT);
        const option = option_of(level, name) orelse return fail(error.NOPROTOOPT);
        const value = errno.check(uk.table.net_get_option(socket.handle, option)) catch |e|
            return fail(e);
        out.* = @intCast(@min(value, std.math.maxInt(i32)));
    }
    length.* = 4;
    return 0;
}

/// recv on a socket (io.read and recvfrom); 0 at the end of the stream.
pub fn receive(description: *fd.Description, buffer: []u8, wait: bool, peek: bool) Error!u64 {
    const socket = description.object.socket;
    var flags: u32 = if (wait) 0 else abi.flag_nonblocking;
    if (peek) flags |= abi.flag_peek;
    if (buffer.len == 0) return 0;
    return errno.check(uk.table.net_recv(socket.handle, buffer.ptr, buffer.len, flags));
}

/// send on a socket: possibly fewer bytes than given (as Linux may); EPIPE once shut down.
pub fn send(description: *fd.Description, data: []const u8, wait: bool) Error!u64 {
    const socket = description.object.socket;
    const flags: u32 = if (wait) 0 else abi.flag_nonblocking;
    if (data.len == 0) return 0;
    const count = @min(data.len, send_bytes_max);
    const result = uk.table.net_send(socket.handle, data.ptr, count, flags);
    if (socket.datagram and errno.is(result, .not_connected)) return error.DESTADDRREQ;
    return errno.check(result);
}

fn send_to(
    description: *fd.Description,
    data: []const u8,
    flags: u32,
    name: u64,
    name_length: u64,
) Error!u64 {
    const wait = !(description.nonblocking or flags & msg_dontwait != 0);
    switch (description.object) {
        .stream => return streams.write(description, data, wait),
        .socket => |socket| {
            if (!socket.datagram or name == 0) return send(description, data, wait);
            const address = try address_in(name, name_length);
            const abi_flags: u32 = if (wait) 0 else abi.flag_nonblocking;
            const handle = socket.handle;
            var result = uk.table.net_sendto(handle, data.ptr, data.len, &address, abi_flags);
            if (errno.is(result, .no_route) and address_wait(address)) {
                result = uk.table.net_sendto(handle, data.ptr, data.len, &address, abi_flags);
            }
            return errno.check(result);
        },
        else => unreachable,
    }
}

/// sendto(fd, data, length, flags, address, address_length): MSG_DONTWAIT; MSG_NOSIGNAL is
/// moot (no signal is ever delivered).
pub fn sys_sendto(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const data = uk.bytes(a[1], a[2]) orelse return fail(error.FAULT);
    const count = send_to(description, data, @truncate(a[3]), a[4], a[5]) catch |e| return fail(e);
    return @intCast(count);
}

fn receive_from(
    description: *fd.Description,
    buffer: []u8,
    flags: u32,
    name: u64,
    length: u64,
) Error!u64 {
    const wait = !(description.nonblocking or flags & msg_dontwait != 0);
    const peek = flags & msg_peek != 0;
    switch (description.object) {
        .stream => {
            try address_out(&unix_unnamed, name, length);
            return streams.read(description, buffer, wait, peek);
        },
        .socket => |socket| {
            if (!socket.datagram or name == 0) {
                if (name != 0) try address_out(&.{}, name, length);
                return receive(description, buffer, wait, peek);
            }
            var address: abi.SocketAddress = undefined;
            var abi_flags: u32 = if (wait) 0 else abi.flag_nonblocking;
            if (peek) abi_flags |= abi.flag_peek;
            const handle = socket.handle;
            const count = try errno.check(
                uk.table.net_recvfrom(handle, buffer.ptr, buffer.len, &address, abi_flags),
            );
            try address_out(&sockaddr.from_abi(address), name, length);
            return count;
        },
        else => unreachable,
    }
}

/// recvfrom(fd, buffer, length, flags, address, address_length): MSG_PEEK, MSG_DONTWAIT.
pub fn sys_recvfrom(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const buffer = uk.bytes(a[1], a[2]) orelse return fail(error.FAULT);
    const count = receive_from(description, buffer, @truncate(a[3]), a[4], a[5]) catch |e|
        return fail(e);
    return @intCast(count);
}

fn message_of(pointer: u64) Error!*align(1) linux.MsgHdr {
    const message = uk.object(linux.MsgHdr, pointer) orelse return error.FAULT;
    if (message.iov_count > 1024) return error.MSGSIZE;
    return message;
}

/// sendmsg without ancillary data: the buffers gathered into one datagram (longer than
/// datagram_bytes_max: EMSGSIZE), or, on a stream, their first datagram_bytes_max bytes sent
/// (a stream write may be partial).
pub fn sys_sendmsg(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const message = message_of(a[1]) catch |e| return fail(e);
    if (message.control_length != 0) return fail(error.OPNOTSUPP);
    const vector = iovec_slice(message) catch |e| return fail(e);
    const datagram = switch (description.object) {
        .socket => |socket| socket.datagram,
        else => false,
    };
    var gathered: [abi.datagram_bytes_max]u8 = undefined;
    var length: usize = 0;
    for (vector) |item| {
        const data = uk.bytes(item.base, item.length) orelse return fail(error.FAULT);
        if (length + data.len > gathered.len and datagram) return fail(error.MSGSIZE);
        const part = @min(data.len, gathered.len - length);
        @memcpy(gathered[length..][0..part], data[0..part]);
        length += part;
    }
    const flags: u32 = @truncate(a[2]);
    const data = gathered[0..length];
    const sent = send_to(description, data, flags, message.name, message.name_length) catch |e|
        return fail(e);
    return @intCast(sent);
}

/// recvmsg without ancillary data: one receive, scattered over the buffers.
pub fn sys_recvmsg(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const message = message_of(a[1]) catch |e| return fail(e);
    const vector = iovec_slice(message) catch |e| return fail(e);
    var staging: [abi.datagram_bytes_max]u8 = undefined;
    var capacity: usize = 0;
    for (vector) |item| capacity +|= item.length;
    const buffer = staging[0..@min(capacity, staging.len)];
    const name_length_pointer = if (message.name == 0) 0 else @intFromPtr(&message.name_length);
    const flags: u32 = @truncate(a[2]);
    const name = message.name;
    const count = receive_from(description, buffer, flags, name, name_length_pointer) catch |e|
        return fail(e);
    var offset: usize = 0;
    for (vector) |item| {
        const destination = uk.bytes(item.base, item.length) orelse return fail(error.FAULT);
        const part = @min(destination.len, count - offset);
        @memcpy(destination[0..part], buffer[offset..][0..part]);
        offset += part;
    }
    message.control_length = 0;
    message.flags = 0;
    return @intCast(count);
}

fn iovec_slice(message: *align(1) linux.MsgHdr) Error![]align(1) const linux.Iovec {
    if (message.iov_count == 0) return &.{};
    if (message.iov == 0) return error.FAULT;
    const start: [*]align(1) const linux.Iovec = @ptrFromInt(message.iov);
    const vector = start[0..message.iov_count];
    // A length past SSIZE_MAX is EINVAL, as Linux (sums below then cannot overflow).
    for (vector) |item| if (item.length > std.math.maxInt(i64)) return error.INVAL;
    return vector;
}

/// shutdown(fd, SHUT_RD 0 / SHUT_WR 1 / SHUT_RDWR 2).
pub fn sys_shutdown(a: linux.Args) i64 {
    const description = socket_of(a[0]) catch |e| return fail(e);
    const how: u32 = @truncate(a[1]);
    if (how > 2) return fail(error.INVAL);
    switch (description.object) {
        .stream => streams.shutdown(description, how) catch |e| return fail(e),
        .socket => |socket| return errno.pass(uk.table.net_shutdown(socket.handle, how + 1)),
        else => unreachable,
    }
    return 0;
}
