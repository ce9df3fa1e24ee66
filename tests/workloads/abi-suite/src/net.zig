//! Conformance of the net.* calls, inside one guest over the loopback interface (127.0.0.1
//! needs no NIC: the suite runs with net = "none"): a listener and clients in the same task or
//! in tasks, data both ways with wake-ups, io.poll readiness, would_block, backpressure, the
//! close and reset semantics of io.close, UDP, options, names, limits and bad arguments.

const std = @import("std");
const ukernel = @import("ukernel");
const sys = @import("sys.zig");
const check = @import("check.zig");
const abi = sys.abi;
const E = abi.Error;

const ms: u64 = 1_000_000;
const Address = abi.SocketAddress;
const stream = abi.socket_stream;
const datagram = abi.socket_datagram;
const nonblocking = abi.flag_nonblocking;

var big: [256 * 1024]u8 align(4096) = undefined;
var sink: [64 * 1024]u8 align(64) = undefined;

fn s(text: []const u8) u64 {
    return @intFromPtr(text.ptr);
}

fn a(address: *const Address) u64 {
    return @intFromPtr(address);
}

/// A new socket, or null after a FAIL line.
fn open(name: []const u8, kind: u32, flags: u32) ?u32 {
    const h = check.quiet(name, sys.net_socket(kind, flags)) orelse return null;
    return sys.handle(h);
}

fn local(h: u32) Address {
    var address: Address = std.mem.zeroes(Address);
    _ = sys.net_local_address(h, a(&address));
    return address;
}

/// A listener on 127.0.0.1 (a free port), with its address.
const Listener = struct { handle: u32, address: Address };
fn listener(name: []const u8, backlog: u32) ?Listener {
    const h = open(name, stream, 0) orelse return null;
    const any = sys.inet4(127, 0, 0, 1, 0);
    if (check.quiet(name, sys.net_bind(h, a(&any))) == null) return null;
    if (check.quiet(name, sys.net_listen(h, backlog)) == null) return null;
    return .{ .handle = h, .address = local(h) };
}

/// A connected pair over loopback: a client connected to `to`, and the listener's side.
const Pair = struct { client: u32, server: u32 };
fn pair(name: []const u8, to: Listener) ?Pair {
    const client = open(name, stream, 0) orelse return null;
    if (check.quiet(name, sys.net_connect(client, a(&to.address))) == null) return null;
    const server = check.quiet(name, sys.net_accept(to.handle, 0, 0)) orelse return null;
    return .{ .client = client, .server = sys.handle(server) };
}

fn close_pair(p: Pair) void {
    _ = sys.io_close(p.client);
    _ = sys.io_close(p.server);
}

const Polled = struct { count: i64, revents: u16 };
fn poll1(h: u32, events: u16, timeout_ns: u64) Polled {
    var items = [1]abi.PollItem{.{ .handle = h, .events = events, .revents = 0 }};
    const count = sys.io_poll(sys.addr(&items), 1, timeout_ns);
    return .{ .count = count, .revents = items[0].revents };
}

fn same(x: Address, y: Address) bool {
    return std.mem.eql(u8, std.mem.asBytes(&x), std.mem.asBytes(&y));
}

pub fn run() void {
    check.section("net");
    creation_checks();
    stream_checks();
    blocking_checks();
    stall_checks();
    bulk_checks();
    shutdown_checks();
    close_checks();
    connect_failure_checks();
    backlog_checks();
    datagram_checks();
    option_checks();
    resolve_checks();
    argument_checks();
    limit_checks();
    sdk_checks();
}

// ---- Creation, bind, listen ----------------------------------------------------------------------

fn creation_checks() void {
    for ([_]u32{ 0, 3, sys.max_u32 }) |kind| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "net.socket.kind_{d}", .{kind}) catch "net.socket.kind", sys.net_socket(kind, 0), .out_of_range);
    }
    _ = check.err("net.socket.flags_2", sys.net_socket(stream, 2), .out_of_range);
    const h = open("net.socket", stream, 0) orelse return;
    defer _ = sys.io_close(h);
    _ = check.truth("net.socket.handle", h != abi.handle_console and h != 0, "handle {d}", .{h});
    var zero: Address = undefined;
    _ = check.value("net.local_address.unbound", sys.net_local_address(h, a(&zero)), 0);
    _ = check.truth("net.local_address.unbound_port_0", zero.port == 0, "port {d}", .{zero.port});
    _ = check.err("net.peer_address.unconnected", sys.net_peer_address(h, a(&zero)), .not_connected);
    _ = check.err("net.recv.unconnected", sys.net_recv(h, sys.addr(&sink), 16, nonblocking), .not_connected);
    _ = check.err("net.send.unconnected", sys.net_send(h, s("x"), 1, nonblocking), .not_connected);
    var bad_family = sys.inet4(127, 0, 0, 1, 0);
    bad_family.family = 7;
    _ = check.err("net.bind.family_7", sys.net_bind(h, a(&bad_family)), .out_of_range);
    var v6 = sys.inet4(0, 0, 0, 0, 0);
    v6.family = abi.family_inet6;
    _ = check.err("net.bind.inet6_unsupported", sys.net_bind(h, a(&v6)), .unsupported);
    var junk = sys.inet4(127, 0, 0, 1, 0);
    junk.address[9] = 1;
    _ = check.err("net.bind.inet4_nonzero_tail", sys.net_bind(h, a(&junk)), .out_of_range);
    const any = sys.inet4(127, 0, 0, 1, 0);
    _ = check.value("net.bind.loopback_port_0", sys.net_bind(h, a(&any)), 0);
    const bound = local(h);
    _ = check.truth("net.local_address.bound", bound.family == abi.family_inet4 and bound.port != 0 and bound.address[0] == 127 and bound.address[3] == 1, "family {d} port {d} address {d}.{d}.{d}.{d}", .{ bound.family, bound.port, bound.address[0], bound.address[1], bound.address[2], bound.address[3] });
    _ = check.err("net.bind.twice", sys.net_bind(h, a(&any)), .already_connected);
    const other = open("net.socket.second", stream, 0) orelse return;
    defer _ = sys.io_close(other);
    _ = check.err("net.bind.address_in_use", sys.net_bind(other, a(&bound)), .address_in_use);
    _ = check.value("net.listen", sys.net_listen(h, 4), 0);
    _ = check.err("net.listen.twice", sys.net_listen(h, 4), .already_connected);
    _ = check.err("net.connect.on_listener", sys.net_connect(h, a(&bound)), .already_connected);
    _ = check.err("net.send.on_listener", sys.net_send(h, s("x"), 1, nonblocking), .not_connected);
    // A listener without bind gets a free port.
    const unbound = open("net.listen.unbound", stream, 0) orelse return;
    defer _ = sys.io_close(unbound);
    _ = check.value("net.listen.unbound_binds", sys.net_listen(unbound, 1), 0);
    _ = check.truth("net.listen.unbound_port", local(unbound).port != 0, "port 0 after listen", .{});
    const udp = open("net.socket.datagram", datagram, 0) orelse return;
    defer _ = sys.io_close(udp);
    _ = check.err("net.listen.datagram", sys.net_listen(udp, 1), .unsupported);
    _ = check.err("net.accept.datagram", sys.net_accept(udp, 0, 0), .unsupported);
    _ = check.err("net.accept.not_listening", sys.net_accept(other, 0, 0), .unsupported);
}

// ---- A connection: data both ways, readiness, peek, io.read/io.write --------------------------------

fn stream_checks() void {
    const l = listener("net.stream.listener", 4) orelse return;
    defer _ = sys.io_close(l.handle);
    _ = check.value("net.accept.nonblocking_empty", sys.net_set_option(l.handle, abi.option_nonblocking, 1), 0);
    _ = check.err("net.accept.would_block", sys.net_accept(l.handle, 0, 0), .would_block);
    _ = check.value("io.poll.listener_idle", poll1(l.handle, abi.poll_readable, 0).count, 0);
    const client = open("net.stream.client", stream, 0) orelse return;
    defer _ = sys.io_close(client);
    _ = check.value("net.connect.loopback", sys.net_connect(client, a(&l.address)), 0);
    _ = check.err("net.connect.again", sys.net_connect(client, a(&l.address)), .already_connected);
    const ready = poll1(l.handle, abi.poll_readable, 2000 * ms);
    _ = check.truth("io.poll.listener_readable", ready.count == 1 and ready.revents == abi.poll_readable, "count {d} revents {d}", .{ ready.count, ready.revents });
    var peer: Address = undefined;
    const accepted = sys.net_accept(l.handle, a(&peer), 0);
    const server = sys.handle(check.ok("net.accept", accepted) orelse return);
    defer _ = sys.io_close(server);
    _ = check.truth("net.accept.peer_is_client", same(peer, local(client)), "peer port {d}, client port {d}", .{ peer.port, local(client).port });
    var seen: Address = undefined;
    _ = sys.net_peer_address(client, a(&seen));
    _ = check.truth("net.peer_address.client", same(seen, l.address), "port {d}, want {d}", .{ seen.port, l.address.port });
    _ = check.truth("net.local_address.accepted", local(server).port == l.address.port, "port {d}", .{local(server).port});
    _ = check.value("net.accept.new_socket_blocking", sys.net_get_option(server, abi.option_nonblocking), 0);

    _ = check.err("net.recv.nothing_yet", sys.net_recv(server, sys.addr(&sink), sink.len, nonblocking), .would_block);
    _ = check.value("io.poll.server_not_readable", poll1(server, abi.poll_readable, 0).count, 0);
    const writable = poll1(client, abi.poll_writable | abi.poll_readable, 0);
    _ = check.truth("io.poll.client_writable", writable.count == 1 and writable.revents == abi.poll_writable, "count {d} revents {d}", .{ writable.count, writable.revents });
    _ = check.value("net.send", sys.net_send(client, s("hello"), 5, 0), 5);
    const readable = poll1(server, abi.poll_readable, 2000 * ms);
    _ = check.truth("io.poll.server_readable", readable.count == 1 and readable.revents == abi.poll_readable, "count {d} revents {d}", .{ readable.count, readable.revents });
    _ = check.value("net.recv.peek", sys.net_recv(server, sys.addr(&sink), sink.len, abi.flag_peek), 5);
    _ = check.value("net.recv.after_peek", sys.net_recv(server, sys.addr(&sink), 3, 0), 3);
    _ = check.truth("net.recv.data", std.mem.eql(u8, sink[0..3], "hel"), "got {s}", .{sink[0..3]});
    _ = check.value("net.recv.rest", sys.net_recv(server, sys.addr(&sink), sink.len, 0), 2);
    _ = check.truth("net.recv.rest_data", std.mem.eql(u8, sink[0..2], "lo"), "got {s}", .{sink[0..2]});
    _ = check.value("net.recv.empty_buffer", sys.net_recv(server, sys.addr(&sink), 0, nonblocking), 0);
    // io.write / io.read are net.send / net.recv.
    _ = check.value("io.write.socket", sys.io_write(server, s("reply!"), 6), 6);
    var got: [16]u8 = undefined;
    const n = sys.io_read(client, sys.addr(&got), got.len);
    _ = check.truth("io.read.socket", n == 6 and std.mem.eql(u8, got[0..6], "reply!"), "read {s}", .{sys.name(n)});
    _ = check.value("net.send.empty", sys.net_send(client, s("x"), 0, 0), 0);
}

// ---- Blocking calls woken by other tasks ---------------------------------------------------------------

var woke_result: i64 = 0;
fn t_delayed_send(argument: u64) callconv(.c) u32 {
    _ = sys.task_sleep(3 * ms);
    return if (sys.net_send(@truncate(argument), s("late"), 4, 0) == 4) 0 else 1;
}
/// Connects to the address at `argument` after 3 ms, holds the connection 5 ms, closes it.
fn t_delayed_connect(argument: u64) callconv(.c) u32 {
    _ = sys.task_sleep(3 * ms);
    const h = sys.net_socket(stream, 0);
    if (h < 0) return 1;
    const result = sys.net_connect(sys.handle(h), argument);
    _ = sys.task_sleep(5 * ms);
    _ = sys.io_close(sys.handle(h));
    return if (result == 0) 0 else 2;
}
fn t_blocked_recv(argument: u64) callconv(.c) u32 {
    var bytes: [8]u8 = undefined;
    woke_result = sys.net_recv(@truncate(argument), sys.addr(&bytes), bytes.len, 0);
    return 0;
}

var accept_result: i64 = 0;
fn t_accept(argument: u64) callconv(.c) u32 {
    accept_result = sys.net_accept(@truncate(argument), 0, 0);
    if (accept_result >= 0) _ = sys.io_close(sys.handle(accept_result));
    return 0;
}

/// While a task waits in net.accept, the handle it will return is taken but no socket yet:
/// no call may reach a socket through it (once, it named socket 0, another task's).
fn accept_handle_checks(l: Listener) void {
    const acceptor = sys.task_spawn(@intFromPtr(&t_accept), l.handle, 0);
    if (check.quiet("net.accept.task", acceptor) == null) return;
    _ = sys.task_yield();
    var reachable: u32 = 0;
    for (0..1024) |h| {
        if (sys.net_get_option(@intCast(h), abi.option_nonblocking) >= 0) reachable += 1;
    }
    _ = check.truth("net.accept.waiting_handle_unreachable", reachable == 1, "{d} handles reach a socket (want 1: the listener)", .{reachable});
    const client = open("net.accept.task_client", stream, 0) orelse return;
    _ = sys.net_connect(client, a(&l.address));
    _ = sys.task_join(sys.handle(acceptor), 5000 * ms);
    _ = check.truth("net.accept.in_task", accept_result >= 0, "{s}", .{sys.name(accept_result)});
    _ = sys.io_close(client);
}

fn blocking_checks() void {
    const l = listener("net.blocking.listener", 4) orelse return;
    defer _ = sys.io_close(l.handle);
    accept_handle_checks(l);
    // A blocking accept waits for a connection made later by another task.
    const connector = sys.task_spawn(@intFromPtr(&t_delayed_connect), sys.addr(&l.address), 0);
    const t0 = sys.now();
    const accepted = sys.net_accept(l.handle, 0, 0);
    const waited = sys.since(t0);
    _ = check.truth("net.accept.blocks_until_connection", accepted >= 0 and waited >= 3 * ms, "accept returned {s} after {d} ns", .{ sys.name(accepted), waited });
    if (accepted >= 0) _ = sys.io_close(sys.handle(accepted));
    if (connector >= 0) _ = check.value("net.connect.from_task", sys.task_join(sys.handle(connector), 5000 * ms), 0);

    const p = pair("net.blocking.pair", l) orelse return;
    defer close_pair(p);
    const sender = sys.task_spawn(@intFromPtr(&t_delayed_send), p.client, 0);
    const t1 = sys.now();
    const n = sys.net_recv(p.server, sys.addr(&sink), sink.len, 0);
    _ = check.truth("net.recv.blocks_until_data", n == 4 and sys.since(t1) >= 3 * ms, "recv returned {s} after {d} ns", .{ sys.name(n), sys.since(t1) });
    if (sender >= 0) _ = sys.task_join(sys.handle(sender), 5000 * ms);
    // A poll waits for data as well.
    const sender2 = sys.task_spawn(@intFromPtr(&t_delayed_send), p.client, 0);
    const polled = poll1(p.server, abi.poll_readable, 5000 * ms);
    _ = check.truth("io.poll.wakes_on_data", polled.count == 1 and polled.revents & abi.poll_readable != 0, "count {d} revents {d}", .{ polled.count, polled.revents });
    _ = sys.net_recv(p.server, sys.addr(&sink), sink.len, 0);
    if (sender2 >= 0) _ = sys.task_join(sys.handle(sender2), 5000 * ms);
    // A task blocked in recv on a socket another task closes wakes with bad_handle.
    const extra = pair("net.blocking.pair2", l) orelse return;
    _ = sys.io_close(extra.client);
    woke_result = 12345;
    const reader = sys.task_spawn(@intFromPtr(&t_blocked_recv), extra.server, 0);
    _ = sys.task_sleep(2 * ms);
    _ = sys.io_close(extra.server);
    if (reader >= 0) _ = sys.task_join(sys.handle(reader), 5000 * ms);
    // The client's close sent a FIN first: the blocked reader may have seen the end (0).
    _ = check.truth("net.recv.blocked_reader_woken_by_close", woke_result == 0 or woke_result == sys.err(.bad_handle), "recv returned {s}", .{sys.name(woke_result)});
}

// ---- Loopback packets do not wait for lwIP's timers -------------------------------------------------------

fn t_echo(argument: u64) callconv(.c) u32 {
    const h: u32 = @truncate(argument);
    var bytes: [64]u8 = undefined;
    var rounds: u32 = 0;
    while (rounds < 100_000) : (rounds += 1) {
        const n = sys.net_recv(h, sys.addr(&bytes), bytes.len, 0);
        if (n <= 0) return 0;
        if (sys.net_send(h, sys.addr(&bytes), @intCast(n), 0) != n) return 1;
    }
    return 2;
}

/// 100 round trips of 8 bytes through an echo task take microseconds each (KVM ~1 µs, TCG
/// ~20 µs). Once, packets on the loopback interface waited for lwIP's next timer (250 ms) when
/// every task was blocked: about 90 ms per round trip. The bound (10 ms each) only tells a
/// stall from a delivery, it is no benchmark.
fn stall_checks() void {
    const l = listener("net.stall.listener", 2) orelse return;
    defer _ = sys.io_close(l.handle);
    const p = pair("net.stall.pair", l) orelse return;
    const echo = sys.task_spawn(@intFromPtr(&t_echo), p.server, 0);
    if (check.quiet("net.stall.echo", echo) == null) return;
    var bytes: [8]u8 = .{ 1, 2, 3, 4, 5, 6, 7, 8 };
    const t0 = sys.now();
    var done: u32 = 0;
    while (done < 100) : (done += 1) {
        if (sys.net_send(p.client, sys.addr(&bytes), bytes.len, 0) != bytes.len) break;
        if (sys.net_recv(p.client, sys.addr(&bytes), bytes.len, 0) != bytes.len) break;
    }
    const elapsed = sys.since(t0);
    _ = check.truth("net.loopback_round_trips_not_timer_bound", done == 100 and elapsed < 1000 * ms, "{d} of 100 round trips in {d} ms", .{ done, elapsed / ms });
    _ = sys.io_close(p.client);
    _ = sys.task_join(sys.handle(echo), 5000 * ms);
    _ = sys.io_close(p.server);
}

// ---- Bulk data: backpressure, would_block, writable again ---------------------------------------------

var bulk_sum: u64 = 0;
fn t_bulk_send(argument: u64) callconv(.c) u32 {
    const h: u32 = @truncate(argument);
    var sent: usize = 0;
    var rounds: usize = 0;
    while (sent < big.len and rounds < 100_000) : (rounds += 1) {
        const piece = @min(big.len - sent, 16 * 1024);
        const n = sys.net_send(h, sys.addr(&big) + sent, piece, 0);
        if (n <= 0) return 1;
        sent += @intCast(n);
    }
    _ = sys.net_shutdown(h, abi.shutdown_write);
    return if (sent == big.len) 0 else 2;
}

fn bulk_checks() void {
    for (&big, 0..) |*byte, index| byte.* = @truncate(index *% 7 +% (index >> 11));
    var expected: u64 = 0;
    for (big) |byte| expected = expected *% 31 +% byte;
    const l = listener("net.bulk.listener", 4) orelse return;
    defer _ = sys.io_close(l.handle);
    const p = pair("net.bulk.pair", l) orelse return;
    defer close_pair(p);
    // Without a reader the send buffer fills: a non-blocking send then returns would_block.
    // A would_block lets the network move (the peer's window takes what was in flight), so the
    // sender fills again until both its buffer and the reader's window are full.
    var queued: u64 = 0;
    var last: i64 = 0;
    var full = poll1(p.client, abi.poll_writable, 0);
    for (0..64) |_| {
        last = sys.net_send(p.client, sys.addr(&big), 32 * 1024, nonblocking);
        if (last >= 0) {
            queued += @intCast(last);
            continue;
        }
        full = poll1(p.client, abi.poll_writable, 0);
        if (full.count == 0) break;
    }
    _ = check.truth("net.send.fills_then_would_block", last == sys.err(.would_block) and queued > 0 and queued < 2 << 20, "queued {d} bytes, last send {s}", .{ queued, sys.name(last) });
    _ = check.truth("io.poll.full_not_writable", full.count == 0, "count {d} revents {d}", .{ full.count, full.revents });
    // Draining makes it writable again.
    var drained: u64 = 0;
    var rounds: u32 = 0;
    while (drained < queued and rounds < 10_000) : (rounds += 1) {
        const n = sys.net_recv(p.server, sys.addr(&sink), sink.len, 0);
        if (n <= 0) break;
        drained += @intCast(n);
    }
    _ = check.truth("net.recv.drains_all", drained == queued, "drained {d} of {d}", .{ drained, queued });
    const again = poll1(p.client, abi.poll_writable, 2000 * ms);
    _ = check.truth("io.poll.writable_after_drain", again.count == 1 and again.revents == abi.poll_writable, "count {d} revents {d}", .{ again.count, again.revents });

    // 256 KiB from a task, more than the window and the send buffer: checksummed.
    const sender = sys.task_spawn(@intFromPtr(&t_bulk_send), p.client, 0);
    var sum: u64 = 0;
    var total: usize = 0;
    rounds = 0;
    while (rounds < 100_000) : (rounds += 1) {
        const n = sys.net_recv(p.server, sys.addr(&sink), 3000 + rounds % 5000, 0);
        if (n <= 0) break;
        for (sink[0..@intCast(n)]) |byte| sum = sum *% 31 +% byte;
        total += @intCast(n);
    }
    const status = if (sender >= 0) sys.task_join(sys.handle(sender), 20_000 * ms) else sender;
    _ = check.truth("net.bulk_256k_checksummed", total == big.len and sum == expected and status == 0, "received {d} of {d} bytes, checksum {s}, sender status {s}", .{ total, big.len, if (sum == expected) "ok" else "differs", sys.name(status) });
}

// ---- Half-close ---------------------------------------------------------------------------------------

fn shutdown_checks() void {
    const l = listener("net.shutdown.listener", 4) orelse return;
    defer _ = sys.io_close(l.handle);
    const p = pair("net.shutdown.pair", l) orelse return;
    defer close_pair(p);
    _ = check.err("net.shutdown.how_0", sys.net_shutdown(p.client, 0), .out_of_range);
    _ = check.err("net.shutdown.how_4", sys.net_shutdown(p.client, 4), .out_of_range);
    _ = sys.net_send(p.client, s("last words"), 10, 0);
    _ = check.value("net.shutdown.write", sys.net_shutdown(p.client, abi.shutdown_write), 0);
    _ = check.err("net.send.after_shutdown", sys.net_send(p.client, s("x"), 1, 0), .closed);
    _ = check.value("net.recv.before_end", sys.net_recv(p.server, sys.addr(&sink), sink.len, 0), 10);
    _ = check.value("net.recv.end_of_stream", sys.net_recv(p.server, sys.addr(&sink), sink.len, 0), 0);
    const eof = poll1(p.server, abi.poll_readable | abi.poll_writable, 0);
    _ = check.truth("io.poll.end_readable_still_writable", eof.revents == abi.poll_readable | abi.poll_writable, "revents {d}", .{eof.revents});
    // The other direction still works.
    _ = check.value("net.send.half_closed_peer", sys.net_send(p.server, s("ack"), 3, 0), 3);
    _ = check.value("net.recv.half_closed_self", sys.net_recv(p.client, sys.addr(&sink), sink.len, 0), 3);
    _ = check.value("net.shutdown.server_write", sys.net_shutdown(p.server, abi.shutdown_write), 0);
    _ = check.value("net.recv.client_end", sys.net_recv(p.client, sys.addr(&sink), sink.len, 0), 0);
    const done = poll1(p.client, abi.poll_readable, 100 * ms);
    _ = check.truth("io.poll.both_shut_closed", done.revents & abi.poll_closed != 0, "revents {d}", .{done.revents});
    // shutdown_read: data is discarded, recv returns 0.
    const q = pair("net.shutdown.pair2", l) orelse return;
    defer close_pair(q);
    _ = check.value("net.shutdown.read", sys.net_shutdown(q.server, abi.shutdown_read), 0);
    _ = sys.net_send(q.client, s("ignored"), 7, 0);
    _ = sys.task_sleep(2 * ms);
    _ = check.value("net.recv.after_shutdown_read", sys.net_recv(q.server, sys.addr(&sink), sink.len, nonblocking), 0);
}

// ---- io.close: FIN, or reset for unread data ----------------------------------------------------------

fn close_checks() void {
    const l = listener("net.close.listener", 4) orelse return;
    defer _ = sys.io_close(l.handle);
    // Closed with nothing unread: the peer reads the end of the stream.
    const p = pair("net.close.pair", l) orelse return;
    _ = sys.net_send(p.server, s("bye"), 3, 0);
    _ = check.value("io.close.socket", sys.io_close(p.server), 0);
    _ = check.err("io.close.socket_twice", sys.io_close(p.server), .bad_handle);
    _ = check.err("net.send.closed_handle", sys.net_send(p.server, s("x"), 1, 0), .bad_handle);
    _ = check.value("net.recv.data_before_fin", sys.net_recv(p.client, sys.addr(&sink), sink.len, 0), 3);
    _ = check.value("net.recv.fin_after_close", sys.net_recv(p.client, sys.addr(&sink), sink.len, 0), 0);
    _ = sys.io_close(p.client);

    // Closed with unread data while the peer still sends: a reset.
    const q = pair("net.close.pair2", l) orelse return;
    _ = sys.net_send(q.client, s("unread"), 6, 0);
    _ = poll1(q.server, abi.poll_readable, 2000 * ms);
    _ = sys.io_close(q.server);
    const reset = poll1(q.client, abi.poll_readable, 2000 * ms);
    _ = check.truth("io.poll.reset_error_closed", reset.revents & abi.poll_error != 0 and reset.revents & abi.poll_closed != 0, "revents {d}", .{reset.revents});
    _ = check.err("net.recv.reset_by_close_with_unread_data", sys.net_recv(q.client, sys.addr(&sink), sink.len, 0), .connection_reset);
    _ = check.value("net.recv.after_reset_read", sys.net_recv(q.client, sys.addr(&sink), sink.len, 0), 0);
    _ = sys.io_close(q.client);

    // The peer sent a request and its FIN; the server replies without reading it all and
    // closes: the reply arrives whole, then the end of the stream, no reset.
    const r = pair("net.close.pair3", l) orelse return;
    _ = sys.net_send(r.client, s("request\n"), 8, 0);
    _ = sys.net_shutdown(r.client, abi.shutdown_write);
    const seen = poll1(r.server, abi.poll_readable, 2000 * ms);
    _ = sys.task_sleep(2 * ms);
    _ = sys.net_recv(r.server, sys.addr(&sink), 3, 0); // Reads only part of the request.
    const reply_length = 40 * 1024;
    const queued = sys.net_send(r.server, sys.addr(&big), reply_length, 0);
    _ = sys.io_close(r.server);
    var total: usize = 0;
    var last: i64 = 0;
    var rounds: u32 = 0;
    while (rounds < 1000) : (rounds += 1) {
        last = sys.net_recv(r.client, sys.addr(&sink), sink.len, 0);
        if (last <= 0) break;
        total += @intCast(last);
    }
    _ = check.truth("io.close.after_peer_fin_no_reset", seen.count == 1 and queued == reply_length and total == reply_length and last == 0, "sent {s}, received {d} bytes, then {s}", .{ sys.name(queued), total, sys.name(last) });
    _ = sys.io_close(r.client);
}

// ---- Failing connections ------------------------------------------------------------------------------

fn connect_failure_checks() void {
    // A port nobody listens on: the stack answers the SYN with a reset.
    const closed_port = blk: {
        const l = listener("net.refused.probe", 1) orelse return;
        const port = l.address.port;
        _ = sys.io_close(l.handle);
        break :blk port;
    };
    const nowhere = sys.inet4(127, 0, 0, 1, closed_port);
    const h = open("net.refused", stream, 0) orelse return;
    _ = check.err("net.connect.refused", sys.net_connect(h, a(&nowhere)), .connection_refused);
    _ = sys.io_close(h);
    // Non-blocking: would_block, then poll_error, and option_error says why (once).
    const n = open("net.refused.nonblocking", stream, nonblocking) orelse return;
    _ = check.err("net.connect.nonblocking_in_progress", sys.net_connect(n, a(&nowhere)), .would_block);
    const failed = poll1(n, abi.poll_writable, 2000 * ms);
    _ = check.truth("io.poll.refused_error", failed.count == 1 and failed.revents & abi.poll_error != 0, "count {d} revents {d}", .{ failed.count, failed.revents });
    _ = check.value("net.get_option.error_refused", sys.net_get_option(n, abi.option_error), @intFromEnum(E.connection_refused));
    _ = check.value("net.get_option.error_cleared", sys.net_get_option(n, abi.option_error), 0);
    _ = sys.io_close(n);
    // No NIC (net = "none"): nothing routes outside 127/8.
    const far = sys.inet4(192, 0, 2, 1, 80);
    const f = open("net.no_route", stream, 0) orelse return;
    _ = check.err("net.connect.no_route", sys.net_connect(f, a(&far)), .no_route);
    _ = sys.io_close(f);
    // Non-blocking success: would_block, writable when established, then already_connected.
    const l = listener("net.nonblocking.listener", 2) orelse return;
    defer _ = sys.io_close(l.handle);
    const c = open("net.nonblocking.client", stream, nonblocking) orelse return;
    defer _ = sys.io_close(c);
    _ = check.err("net.connect.nonblocking", sys.net_connect(c, a(&l.address)), .would_block);
    const up = poll1(c, abi.poll_writable, 2000 * ms);
    _ = check.truth("io.poll.connected_writable", up.count == 1 and up.revents == abi.poll_writable, "count {d} revents {d}", .{ up.count, up.revents });
    _ = check.err("net.connect.nonblocking_done", sys.net_connect(c, a(&l.address)), .already_connected);
    _ = check.value("net.get_option.error_none", sys.net_get_option(c, abi.option_error), 0);
}

// ---- Backlog -------------------------------------------------------------------------------------------

fn backlog_checks() void {
    const l = listener("net.backlog.listener", 2) orelse return;
    defer _ = sys.io_close(l.handle);
    var clients: [3]u32 = undefined;
    for (&clients) |*c| {
        c.* = open("net.backlog.client", stream, nonblocking) orelse return;
        _ = sys.net_connect(c.*, a(&l.address));
    }
    defer for (clients) |c| {
        _ = sys.io_close(c);
    };
    _ = sys.task_sleep(20 * ms);
    var connected: u32 = 0;
    for (clients) |c| {
        if (poll1(c, abi.poll_writable, 0).count == 1) connected += 1;
    }
    // Two wait in the backlog; the third's SYN is dropped (its client retries later).
    _ = check.truth("net.listen.backlog_holds_extra", connected == 2, "{d} of 3 clients connected with backlog 2", .{connected});
    var accepted: u32 = 0;
    for (0..2) |_| {
        const h = sys.net_accept(l.handle, 0, nonblocking);
        if (h >= 0) {
            accepted += 1;
            _ = check.value("net.accept.flag_nonblocking", sys.net_get_option(sys.handle(h), abi.option_nonblocking), 1);
            _ = sys.io_close(sys.handle(h));
        }
    }
    _ = check.value("net.accept.backlog", accepted, 2);
    _ = check.err("net.accept.flags_2", sys.net_accept(l.handle, 0, 2), .out_of_range);
}

// ---- UDP ----------------------------------------------------------------------------------------------

fn datagram_checks() void {
    const x = open("net.udp.x", datagram, 0) orelse return;
    defer _ = sys.io_close(x);
    const y = open("net.udp.y", datagram, nonblocking) orelse return;
    defer _ = sys.io_close(y);
    const loopback = sys.inet4(127, 0, 0, 1, 0);
    _ = check.value("net.bind.udp", sys.net_bind(x, a(&loopback)), 0);
    _ = check.value("net.bind.udp2", sys.net_bind(y, a(&loopback)), 0);
    const xa = local(x);
    const ya = local(y);
    _ = check.err("net.recvfrom.empty", sys.net_recvfrom(y, sys.addr(&sink), sink.len, 0, 0), .would_block);
    _ = check.truth("io.poll.udp_writable", poll1(y, abi.poll_writable, 0).revents == abi.poll_writable, "not writable", .{});
    _ = check.value("net.sendto", sys.net_sendto(x, s("ping"), 4, a(&ya), 0), 4);
    const ready = poll1(y, abi.poll_readable, 2000 * ms);
    _ = check.truth("io.poll.udp_readable", ready.count == 1, "count {d}", .{ready.count});
    var from: Address = undefined;
    const n = sys.net_recvfrom(y, sys.addr(&sink), sink.len, a(&from), 0);
    _ = check.truth("net.recvfrom", n == 4 and std.mem.eql(u8, sink[0..4], "ping") and same(from, xa), "got {s}, from port {d} (want {d})", .{ sys.name(n), from.port, xa.port });
    // A datagram longer than the buffer is cut; the rest is gone.
    _ = sys.net_sendto(x, sys.addr(&big), 100, a(&ya), 0);
    _ = poll1(y, abi.poll_readable, 2000 * ms);
    _ = check.value("net.recvfrom.peek", sys.net_recvfrom(y, sys.addr(&sink), 10, 0, abi.flag_peek), 10);
    _ = check.value("net.recvfrom.cut", sys.net_recvfrom(y, sys.addr(&sink), 10, 0, 0), 10);
    _ = check.err("net.recvfrom.rest_dropped", sys.net_recvfrom(y, sys.addr(&sink), sink.len, 0, 0), .would_block);
    // Connected datagram sockets: net.send / net.recv.
    _ = check.err("net.send.udp_unconnected", sys.net_send(x, s("x"), 1, 0), .not_connected);
    _ = check.value("net.connect.udp", sys.net_connect(x, a(&ya)), 0);
    var peer: Address = undefined;
    _ = sys.net_peer_address(x, a(&peer));
    _ = check.truth("net.peer_address.udp", same(peer, ya), "port {d}", .{peer.port});
    _ = check.value("net.send.udp", sys.net_send(x, s("pong!"), 5, 0), 5);
    _ = poll1(y, abi.poll_readable, 2000 * ms);
    _ = check.value("net.recv.udp", sys.net_recv(y, sys.addr(&sink), sink.len, 0), 5);
    _ = check.err("net.sendto.too_large", sys.net_sendto(x, sys.addr(&big), abi.datagram_bytes_max + 1, a(&ya), 0), .too_large);
    _ = check.value("net.sendto.largest", sys.net_sendto(x, sys.addr(&big), abi.datagram_bytes_max, a(&ya), 0), @intCast(abi.datagram_bytes_max));
    _ = poll1(y, abi.poll_readable, 2000 * ms);
    _ = check.value("net.recvfrom.largest", sys.net_recvfrom(y, sys.addr(&big) + 64 * 1024, abi.datagram_bytes_max, 0, 0), @intCast(abi.datagram_bytes_max));
    const tcp = open("net.udp.tcp", stream, 0) orelse return;
    defer _ = sys.io_close(tcp);
    _ = check.err("net.sendto.stream", sys.net_sendto(tcp, s("x"), 1, a(&ya), 0), .unsupported);
    _ = check.err("net.recvfrom.stream", sys.net_recvfrom(tcp, sys.addr(&sink), 1, 0, 0), .unsupported);
    _ = check.err("net.shutdown.udp", sys.net_shutdown(x, abi.shutdown_both), .unsupported);
    // Queue bound: more than the receive buffer is dropped, never blocks the sender.
    _ = check.value("net.set_option.udp_receive_buffer", sys.net_set_option(y, abi.option_receive_buffer_bytes, 4096), 0);
    for (0..8) |_| _ = sys.net_sendto(x, sys.addr(&big), 1000, a(&ya), 0);
    _ = sys.task_sleep(2 * ms);
    var received: u32 = 0;
    while (received < 100 and sys.net_recv(y, sys.addr(&sink), sink.len, 0) > 0) received += 1;
    _ = check.truth("net.udp.receive_buffer_bounds_queue", received >= 1 and received <= 4, "{d} of 8 datagrams of 1000 bytes queued with a 4096-byte buffer", .{received});
}

// ---- Options ------------------------------------------------------------------------------------------

fn option_checks() void {
    const h = open("net.options", stream, 0) orelse return;
    defer _ = sys.io_close(h);
    const options = [_]u32{ abi.option_tcp_nodelay, abi.option_keepalive, abi.option_reuse_address, abi.option_nonblocking };
    const labels = [_][]const u8{ "tcp_nodelay", "keepalive", "reuse_address", "nonblocking" };
    for (options, labels) |option, label| {
        var name: [64]u8 = undefined;
        _ = check.value(std.fmt.bufPrint(&name, "net.get_option.{s}_default", .{label}) catch "net.get_option", sys.net_get_option(h, option), 0);
        _ = sys.net_set_option(h, option, 1);
        _ = check.value(std.fmt.bufPrint(&name, "net.set_option.{s}", .{label}) catch "net.set_option", sys.net_get_option(h, option), 1);
        _ = check.err(std.fmt.bufPrint(&name, "net.set_option.{s}_2", .{label}) catch "net.set_option", sys.net_set_option(h, option, 2), .out_of_range);
        _ = sys.net_set_option(h, option, 0);
    }
    _ = check.value("net.set_option.send_buffer", sys.net_set_option(h, abi.option_send_buffer_bytes, 4096), 0);
    _ = check.value("net.get_option.send_buffer", sys.net_get_option(h, abi.option_send_buffer_bytes), 4096);
    _ = check.value("net.set_option.send_buffer_huge", sys.net_set_option(h, abi.option_send_buffer_bytes, sys.max_u64), 0);
    const lowered = sys.net_get_option(h, abi.option_send_buffer_bytes);
    _ = check.truth("net.get_option.send_buffer_lowered", lowered >= 4096 and lowered < 1 << 30, "{d}", .{lowered});
    _ = check.err("net.set_option.send_buffer_small", sys.net_set_option(h, abi.option_send_buffer_bytes, abi.socket_buffer_bytes_min - 1), .out_of_range);
    const window = sys.net_get_option(h, abi.option_receive_buffer_bytes);
    _ = check.truth("net.get_option.stream_receive_buffer", window >= abi.socket_buffer_bytes_min, "{d}", .{window});
    _ = check.err("net.set_option.stream_receive_buffer", sys.net_set_option(h, abi.option_receive_buffer_bytes, 8192), .unsupported);
    _ = check.err("net.set_option.error_read_only", sys.net_set_option(h, abi.option_error, 0), .out_of_range);
    _ = check.err("net.set_option.unknown", sys.net_set_option(h, 99, 1), .out_of_range);
    _ = check.err("net.get_option.unknown", sys.net_get_option(h, 0), .out_of_range);
    const u = open("net.options.udp", datagram, 0) orelse return;
    defer _ = sys.io_close(u);
    _ = check.err("net.set_option.udp_nodelay", sys.net_set_option(u, abi.option_tcp_nodelay, 1), .unsupported);
    _ = check.err("net.get_option.udp_send_buffer", sys.net_get_option(u, abi.option_send_buffer_bytes), .unsupported);
    // Nagle off on a connection: small writes still arrive.
    const l = listener("net.options.listener", 2) orelse return;
    defer _ = sys.io_close(l.handle);
    _ = sys.net_set_option(l.handle, abi.option_tcp_nodelay, 1);
    const p = pair("net.options.pair", l) orelse return;
    defer close_pair(p);
    _ = check.value("net.accept.inherits_nodelay", sys.net_get_option(p.server, abi.option_tcp_nodelay), 1);
    _ = sys.net_set_option(p.client, abi.option_tcp_nodelay, 1);
    for (0..3) |_| _ = sys.net_send(p.client, s("ab"), 2, 0);
    var got: usize = 0;
    var rounds: u32 = 0;
    while (got < 6 and rounds < 100) : (rounds += 1) {
        const n = sys.net_recv(p.server, sys.addr(&sink), sink.len, 0);
        if (n <= 0) break;
        got += @intCast(n);
    }
    _ = check.value("net.tcp_nodelay.small_writes", @intCast(got), 6);
}

// ---- Names ----------------------------------------------------------------------------------------------

fn resolve_checks() void {
    var out: [4]Address = undefined;
    const one = sys.net_resolve(s("127.0.0.1"), 9, sys.addr(&out), out.len, 1000 * ms);
    _ = check.truth("net.resolve.numeric", one == 1 and same(out[0], sys.inet4(127, 0, 0, 1, 0)), "{s}", .{sys.name(one)});
    const host = sys.net_resolve(s("localhost"), 9, sys.addr(&out), out.len, 1000 * ms);
    _ = check.truth("net.resolve.localhost", host == 1 and same(out[0], sys.inet4(127, 0, 0, 1, 0)), "{s}", .{sys.name(host)});
    _ = check.value("net.resolve.numeric_10", sys.net_resolve(s("10.0.2.2"), 8, sys.addr(&out), 1, 0), 1);
    _ = check.err("net.resolve.empty", sys.net_resolve(s("x"), 0, sys.addr(&out), 1, 0), .out_of_range);
    _ = check.err("net.resolve.count_0", sys.net_resolve(s("localhost"), 9, sys.addr(&out), 0, 0), .out_of_range);
    _ = check.err("net.resolve.name_too_long", sys.net_resolve(sys.addr(&big), abi.host_name_bytes_max + 1, sys.addr(&out), 1, 0), .too_large);
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "net.resolve.name_{s}", .{label}) catch "net.resolve.name", sys.net_resolve(address, 9, sys.addr(&out), 1, 0), .bad_pointer);
        _ = check.err(std.fmt.bufPrint(&name, "net.resolve.out_{s}", .{label}) catch "net.resolve.out", sys.net_resolve(s("localhost"), 9, address, 1, 0), .bad_pointer);
    }
    // No NIC, so no DNS server: no_route at once.
    const unknown = sys.net_resolve(s("example.invalid"), 15, sys.addr(&out), 1, 200 * ms);
    _ = check.err("net.resolve.no_server", unknown, .no_route);
}

// ---- Bad arguments ----------------------------------------------------------------------------------------

fn argument_checks() void {
    const h = open("net.arguments", stream, 0) orelse return;
    defer _ = sys.io_close(h);
    const channel = sys.channel_create(1, 8);
    defer if (channel >= 0) {
        _ = sys.io_close(sys.handle(channel));
        _ = sys.io_close(sys.handle(channel));
    };
    const loopback = sys.inet4(127, 0, 0, 1, 9);
    var out: Address = undefined;
    const not_sockets = [_]u32{ 0, abi.handle_console, 999, sys.max_u32, if (channel >= 0) sys.handle(channel) else 0 };
    for (not_sockets) |bad| {
        var name: [64]u8 = undefined;
        const results = [_]i64{
            sys.net_bind(bad, a(&loopback)),                 sys.net_listen(bad, 1),
            sys.net_accept(bad, 0, 0),                       sys.net_connect(bad, a(&loopback)),
            sys.net_send(bad, s("x"), 1, 0),                 sys.net_recv(bad, sys.addr(&sink), 1, 0),
            sys.net_sendto(bad, s("x"), 1, a(&loopback), 0), sys.net_recvfrom(bad, sys.addr(&sink), 1, 0, 0),
            sys.net_shutdown(bad, 1),                        sys.net_local_address(bad, a(&out)),
            sys.net_peer_address(bad, a(&out)),              sys.net_set_option(bad, abi.option_nonblocking, 1),
            sys.net_get_option(bad, abi.option_nonblocking),
        };
        var wrong: usize = 0;
        for (results) |r| {
            if (r != sys.err(.bad_handle)) wrong += 1;
        }
        _ = check.truth(std.fmt.bufPrint(&name, "net.bad_handle_{d}", .{bad}) catch "net.bad_handle", wrong == 0, "{d} of {d} calls did not return bad_handle", .{ wrong, results.len });
    }
    const layout = sys.stack_layout();
    const bad_pointers = sys.bad_addresses ++ [_]u64{ layout.guard(1), layout.top - 4 };
    for (bad_pointers) |address| {
        const results = [_]i64{
            sys.net_bind(h, address),                 sys.net_connect(h, address),
            sys.net_local_address(h, address),        sys.net_send(h, address, 8, 0),
            sys.net_sendto(h, s("x"), 1, address, 0),
        };
        var wrong: usize = 0;
        for (results) |r| {
            if (r != sys.err(.bad_pointer) and r != sys.err(.unsupported)) wrong += 1;
        }
        var name: [64]u8 = undefined;
        _ = check.truth(std.fmt.bufPrint(&name, "net.bad_pointer_0x{x}", .{address}) catch "net.bad_pointer", wrong == 0, "{d} of {d} calls accepted 0x{x}", .{ wrong, results.len, address });
    }
    _ = check.err("net.local_address.null", sys.net_local_address(h, 0), .bad_pointer);
    _ = check.err("net.send.too_large", sys.net_send(h, sys.addr(&big), abi.write_bytes_max + 1, 0), .too_large);
    _ = check.err("net.send.flags", sys.net_send(h, s("x"), 1, 2), .out_of_range);
    _ = check.err("net.recv.flags", sys.net_recv(h, sys.addr(&sink), 1, 4), .out_of_range);
    _ = check.err("net.recv.guard_page", sys.net_recv(h, layout.guard(1), 16, 0), .bad_pointer);
    // A misaligned address is fine: the kernel copies it.
    var bytes: [32]u8 align(4) = undefined;
    const odd = sys.addr(&bytes) + 1;
    @memcpy(bytes[1..21], std.mem.asBytes(&sys.inet4(127, 0, 0, 1, 0)));
    _ = check.value("net.bind.misaligned_address", sys.net_bind(h, odd), 0);
    _ = check.value("net.local_address.misaligned", sys.net_local_address(h, odd), 0);
}

// ---- Limits --------------------------------------------------------------------------------------------------

fn limit_checks() void {
    var opened: [1024]u32 = undefined;
    var count: usize = 0;
    var last: i64 = 0;
    while (count < opened.len) {
        // Streams: lwIP has fewer UDP PCBs than the kernel has sockets (no_memory first).
        last = sys.net_socket(stream, 0);
        if (last < 0) break;
        opened[count] = sys.handle(last);
        count += 1;
    }
    _ = check.truth("net.socket.limit_reached", last == sys.err(.limit_reached) and count >= 16, "opened {d} sockets, then {s}", .{ count, sys.name(last) });
    for (opened[0..count]) |h| _ = sys.io_close(h);
    const again = sys.net_socket(stream, 0);
    _ = check.truth("net.socket.after_limit", again >= 0, "{s}", .{sys.name(again)});
    if (again >= 0) _ = sys.io_close(sys.handle(again));
}

// ---- The Zig SDK's net API (ukernel.net) on the same calls ---------------------------------------------

fn t_sdk_echo(argument: u64) callconv(.c) u32 {
    const server: ukernel.net.Socket = .{ .handle = @truncate(argument) };
    const accepted = server.accept(.{}) catch return 1;
    defer accepted.socket.close();
    var buffer: [4096]u8 = undefined;
    var rounds: u32 = 0;
    while (rounds < 10_000) : (rounds += 1) {
        const n = accepted.socket.recv(&buffer) catch return 2;
        if (n == 0) return 0;
        accepted.socket.send_all(buffer[0..n]) catch return 3;
    }
    return 4;
}

fn sdk_checks() void {
    const net = ukernel.net;
    const parsed = net.Address.parse("127.0.0.1:8080", 0) catch net.Address.any(0);
    var text: [64]u8 = undefined;
    const shown = std.fmt.bufPrint(&text, "{f}", .{parsed}) catch "";
    _ = check.truth("sdk.net.address_parse_format", std.mem.eql(u8, shown, "127.0.0.1:8080") and parsed.port() == 8080, "{s}", .{shown});
    _ = check.truth("sdk.net.address_parse_bad", if (net.Address.parse("1.2.3", 80)) |_| false else |_| true, "accepted 1.2.3", .{});
    for ([_][]const u8{ "1_0.0.0.1:80", "+1.2.3.4", "01.2.3.4", "1.2.3.4:+80", "1.2.3.4:080", "1.2.3.4:65536", "1.2.3.256" }) |bad| {
        _ = check.truth("sdk.net.address_parse_strict", if (net.Address.parse(bad, 80)) |_| false else |_| true, "accepted {s}", .{bad});
    }
    const server = net.Socket.listen_tcp(net.Address.loopback(0), 4) catch |err| {
        check.fail("sdk.net.listen_tcp", "{s}", .{@errorName(err)});
        return;
    };
    defer server.close();
    const address = server.local_address() catch net.Address.any(0);
    _ = check.truth("sdk.net.listen_tcp", address.port() != 0, "port 0", .{});
    const echo = sys.task_spawn(@intFromPtr(&t_sdk_echo), server.handle, 0);
    const client = net.Socket.connect_tcp(address) catch |err| {
        check.fail("sdk.net.connect_tcp", "{s}", .{@errorName(err)});
        return;
    };
    const message = "the SDK's echo, round trip";
    var reply: [message.len]u8 = undefined;
    const sent = if (client.send_all(message)) true else |_| false;
    const received = if (client.recv_all(&reply)) true else |_| false;
    _ = check.truth("sdk.net.echo", sent and received and std.mem.eql(u8, &reply, message), "sent {}, received {}", .{ sent, received });
    client.shutdown(.write) catch {};
    var rest: [8]u8 = undefined;
    const end = client.recv(&rest) catch 99;
    _ = check.truth("sdk.net.end_of_stream", end == 0, "recv after shutdown gave {d}", .{end});
    client.close();
    if (echo >= 0) _ = check.value("sdk.net.echo_task", sys.task_join(sys.handle(echo), 5000 * ms), 0);
    // A refused connection, as a Zig error.
    const refused = net.Socket.connect_tcp(net.Address.loopback(address.port() +% 1));
    _ = check.truth("sdk.net.connect_refused", if (refused) |_| false else |err| err == error.ConnectionRefused, "not refused", .{});
    var found: [2]net.Address = undefined;
    const names = net.resolve("localhost", &found, 1000 * ms) catch &.{};
    _ = check.truth("sdk.net.resolve", names.len == 1 and names[0].eql(net.Address.loopback(0)), "{d} addresses", .{names.len});
    // UDP.
    const a_socket = net.Socket.bind_udp(net.Address.loopback(0)) catch return;
    defer a_socket.close();
    const b_socket = net.Socket.bind_udp(net.Address.loopback(0)) catch return;
    defer b_socket.close();
    const b_address = b_socket.local_address() catch net.Address.any(0);
    a_socket.sendto("dgram", b_address) catch {};
    var datagram_bytes: [16]u8 = undefined;
    const got = b_socket.recvfrom(&datagram_bytes) catch net.Datagram{ .length = 0, .from = net.Address.any(0) };
    const a_address = a_socket.local_address() catch net.Address.any(0);
    _ = check.truth("sdk.net.udp", got.length == 5 and got.from.eql(a_address), "{d} bytes from {f}", .{ got.length, got.from });
    _ = check.truth("sdk.net.take_error_none", a_socket.take_error() == null, "an error on a healthy socket", .{});
}

// ---- `net-timeouts`: TIME_WAIT's end, and a blocking connect that times out (about 20 s) --------------

var timeout_result: i64 = 0;
var timeout_waited_ns: u64 = 0;
var timeout_error_after: i64 = 0;
/// A blocking connect to the address at `argument`, whose listener drops the SYNs.
fn t_connect_timeout(argument: u64) callconv(.c) u32 {
    const h = sys.net_socket(stream, 0);
    if (h < 0) return 1;
    const t0 = sys.now();
    timeout_result = sys.net_connect(sys.handle(h), argument);
    timeout_waited_ns = sys.since(t0);
    timeout_error_after = sys.net_get_option(sys.handle(h), abi.option_error);
    _ = sys.io_close(sys.handle(h));
    return 0;
}

/// A connect to a listener whose backlog is full (its SYNs are dropped) gets timed_out when
/// lwIP gives up, after 6 retransmissions 3 s apart (about 18 s), and only once.
fn start_connect_timeout() ?struct { task: u32, full: Listener, waiting: u32 } {
    const full = listener("net.timeout.listener", 1) orelse return null;
    const waiting = open("net.timeout.backlog_filler", stream, 0) orelse return null;
    if (check.quiet("net.timeout.fill", sys.net_connect(waiting, a(&full.address))) == null) return null;
    _ = sys.task_sleep(5 * ms); // The filler is now in the backlog.
    const task = sys.task_spawn(@intFromPtr(&t_connect_timeout), sys.addr(&full.address), 0);
    if (check.quiet("net.timeout.task", task) == null) return null;
    return .{ .task = sys.handle(task), .full = full, .waiting = waiting };
}

/// Both sides shut down (the client first, so its connection goes to TIME_WAIT); after TIME_WAIT
/// (2 x lwIP's TCP_MSL, 10 s) lwIP frees the connection without a callback, and the next
/// connection reuses it. The client's socket must no longer reach it: its calls and its close
/// must leave the new connection alone. Meanwhile a task's connect times out. Exit status: the
/// failures.
pub fn timeouts() u8 {
    check.section("net timeouts");
    const slow = start_connect_timeout() orelse return 1;
    const l = listener("net.time_wait.listener", 4) orelse return 1;
    const old = pair("net.time_wait.old", l) orelse return 1;
    _ = check.value("net.time_wait.client_shutdown", sys.net_shutdown(old.client, abi.shutdown_write), 0);
    _ = check.value("net.time_wait.server_end", sys.net_recv(old.server, sys.addr(&sink), sink.len, 0), 0);
    _ = check.value("net.time_wait.server_shutdown", sys.net_shutdown(old.server, abi.shutdown_write), 0);
    _ = check.value("net.time_wait.client_end", sys.net_recv(old.client, sys.addr(&sink), sink.len, 0), 0);
    _ = sys.io_close(old.server);
    ukernel.print("net timeouts: waiting 11 s for TIME_WAIT to end\n", .{});
    _ = sys.task_sleep(11_000 * ms);
    const fresh = pair("net.time_wait.new", l) orelse return 1;
    var out: Address = undefined;
    _ = check.ok_or("net.time_wait.local_address", sys.net_local_address(old.client, a(&out)), &.{});
    _ = check.errs("net.time_wait.send", sys.net_send(old.client, s("x"), 1, 0), &.{.closed});
    _ = check.value("net.time_wait.recv", sys.net_recv(old.client, sys.addr(&sink), sink.len, 0), 0);
    _ = check.value("net.time_wait.close", sys.io_close(old.client), 0);
    _ = check.value("net.time_wait.new_send", sys.net_send(fresh.client, s("alive"), 5, nonblocking), 5);
    const polled = poll1(fresh.server, abi.poll_readable, 2000 * ms);
    const n = sys.net_recv(fresh.server, sys.addr(&sink), sink.len, nonblocking);
    _ = check.truth("net.time_wait.new_connection_intact", polled.count == 1 and n == 5, "poll {d}, recv {s}", .{ polled.count, sys.name(n) });
    _ = check.value("net.time_wait.new_reply", sys.net_send(fresh.server, s("yes"), 3, nonblocking), 3);
    _ = poll1(fresh.client, abi.poll_readable, 2000 * ms); // Bounded: a broken one must not hang.
    _ = check.value("net.time_wait.new_reply_read", sys.net_recv(fresh.client, sys.addr(&sink), sink.len, nonblocking), 3);
    close_pair(fresh);
    _ = sys.io_close(l.handle);
    _ = check.value("net.connect.timeout_task", sys.task_join(slow.task, 30_000 * ms), 0);
    _ = check.truth("net.connect.timed_out", timeout_result == sys.err(.timed_out) and timeout_waited_ns >= 15_000 * ms and timeout_waited_ns < 25_000 * ms, "{s} after {d} ms", .{ sys.name(timeout_result), timeout_waited_ns / ms });
    _ = check.value("net.connect.timed_out_reported_once", timeout_error_after, 0);
    _ = sys.io_close(slow.waiting);
    _ = sys.io_close(slow.full.handle);
    ukernel.print("net timeouts: {d} passed, {d} failed\n", .{ check.passes, check.failures });
    return @intCast(@min(check.failures, 255));
}
