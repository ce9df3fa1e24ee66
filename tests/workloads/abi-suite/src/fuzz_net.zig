//! The fuzz's net.* calls (fuzz.zig runs them among the others): random arguments, and enough
//! valid sequences (listeners on the guest's loopback, connections to them, accepts, data both
//! ways) that the calls meet live connections, not only refusals. Every socket this task keeps
//! is non-blocking, so no call here waits: those created blocking (net.socket or net.accept
//! without flag_nonblocking) are switched at once, and option_nonblocking is set back to 1 after
//! every set_option. Checks: results within their bounds (a receive never longer than its
//! buffer, resolve never more than asked), no call succeeding on a handle that is not a socket.

const std = @import("std");
const ukernel = @import("ukernel");
const sys = @import("sys.zig");
const abi = sys.abi;
const E = abi.Error;
const Address = abi.SocketAddress;

/// What fuzz.zig provides: its argument generators, model and counters.
pub const Host = struct {
    result: *const fn (name: []const u8, value: i64, allowed: []const E) i64,
    failure: *const fn (what: []const u8, message: []const u8, value: u64) void,
    pick_handle: *const fn (rng: *sys.Rng) u32,
    scratch_range: *const fn (rng: *sys.Rng, length_max: u64) Range,
    is_socket: *const fn (h: u32) bool,
};
pub const Range = struct { pointer: u64, length: u64, valid: bool };

/// The sockets this task holds (handles), and which listen (with their ports).
const Socket = struct { handle: u32, datagram: bool, listening: bool = false, port: u16 = 0 };
var sockets: [160]Socket = undefined;
var socket_count: usize = 0;
var host: Host = undefined;

/// Valid SocketAddress storage, and bytes for misaligned copies.
var address_slot: Address = undefined;
var address_bytes: [64]u8 align(8) = undefined;
var out_addresses: [8]Address = undefined;

/// What the calls achieved, so a run shows it met live connections (`fuzz: net …`).
var accepted: u64 = 0;
var connected: u64 = 0;
var bytes_sent: u64 = 0;
var bytes_received: u64 = 0;
var datagrams: u64 = 0;

pub fn report() void {
    ukernel.print("fuzz: net accepted={d} connected={d} bytes_sent={d} bytes_received={d} datagrams_received={d}\n", .{ accepted, connected, bytes_sent, bytes_received, datagrams });
}

pub fn init(with: Host) void {
    host = with;
    socket_count = 0;
}

pub fn is_socket(h: u32) bool {
    return find(h) != null;
}

fn find(h: u32) ?*Socket {
    for (sockets[0..socket_count]) |*socket| if (socket.handle == h) return socket;
    return null;
}

fn add(socket: Socket) void {
    if (find(socket.handle)) |old| {
        old.* = socket;
        return;
    }
    if (socket_count == sockets.len) {
        _ = sys.io_close(socket.handle);
        return;
    }
    sockets[socket_count] = socket;
    socket_count += 1;
}

/// io.close (from fuzz.zig's close op or here) released `h`.
pub fn forget(h: u32) void {
    for (sockets[0..socket_count], 0..) |socket, index| if (socket.handle == h) {
        sockets[index] = sockets[socket_count - 1];
        socket_count -= 1;
        return;
    };
}

/// Closes every socket (the end of the run).
pub fn cleanup() u64 {
    var errors: u64 = 0;
    for (sockets[0..socket_count]) |socket| {
        if (sys.io_close(socket.handle) != 0) errors += 1;
    }
    socket_count = 0;
    return errors;
}

/// One of the sockets, or null when there are none (for fuzz.zig's handle picks).
pub fn any(rng: *sys.Rng) ?u32 {
    if (socket_count == 0) return null;
    return sockets[@intCast(rng.below(socket_count))].handle;
}

/// 127.0.0.1 and the port of one of our bound datagram sockets (so datagrams arrive).
fn datagram_peer(rng: *sys.Rng) ?u64 {
    const h = any_datagram(rng) orelse return null;
    var bound: Address = undefined;
    if (sys.net_local_address(h, sys.addr(&bound)) != 0 or bound.port == 0) return null;
    address_slot = sys.inet4(127, 0, 0, 1, bound.port);
    return sys.addr(&address_slot);
}

fn any_datagram(rng: *sys.Rng) ?u32 {
    const start = if (socket_count > 0) rng.below(socket_count) else return null;
    for (0..socket_count) |offset| {
        const socket = sockets[@intCast((start + offset) % socket_count)];
        if (socket.datagram) return socket.handle;
    }
    return null;
}

fn pick_socket(rng: *sys.Rng) u32 {
    if (socket_count > 0 and rng.chance(75)) return sockets[@intCast(rng.below(socket_count))].handle;
    return host.pick_handle(rng);
}

fn pick_listener(rng: *sys.Rng) ?*Socket {
    var count: usize = 0;
    for (sockets[0..socket_count]) |socket| {
        if (socket.listening) count += 1;
    }
    if (count == 0) return null;
    var chosen = rng.below(count);
    for (sockets[0..socket_count]) |*socket| if (socket.listening) {
        if (chosen == 0) return socket;
        chosen -= 1;
    };
    return null;
}

/// A SocketAddress argument: mostly valid (a listener of ours, a random loopback port, any,
/// nowhere), else a bad family, a dirty tail, IPv6, or a bad or misaligned pointer.
fn pick_address(rng: *sys.Rng) u64 {
    var address = sys.inet4(127, 0, 0, 1, @truncate(rng.next()));
    switch (rng.below(12)) {
        0, 1 => if (pick_listener(rng)) |l| {
            address.port = l.port;
        },
        2 => if (any_datagram(rng)) |h| {
            var bound: Address = undefined;
            if (sys.net_local_address(h, sys.addr(&bound)) == 0) address.port = bound.port;
        },
        3 => address = sys.inet4(0, 0, 0, 0, 0),
        4 => address = sys.inet4(192, 0, 2, 1, 80),
        5 => address.family = @truncate(rng.next()),
        6 => address.address[4 + rng.below(12)] = 1,
        7 => address.family = abi.family_inet6,
        8 => return rng.pick(u64, &sys.bad_addresses),
        9 => {
            const offset = 1 + rng.below(7);
            @memcpy(address_bytes[offset..][0..@sizeOf(Address)], std.mem.asBytes(&address));
            return sys.addr(&address_bytes) + offset;
        },
        else => {},
    }
    address_slot = address;
    return sys.addr(&address_slot);
}

/// Where the kernel may write an address: null, valid, misaligned, or bad.
fn pick_out(rng: *sys.Rng) u64 {
    return switch (rng.below(8)) {
        0 => 0,
        1 => sys.addr(&address_bytes) + 1 + rng.below(7),
        2 => rng.pick(u64, &sys.bad_addresses),
        else => sys.addr(&address_slot),
    };
}

fn pick_net_flags(rng: *sys.Rng) u32 {
    return rng.pick(u32, &.{ 0, 0, abi.flag_nonblocking, abi.flag_peek, 3, 4, sys.max_u32 });
}

/// A socket just handed out: kept, and made non-blocking.
fn keep(r: i64, datagram: bool) void {
    if (r < 0) return;
    const h = sys.handle(r);
    if (sys.net_set_option(h, abi.option_nonblocking, 1) != 0) {
        host.failure("net.set_option", "could not make socket non-blocking", h);
    }
    add(.{ .handle = h, .datagram = datagram });
}

pub const Op = enum { socket, bind, listen, accept, connect, send, recv, sendto, recvfrom, shutdown, address, option, resolve };
pub const weights = [_]u8{ 3, 2, 2, 3, 3, 4, 4, 2, 2, 1, 2, 2, 2 };

pub fn step(rng: *sys.Rng, op: Op) void {
    switch (op) {
        .socket => {
            const kind: u32 = if (rng.chance(90)) rng.pick(u32, &.{ abi.socket_stream, abi.socket_stream, abi.socket_datagram }) else rng.pick(u32, &.{ 0, 3, sys.max_u32 });
            const flags: u32 = if (rng.chance(90)) rng.pick(u32, &.{ 0, abi.flag_nonblocking }) else rng.pick(u32, &.{ 2, 3, sys.max_u32 });
            const r = host.result("net.socket", sys.net_socket(kind, flags), &.{ .out_of_range, .limit_reached, .no_memory });
            if (r >= 0 and (kind < 1 or kind > 2 or flags > 1)) host.failure("net.socket", "accepted kind/flags", @as(u64, kind) << 32 | flags);
            keep(r, kind == abi.socket_datagram);
        },
        .bind => {
            const h = pick_socket(rng);
            const r = host.result("net.bind", sys.net_bind(h, pick_address(rng)), &.{ .bad_handle, .bad_pointer, .out_of_range, .unsupported, .address_in_use, .already_connected, .no_memory });
            if (r >= 0 and !host.is_socket(h)) host.failure("net.bind", "succeeded on a non-socket", h);
        },
        .listen => {
            const h = pick_socket(rng);
            const backlog: u32 = rng.pick(u32, &.{ 0, 1, 2, 8, 64, 65, sys.max_u32 });
            const r = host.result("net.listen", sys.net_listen(h, backlog), &.{ .bad_handle, .unsupported, .already_connected, .address_in_use, .no_memory });
            if (r >= 0) {
                if (find(h)) |socket| {
                    socket.listening = true;
                    var local: Address = undefined;
                    _ = sys.net_local_address(h, sys.addr(&local));
                    socket.port = local.port;
                } else host.failure("net.listen", "succeeded on a non-socket", h);
            }
        },
        .accept => {
            const h = if (pick_listener(rng)) |l| (if (rng.chance(80)) l.handle else pick_socket(rng)) else pick_socket(rng);
            const flags: u32 = rng.pick(u32, &.{ 0, abi.flag_nonblocking, 2, sys.max_u32 });
            const r = host.result("net.accept", sys.net_accept(h, pick_out(rng), flags), &.{ .bad_handle, .bad_pointer, .out_of_range, .unsupported, .would_block, .limit_reached, .closed });
            if (r >= 0 and flags > 1) host.failure("net.accept", "accepted flags", flags);
            if (r >= 0) accepted += 1;
            keep(r, false);
        },
        .connect => {
            const h = pick_socket(rng);
            const r = host.result("net.connect", sys.net_connect(h, pick_address(rng)), &.{ .bad_handle, .bad_pointer, .out_of_range, .unsupported, .would_block, .already_connected, .connection_refused, .connection_reset, .timed_out, .no_route, .address_in_use, .no_memory });
            if (r >= 0 and !host.is_socket(h)) host.failure("net.connect", "succeeded on a non-socket", h);
            if (r >= 0 or r == sys.err(.already_connected)) connected += 1;
        },
        .send => {
            const h = pick_socket(rng);
            const b = host.scratch_range(rng, 70_000);
            const r = host.result("net.send", sys.net_send(h, b.pointer, b.length, pick_net_flags(rng)), &.{ .bad_handle, .bad_pointer, .too_large, .out_of_range, .would_block, .closed, .not_connected, .connection_reset, .no_route, .no_memory, .connection_refused, .timed_out });
            if (r > 0 and @as(u64, @intCast(r)) > b.length) host.failure("net.send", "took more than given", @intCast(r));
            if (r > 0 and !b.valid) host.failure("net.send", "accepted an invalid range", b.pointer);
            if (r > 0) bytes_sent += @intCast(r);
        },
        .recv => {
            const h = pick_socket(rng);
            const b = host.scratch_range(rng, 70_000);
            const r = host.result("net.recv", sys.net_recv(h, b.pointer, b.length, pick_net_flags(rng)), &.{ .bad_handle, .bad_pointer, .out_of_range, .would_block, .not_connected, .connection_reset, .connection_refused, .timed_out, .no_route });
            if (r > 0 and @as(u64, @intCast(r)) > b.length) host.failure("net.recv", "returned more than the buffer", @intCast(r));
            if (r > 0) bytes_received += @intCast(r);
        },
        .sendto => {
            const h = (if (rng.chance(60)) any_datagram(rng) else null) orelse pick_socket(rng);
            const b = host.scratch_range(rng, abi.datagram_bytes_max + 100);
            const to = if (rng.chance(50)) datagram_peer(rng) orelse pick_address(rng) else pick_address(rng);
            const r = host.result("net.sendto", sys.net_sendto(h, b.pointer, b.length, to, pick_net_flags(rng)), &.{ .bad_handle, .bad_pointer, .too_large, .out_of_range, .unsupported, .no_route, .no_memory });
            if (r >= 0 and b.length > abi.datagram_bytes_max) host.failure("net.sendto", "sent more than datagram_bytes_max", b.length);
        },
        .recvfrom => {
            const h = (if (rng.chance(60)) any_datagram(rng) else null) orelse pick_socket(rng);
            const b = host.scratch_range(rng, 10_000);
            const r = host.result("net.recvfrom", sys.net_recvfrom(h, b.pointer, b.length, pick_out(rng), pick_net_flags(rng)), &.{ .bad_handle, .bad_pointer, .out_of_range, .unsupported, .would_block });
            if (r > 0 and @as(u64, @intCast(r)) > b.length) host.failure("net.recvfrom", "returned more than the buffer", @intCast(r));
            if (r >= 0) datagrams += 1;
        },
        .shutdown => {
            const h = pick_socket(rng);
            const how: u32 = rng.pick(u32, &.{ 1, 2, 3, 0, 4, sys.max_u32 });
            const r = host.result("net.shutdown", sys.net_shutdown(h, how), &.{ .bad_handle, .out_of_range, .unsupported, .not_connected, .no_memory });
            if (r >= 0 and (how == 0 or how > 3)) host.failure("net.shutdown", "accepted how", how);
        },
        .address => {
            const h = pick_socket(rng);
            const out = pick_out(rng);
            if (rng.chance(50)) {
                const r = host.result("net.local_address", sys.net_local_address(h, out), &.{ .bad_handle, .bad_pointer });
                if (r >= 0 and out == 0) host.failure("net.local_address", "accepted null", 0);
            } else {
                const r = host.result("net.peer_address", sys.net_peer_address(h, out), &.{ .bad_handle, .bad_pointer, .not_connected });
                if (r >= 0 and out == 0) host.failure("net.peer_address", "accepted null", 0);
            }
        },
        .option => {
            const h = pick_socket(rng);
            const option: u32 = if (rng.chance(90)) @intCast(rng.below(9)) else @truncate(rng.next());
            if (rng.chance(50)) {
                const value: u64 = rng.pick(u64, &.{ 0, 1, 2, 2047, 2048, 4096, 1 << 20, sys.max_u64 });
                _ = host.result("net.set_option", sys.net_set_option(h, option, value), &.{ .bad_handle, .out_of_range, .unsupported });
                if (find(h) != null) _ = sys.net_set_option(h, abi.option_nonblocking, 1);
            } else {
                const r = host.result("net.get_option", sys.net_get_option(h, option), &.{ .bad_handle, .out_of_range, .unsupported });
                if (r > 1 << 32) host.failure("net.get_option", "value out of any option's range", @intCast(r));
            }
        },
        .resolve => {
            const names = [_][]const u8{ "127.0.0.1", "localhost", "10.0.2.2", "example.invalid", "", "256.1.1.1", "a..b", "1.2.3.4.5" };
            var pointer: u64 = 0;
            var length: u64 = 0;
            if (rng.chance(75)) {
                const name = rng.pick([]const u8, &names);
                pointer = sys.addr(name.ptr);
                length = name.len;
            } else {
                const b = host.scratch_range(rng, 300);
                pointer = b.pointer;
                length = b.length;
            }
            const count: u32 = rng.pick(u32, &.{ 0, 1, 4, 8, sys.max_u32 });
            const out = if (rng.chance(85)) sys.addr(&out_addresses) else rng.pick(u64, &sys.bad_addresses);
            const timeout: u64 = rng.pick(u64, &.{ 0, 1000, 50_000 });
            const capacity: u32 = if (out == sys.addr(&out_addresses)) @min(count, out_addresses.len) else count;
            const r = host.result("net.resolve", sys.net_resolve(pointer, length, out, capacity, timeout), &.{ .bad_pointer, .out_of_range, .too_large, .not_found, .timed_out, .no_route, .limit_reached });
            if (r > capacity or r > abi.resolve_addresses_max) host.failure("net.resolve", "wrote more addresses than asked", @intCast(r));
        },
    }
}
