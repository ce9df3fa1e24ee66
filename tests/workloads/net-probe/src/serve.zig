//! The server modes: `tcp-echo PORT`, `http PORT` (a task per connection) and `udp-echo PORT`.

const std = @import("std");
const ukernel = @import("ukernel");
const memory = @import("memory.zig");

const net = ukernel.net;
const abi = ukernel.abi;
pub const Kind = enum(u32) { tcp_echo, http };

const backlog: u32 = 64;
const connection_stack_bytes: u64 = 64 * 1024;
/// How often the accept loop looks at the quit flag.
const accept_poll_ns: u64 = 200 * std.time.ns_per_ms;
const accepts_max: u64 = 10_000_000;
const header_bytes_max: usize = 8 * 1024;
const requests_max: u64 = 10_000_000;
const body_bytes_max: u64 = 64 << 20;
const datagrams_max: u64 = 10_000_000;

/// Connection tasks spawned and not yet joined: a task's slot is only released by task.join
/// (there is no detach), so the accept loop reaps the finished ones.
var tasks: [tasks_max]u32 = undefined;
var tasks_count: u32 = 0;
const tasks_max: u32 = 64;

/// Connections being served now (tasks running), for the memory report's `held`.
var connections = std.atomic.Value(u32).init(0);
/// Set by GET /quit: the accept loop ends, and with it the workload.
var quit = std.atomic.Value(bool).init(false);

pub fn run(kind: Kind, port_text: [*:0]const u8) u8 {
    const port = std.fmt.parseInt(u16, std.mem.span(port_text), 10) catch return 2;
    const listener = net.Socket.listen_tcp(net.Address.any(port), backlog) catch |err| {
        ukernel.print("FAIL {s}: listen on port {d}: {s}\n", .{ name(kind), port, @errorName(err) });
        return 1;
    };
    ukernel.print("{s}: ready port={d}\n", .{ name(kind), port });
    var accepted: u64 = 0;
    var refused: u64 = 0;
    while (accepted < accepts_max and !quit.load(.acquire)) {
        var items = [_]abi.PollItem{listener.poll_item(abi.poll_readable)};
        const ready = ukernel.poll(&items, accept_poll_ns) catch 0;
        reap();
        if (ready == 0) continue;
        const connection = listener.accept(.{}) catch |err| {
            ukernel.print("{s}: accept: {s}\n", .{ name(kind), @errorName(err) });
            continue;
        };
        accepted += 1;
        const argument = @as(u64, connection.socket.handle) | (@as(u64, @intFromEnum(kind)) << 32);
        _ = connections.fetchAdd(1, .acq_rel);
        spawn(argument) catch |err| {
            const open = connections.fetchSub(1, .acq_rel) - 1;
            connection.socket.close();
            refused += 1;
            // Said once, then every 100th: a test reading the console learns why answers stop.
            if (refused % 100 == 1) {
                ukernel.print("{s}: connection refused: spawn: {s} (connections open {d}, " ++
                    "refused {d})\n", .{ name(kind), @errorName(err), open, refused });
            }
        };
    }
    listener.close();
    ukernel.print("{s}: done accepted={d}\n", .{ name(kind), accepted });
    return 0;
}

fn spawn(argument: u64) ukernel.Error!void {
    if (tasks_count == tasks_max) return error.LimitReached;
    tasks[tasks_count] = try ukernel.spawn(&serve_connection, argument, connection_stack_bytes);
    tasks_count += 1;
}

/// Joins the connection tasks that ended (timeout 0: a running one is left for later).
fn reap() void {
    var index: u32 = 0;
    while (index < tasks_count) {
        const ended = if (ukernel.join(tasks[index], 0)) |_| true else |err| err != error.TimedOut;
        if (ended) {
            tasks_count -= 1;
            tasks[index] = tasks[tasks_count];
        } else index += 1;
    }
}

fn name(kind: Kind) []const u8 {
    return switch (kind) {
        .tcp_echo => "tcp-echo",
        .http => "http",
    };
}

fn serve_connection(argument: u64) callconv(.c) u32 {
    const socket: net.Socket = .{ .handle = @truncate(argument) };
    const kind: Kind = @enumFromInt(@as(u32, @truncate(argument >> 32)));
    defer {
        socket.close();
        _ = connections.fetchSub(1, .acq_rel);
    }
    switch (kind) {
        .tcp_echo => echo(socket) catch {},
        .http => http(socket) catch {},
    }
    return 0;
}

fn echo(socket: net.Socket) ukernel.Error!void {
    var buffer: [16 * 1024]u8 = undefined;
    var rounds: u64 = 0;
    while (rounds < requests_max) : (rounds += 1) {
        const n = try socket.recv(&buffer);
        if (n == 0) return;
        try socket.send_all(buffer[0..n]);
    }
}

const Request = struct { method: []const u8, path: []const u8, body_bytes: u64, close: bool, head_bytes: usize };

fn http(socket: net.Socket) ukernel.Error!void {
    var buffer: [header_bytes_max]u8 = undefined;
    var filled: usize = 0;
    var served: u64 = 0;
    while (served < requests_max) : (served += 1) {
        const end = while (true) {
            if (std.mem.indexOf(u8, buffer[0..filled], "\r\n\r\n")) |at| break at + 4;
            if (filled == buffer.len) return respond(socket, "431 Request Header Fields Too Large", "", true);
            const n = try socket.recv(buffer[filled..]);
            if (n == 0) return;
            filled += n;
        };
        const request = parse(buffer[0..end]) orelse return respond(socket, "400 Bad Request", "", true);
        const body_buffered = @min(filled - end, request.body_bytes);
        try answer(socket, request, buffer[end..][0..body_buffered]);
        if (request.close or quit.load(.acquire)) return;
        const leftover = filled - end - body_buffered;
        std.mem.copyForwards(u8, buffer[0..leftover], buffer[end + body_buffered .. filled]);
        filled = leftover;
    }
}

fn parse(head: []const u8) ?Request {
    var lines = std.mem.splitSequence(u8, head, "\r\n");
    var words = std.mem.splitScalar(u8, lines.next() orelse return null, ' ');
    var request: Request = .{
        .method = words.next() orelse return null,
        .path = words.next() orelse return null,
        .body_bytes = 0,
        .close = false,
        .head_bytes = head.len,
    };
    while (lines.next()) |line| {
        const colon = std.mem.indexOfScalar(u8, line, ':') orelse continue;
        const key = line[0..colon];
        const value = std.mem.trim(u8, line[colon + 1 ..], " \t");
        if (std.ascii.eqlIgnoreCase(key, "content-length")) {
            request.body_bytes = std.fmt.parseInt(u64, value, 10) catch return null;
            if (request.body_bytes > body_bytes_max) return null;
        }
        if (std.ascii.eqlIgnoreCase(key, "connection") and std.ascii.eqlIgnoreCase(value, "close")) {
            request.close = true;
        }
    }
    return request;
}

/// Answers one request whose body starts with `body_start` (the rest is still in the socket).
fn answer(socket: net.Socket, request: Request, body_start: []const u8) ukernel.Error!void {
    if (std.mem.eql(u8, request.method, "POST") and std.mem.eql(u8, request.path, "/echo")) {
        var head: [128]u8 = undefined;
        const text = std.fmt.bufPrint(&head, "HTTP/1.1 200 OK\r\nContent-Length: {d}\r\n" ++
            "Content-Type: application/octet-stream\r\n\r\n", .{request.body_bytes}) catch unreachable;
        try socket.send_all(text);
        try socket.send_all(body_start);
        return copy_body(socket, request.body_bytes - body_start.len, true);
    }
    try copy_body(socket, request.body_bytes - body_start.len, false);
    if (std.mem.eql(u8, request.path, "/")) return respond(socket, "200 OK", "net-probe\n", request.close);
    if (std.mem.eql(u8, request.path, "/memory")) {
        var buffer: [256]u8 = undefined;
        // The listener and this connection are the probe's; other connections too.
        const held = connections.load(.acquire) + 1;
        return respond(socket, "200 OK", memory.report(&buffer, held), request.close);
    }
    if (std.mem.eql(u8, request.path, "/quit")) {
        quit.store(true, .release);
        return respond(socket, "200 OK", "bye\n", true);
    }
    return respond(socket, "404 Not Found", "not found\n", request.close);
}

/// Reads `bytes` more of the body; sends them back when `echo_back`.
fn copy_body(socket: net.Socket, bytes: u64, echo_back: bool) ukernel.Error!void {
    var buffer: [16 * 1024]u8 = undefined;
    var left = bytes;
    while (left > 0) {
        const n = try socket.recv(buffer[0..@min(left, buffer.len)]);
        if (n == 0) return error.Closed;
        if (echo_back) try socket.send_all(buffer[0..n]);
        left -= n;
    }
}

fn respond(socket: net.Socket, status: []const u8, body: []const u8, close: bool) ukernel.Error!void {
    var head: [256]u8 = undefined;
    const text = std.fmt.bufPrint(&head, "HTTP/1.1 {s}\r\nContent-Length: {d}\r\nConnection: {s}\r\n\r\n", .{
        status, body.len, if (close) "close" else "keep-alive",
    }) catch unreachable;
    try socket.send_all(text);
    try socket.send_all(body);
}

/// Echoes datagrams on PORT to their senders until one says `QUIT` (answered `BYE`).
pub fn udp_echo(port_text: [*:0]const u8) u8 {
    const port = std.fmt.parseInt(u16, std.mem.span(port_text), 10) catch return 2;
    const socket = net.Socket.bind_udp(net.Address.any(port)) catch |err| {
        ukernel.print("FAIL udp-echo: bind port {d}: {s}\n", .{ port, @errorName(err) });
        return 1;
    };
    defer socket.close();
    ukernel.print("udp-echo: ready port={d}\n", .{port});
    var buffer: [abi.datagram_bytes_max]u8 = undefined;
    var echoed: u64 = 0;
    while (echoed < datagrams_max) {
        const datagram = socket.recvfrom(&buffer) catch |err| {
            ukernel.print("FAIL udp-echo: recvfrom: {s}\n", .{@errorName(err)});
            return 1;
        };
        const payload = buffer[0..datagram.length];
        if (std.mem.eql(u8, payload, "QUIT")) {
            socket.sendto("BYE", datagram.from) catch {};
            ukernel.print("udp-echo: done echoed={d}\n", .{echoed});
            return 0;
        }
        socket.sendto(payload, datagram.from) catch |err| {
            ukernel.print("udp-echo: sendto {f}: {s}\n", .{ datagram.from, @errorName(err) });
            continue;
        };
        echoed += 1;
    }
    return 0;
}
