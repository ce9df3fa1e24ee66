//! An HTTP/1.1 server on ukernel's net.* ABI: one task runs an event loop over io.poll with
//! non-blocking sockets, so hundreds of slow clients cost no threads. Keep-alive by default
//! (HTTP/1.1), `Connection: close` honoured, HTTP/1.0 served one request per connection.
//!
//!     ukernel run --publish 8080:80              then  curl http://127.0.0.1:8080/
//!     ukernel run --publish 8080:8000 -- 8000    (the port: argv[1], else HTTP_PORT, else 80)
//!
//! Routes (HEAD works wherever GET does):
//!     GET  /           a small HTML page
//!     GET  /healthz    "ok"
//!     GET  /api/info   JSON: uptime, requests served, connections open, the ABI version
//!     POST /echo       the request body back (Content-Length bodies up to body_bytes_max)
//!     GET  /bytes?n=N  N bytes of the pattern byte[i] = i % 251
//! /echo and /bytes answers carry `X-Checksum`: the body's CRC-32 (zlib's crc32) as 8 lowercase
//! hex digits. Errors: 400 malformed request, 404 unknown path, 405 wrong method (with Allow),
//! 413 body too large, 431 head too large, 501 Transfer-Encoding, 503 body memory exhausted,
//! 505 not HTTP/1.x. After a 400/413/431/501/503/505 the connection closes.
//!
//! Every request gets a trace span named after its route (`ukernel trace` shows them; argv[2]
//! or HTTP_SPAN_EVERY=N keeps one in N, 0 none); a log record is written every
//! log_every_requests requests and for every rejected request.
//! The same file builds as a Linux process too: see README.md (bench/net/build-host.sh).

const std = @import("std");
const ukernel = @import("ukernel");
const abi = ukernel.abi;
const net = ukernel.net;

// ---- Limits -------------------------------------------------------------------------------------

/// Connections served at once; more wait in the listener's backlog. The kernel's socket limit
/// (net_sockets_max, 384) counts the listener and the backlog too, so both stay below it.
const connections_max = 200;
/// Connections lwIP completes for us before we accept them: a burst of clients connecting at
/// once lands in one poll, and SYNs past the backlog wait a second for the peer's retransmit.
const listen_backlog = 128;
/// The request line, headers and the blank line after them; longer: 431.
const head_bytes_max = 8 * 1024;
const header_lines_max = 100;
/// A request body (Content-Length); longer: 413. Only /echo keeps its body in memory.
const body_bytes_max = 2 * 1024 * 1024;
/// /echo bodies held at once across all connections; beyond: 503.
const bodies_bytes_max = 16 * 1024 * 1024;
/// Largest n of GET /bytes (generated while sending: it costs no memory, but its checksum is
/// computed first, in one turn of the loop).
const pattern_bytes_max = 16 * 1024 * 1024;
/// Each connection's response buffer: the head plus any small body, sent with one net.send.
const out_bytes = 8 * 1024;
/// Room kept before an /echo body for the response head, so head and body go in one send.
const head_reserve_bytes = 1024;
/// A keep-alive connection with no request in progress is closed after this.
const idle_timeout_ns = 30 * std.time.ns_per_s;
/// From a request's first byte to its last: a slow sender (slowloris) is cut off after this.
const request_timeout_ns = 30 * std.time.ns_per_s;
/// A response that makes no progress for this long (the client stopped reading) is abandoned.
const send_stall_timeout_ns = 30 * std.time.ns_per_s;
/// After the last response of a connection: how long its remaining input is read and dropped,
/// so that closing does not reset the connection under the client's feet.
const linger_timeout_ns = 2 * std.time.ns_per_s;
/// io.poll's timeout: the timeouts above are checked at least this often.
const poll_timeout_ns = 1 * std.time.ns_per_s;
/// After accept fails (out of sockets or memory), how long the listener rests.
const accept_pause_ns = 100 * std.time.ns_per_ms;
/// Work one connection may do per wake-up before the others get their turn.
const accepts_per_turn_max = 16;
const sends_per_turn_max = 16;
const receives_per_turn_max = 16;
/// A summary log record every this many requests (not one per request: logs are not free).
const log_every_requests = 1000;
const port_default = 80;
/// A trace span for one request in this many (argv[2], else HTTP_SPAN_EVERY; 0: none). Each
/// span is two records on the events device, which costs: measured under QEMU user networking
/// on this project's machine, spans on every request about halved the requests per second
/// (wrk -c10: 7-10k with, 15-18k without). A benchmark may sample.
const span_every_default = 1;

// ---- Connections --------------------------------------------------------------------------------

const State = enum { free, reading_head, reading_body, writing, lingering };
const Method = enum { get, head, post, other };
const Route = enum { index, healthz, info, echo, bytes, unknown };

const Request = struct {
    method: Method,
    route: Route,
    keep_alive: bool,
    content_length: u64,
    /// GET /bytes: how many bytes.
    pattern_length: u64,
    /// `Expect: 100-continue`: the client waits for an interim 100 before sending its body.
    expect_continue: bool,
};

const Connection = struct {
    state: State = .free,
    socket: net.Socket = undefined,
    /// Past it, sweep() closes the connection (what it waits for depends on the state).
    deadline_ns: u64 = 0,
    /// Received and not yet consumed: the head being read, then pipelined requests.
    in: [head_bytes_max]u8 = undefined,
    in_length: u32 = 0,
    request: Request = undefined,
    /// Body bytes still to receive; /echo keeps them in `body`, other routes drop them.
    body_remaining: u64 = 0,
    /// /echo: head_reserve_bytes, then the body (from ukernel.allocator).
    body: ?[]u8 = null,
    out: [out_bytes]u8 = undefined,
    /// What is being sent (out, or the head and body in `body`), and how much of it is sent.
    pending: []const u8 = &.{},
    pending_sent: usize = 0,
    /// GET /bytes: the pattern's next offset and its end, refilled into `out` as it drains.
    pattern_next: u64 = 0,
    pattern_end: u64 = 0,
    close_after: bool = false,
};

/// Slots [0, slots_used) have been used (each is free or serving); the rest were never touched.
/// So start-up does not write to every slot (200 slots of ~24 KiB: a first touch of each page
/// costs microseconds under nested KVM), and each turn scans only the slots ever used.
var connections: [connections_max]Connection = undefined;
var slots_used: u32 = 0;
/// After accept failed: no accepting before this time (0: accepting).
var accept_paused_until_ns: u64 = 0;
var listener: net.Socket = undefined;
var scratch: [16 * 1024]u8 = undefined;

const Stats = struct {
    requests: u64 = 0,
    rejected: u64 = 0,
    accepted: u64 = 0,
    open: u32 = 0,
    aborted: u64 = 0,
    bodies_bytes: u64 = 0,
};
var stats: Stats = .{};
var span_every: u64 = span_every_default;

/// The workload's entry: binds the port and serves until the VM is stopped.
pub fn main(context: ukernel.Context) !u8 {
    const port = setting(u16, context, 1, "HTTP_PORT", port_default) orelse 0;
    const every = setting(u64, context, 2, "HTTP_SPAN_EVERY", span_every_default);
    if (port == 0 or every == null) {
        ukernel.print("PROJECT_NAME: usage: [port 1-65535 (HTTP_PORT)] " ++
            "[a span every N requests, 0 none (HTTP_SPAN_EVERY)]\n", .{});
        return 2;
    }
    span_every = every.?;
    listener = try net.Socket.open(.stream, true);
    try listener.set_option(.reuse_address, 1);
    listener.bind(net.Address.any(port)) catch |err| {
        ukernel.print("PROJECT_NAME: cannot bind port {d}: {s}\n", .{ port, @errorName(err) });
        return 1;
    };
    try listener.listen(listen_backlog);
    ukernel.print("PROJECT_NAME: listening on http://0.0.0.0:{d}/\n", .{port});
    var port_text: [8]u8 = undefined;
    ukernel.log.fields(abi.log_level_info, "listening", &.{
        .{ .key = "port", .value = std.fmt.bufPrint(&port_text, "{d}", .{port}) catch "?" },
    });
    ukernel.trace.event("listening", port);
    while (true) try serve_once();
}

/// argv[position], else `key` from the environment (env/ukernel.env), else `default`; null if
/// it is not a number of type T.
fn setting(
    comptime T: type,
    context: ukernel.Context,
    position: usize,
    key: []const u8,
    default: T,
) ?T {
    const text = if (context.args.len > position)
        std.mem.span(context.args[position])
    else
        context.getenv(key) orelse return default;
    return std.fmt.parseUnsigned(T, text, 10) catch null;
}

/// One turn of the event loop: wait for any socket to be ready, then serve what is ready.
fn serve_once() !void {
    var items: [1 + connections_max]abi.PollItem = undefined;
    var slots: [1 + connections_max]u32 = undefined;
    // Stop accepting while the table is full (clients wait in the backlog meanwhile), and for a
    // moment after accept failed (out of memory): the listener stays readable, and polling it
    // again at once would spin.
    const now_ns = ukernel.now_ns();
    const accepting = stats.open < connections_max and now_ns >= accept_paused_until_ns;
    items[0] = listener.poll_item(if (accepting) abi.poll_readable else 0);
    var count: u32 = 1;
    for (connections[0..slots_used], 0..) |*connection, slot| {
        const events: u16 = switch (connection.state) {
            .free => continue,
            .reading_head, .reading_body, .lingering => abi.poll_readable,
            .writing => abi.poll_writable,
        };
        items[count] = connection.socket.poll_item(events);
        slots[count] = @intCast(slot);
        count += 1;
    }
    std.debug.assert(count == 1 + stats.open);
    const pause_ns = accept_paused_until_ns -| now_ns;
    _ = try ukernel.poll(items[0..count], if (pause_ns > 0) @min(pause_ns, poll_timeout_ns) else poll_timeout_ns);
    if (items[0].revents & abi.poll_readable != 0) accept_some();
    for (items[1..count], slots[1..count]) |item, slot| {
        if (item.revents != 0) service(&connections[slot], item.revents);
    }
    sweep(ukernel.now_ns());
}

fn accept_some() void {
    for (0..accepts_per_turn_max) |_| {
        if (stats.open == connections_max) return;
        const accepted = listener.accept(.{ .nonblocking = true }) catch |err| switch (err) {
            error.WouldBlock => return,
            else => {
                // Out of sockets or memory: the client waits in the backlog; the server goes on,
                // and tries again after accept_pause_ns (one warning per streak of failures).
                if (accept_paused_until_ns == 0) ukernel.log.warn("accept failed: {s}", .{@errorName(err)});
                accept_paused_until_ns = ukernel.now_ns() + accept_pause_ns;
                return;
            },
        };
        accept_paused_until_ns = 0;
        // A whole response goes in one send: nothing is gained by Nagle's delay.
        accepted.socket.set_option(.tcp_nodelay, 1) catch {};
        const connection = for (connections[0..slots_used]) |*candidate| {
            if (candidate.state == .free) break candidate;
        } else fresh: {
            // Every used slot is busy, and stats.open < connections_max: a new one is left.
            std.debug.assert(slots_used < connections_max);
            slots_used += 1;
            break :fresh &connections[slots_used - 1];
        };
        connection.* = .{ .state = .reading_head, .socket = accepted.socket };
        connection.deadline_ns = ukernel.now_ns() + idle_timeout_ns;
        stats.open += 1;
        stats.accepted += 1;
    }
}

/// Closes connections whose deadline passed (idle, too slow a request, stalled, lingering).
fn sweep(now_ns: u64) void {
    for (connections[0..slots_used]) |*connection| {
        if (connection.state == .free or now_ns < connection.deadline_ns) continue;
        if (connection.state == .writing or connection.state == .reading_body) stats.aborted += 1;
        finish(connection);
    }
}

/// Releases everything the connection holds; the slot is free again.
fn finish(connection: *Connection) void {
    std.debug.assert(connection.state != .free);
    release_body(connection);
    connection.socket.close();
    connection.state = .free;
    stats.open -= 1;
}

fn release_body(connection: *Connection) void {
    const body = connection.body orelse return;
    stats.bodies_bytes -= body.len;
    ukernel.allocator.free(body);
    connection.body = null;
}

/// Closes at once (the peer reset the connection, or sent garbage we will not read on).
fn abort(connection: *Connection) void {
    stats.aborted += 1;
    finish(connection);
}

fn service(connection: *Connection, revents: u16) void {
    if (revents & (abi.poll_readable | abi.poll_writable) == 0) {
        // Only poll_closed or poll_error: nothing more can arrive or leave.
        const quiet = connection.state == .lingering or
            (connection.state == .reading_head and connection.in_length == 0);
        if (quiet) finish(connection) else abort(connection);
        return;
    }
    switch (connection.state) {
        .free => unreachable,
        .reading_head, .reading_body => receive(connection),
        .writing => process(connection), // Sends, then serves any pipelined request.
        .lingering => linger(connection),
    }
}

// ---- Receiving ------------------------------------------------------------------------------

fn receive(connection: *Connection) void {
    for (0..receives_per_turn_max) |_| {
        const received = connection.socket.recv(receive_buffer(connection)) catch |err| {
            switch (err) {
                error.WouldBlock => {},
                else => abort(connection), // Reset by the client: nothing to answer.
            }
            return;
        };
        if (received == 0) {
            // The client finished sending. Between requests that is the normal end.
            const between = connection.state == .reading_head and connection.in_length == 0;
            if (between) finish(connection) else abort(connection);
            return;
        }
        if (connection.state == .reading_head) {
            if (connection.in_length == 0) {
                connection.deadline_ns = ukernel.now_ns() + request_timeout_ns;
            }
            connection.in_length += @intCast(received);
        } else {
            connection.body_remaining -= received;
        }
        process(connection);
        if (connection.state != .reading_head and connection.state != .reading_body) return;
    }
}

/// Where the next bytes go: the head buffer, the /echo body, or scratch (a body we drop).
fn receive_buffer(connection: *Connection) []u8 {
    if (connection.state == .reading_head) {
        std.debug.assert(connection.in_length < head_bytes_max);
        return connection.in[connection.in_length..];
    }
    std.debug.assert(connection.state == .reading_body and connection.body_remaining > 0);
    const wanted = connection.body_remaining;
    if (connection.body) |body| return body[body.len - wanted ..];
    return scratch[0..@min(scratch.len, wanted)];
}

/// Steps process() may take in one call: enough for every request a full input buffer can
/// hold (a head is at least 16 bytes; each request takes at most three steps), so requests a
/// client pipelined never wait for input that will not come.
const process_steps_max = 3 * (head_bytes_max / 16 + 1);

/// Moves the connection on as far as the bytes it has allow: parse heads, take bodies, start
/// responses and send them (several, when the client pipelines).
fn process(connection: *Connection) void {
    for (0..process_steps_max) |_| {
        switch (connection.state) {
            .reading_head => if (!start_request(connection)) break,
            .reading_body => {
                if (connection.body_remaining > 0) break;
                respond(connection);
            },
            .writing => {
                send_some(connection);
                if (connection.state == .writing) break;
            },
            .free, .lingering => break,
        }
    }
    // A full buffer always holds a head, which the steps above have consumed or rejected.
    std.debug.assert(connection.state != .reading_head or connection.in_length < head_bytes_max);
}

/// Parses a complete head, if there is one; false while more bytes are needed.
fn start_request(connection: *Connection) bool {
    const buffered = connection.in[0..connection.in_length];
    const head_end = std.mem.indexOf(u8, buffered, "\r\n\r\n") orelse {
        if (buffered.len == head_bytes_max) reject(connection, error.HeadTooLarge);
        return connection.state != .reading_head;
    };
    const request = parse_head(buffered[0..head_end]) catch |err| {
        reject(connection, err);
        return true;
    };
    connection.request = request;
    consume(connection, head_end + 4);
    if (request.route == .echo and request.method == .post and request.content_length > 0) {
        if (stats.bodies_bytes + request.content_length > bodies_bytes_max) {
            reject(connection, error.Busy);
            return true;
        }
        const bytes = head_reserve_bytes + request.content_length;
        const body = ukernel.allocator.alloc(u8, bytes) catch {
            reject(connection, error.Busy);
            return true;
        };
        stats.bodies_bytes += body.len;
        connection.body = body;
    }
    // Body bytes that came with the head.
    const early = @min(connection.in_length, request.content_length);
    if (connection.body) |body| {
        @memcpy(body[head_reserve_bytes..][0..early], connection.in[0..early]);
    }
    consume(connection, early);
    connection.body_remaining = request.content_length - early;
    connection.state = .reading_body;
    if (request.expect_continue and connection.body_remaining > 0) send_continue(connection);
    return true;
}

/// The interim answer curl and others wait for (about a second) before sending a large body.
/// Best effort: with no send space now, the client sends its body after its own wait anyway.
fn send_continue(connection: *Connection) void {
    const interim = "HTTP/1.1 100 Continue\r\n\r\n";
    const sent = connection.socket.send(interim) catch |err| switch (err) {
        error.WouldBlock => return,
        else => return abort(connection),
    };
    // Half an interim response would corrupt the stream: give up on the connection instead.
    if (sent != interim.len) abort(connection);
}

/// Drops the first `bytes` of the input buffer (the rest is the next pipelined request).
fn consume(connection: *Connection, bytes: usize) void {
    std.debug.assert(bytes <= connection.in_length);
    const rest = connection.in[bytes..connection.in_length];
    std.mem.copyForwards(u8, connection.in[0..rest.len], rest);
    connection.in_length = @intCast(rest.len);
}

// ---- Parsing --------------------------------------------------------------------------------

const ParseError = error{
    BadRequest,
    HeadTooLarge,
    BodyTooLarge,
    NotImplemented,
    VersionNotSupported,
    Busy,
};

/// The request line and headers (without the final blank line).
fn parse_head(head: []const u8) ParseError!Request {
    var lines = std.mem.splitSequence(u8, head, "\r\n");
    const request_line = lines.first();
    var parts = std.mem.splitScalar(u8, request_line, ' ');
    const method_text = parts.next() orelse return error.BadRequest;
    const target = parts.next() orelse return error.BadRequest;
    const version = parts.next() orelse return error.BadRequest;
    if (parts.next() != null or method_text.len == 0 or !is_token(method_text)) {
        return error.BadRequest;
    }
    if (target.len == 0 or target[0] != '/') return error.BadRequest;
    if (!std.mem.startsWith(u8, version, "HTTP/")) return error.BadRequest;
    const http10 = std.mem.eql(u8, version, "HTTP/1.0");
    if (!http10 and !std.mem.eql(u8, version, "HTTP/1.1")) return error.VersionNotSupported;

    var request: Request = .{
        .method = method_of(method_text),
        .route = .unknown,
        .keep_alive = !http10,
        .content_length = 0,
        .pattern_length = 0,
        .expect_continue = false,
    };
    const path_end = std.mem.indexOfScalar(u8, target, '?') orelse target.len;
    request.route = route_of(target[0..path_end]);
    if (request.route == .bytes) {
        request.pattern_length = try pattern_length_of(target[path_end..]);
    }
    try parse_headers(&lines, &request, http10);
    return request;
}

fn parse_headers(
    lines: *std.mem.SplitIterator(u8, .sequence),
    request: *Request,
    http10: bool,
) ParseError!void {
    var hosts: u32 = 0;
    var content_length: ?u64 = null;
    for (0..header_lines_max + 1) |_| {
        const line = lines.next() orelse break;
        // obs-fold (a line starting with white space) is refused, as RFC 9112 §5.2 allows.
        if (line.len == 0 or line[0] == ' ' or line[0] == '\t') return error.BadRequest;
        const colon = std.mem.indexOfScalar(u8, line, ':') orelse return error.BadRequest;
        const name = line[0..colon];
        const value = std.mem.trim(u8, line[colon + 1 ..], " \t");
        if (name.len == 0 or !is_token(name)) return error.BadRequest;
        for (value) |byte| if (byte < ' ' and byte != '\t' or byte == 0x7f) return error.BadRequest;
        if (std.ascii.eqlIgnoreCase(name, "host")) {
            hosts += 1;
        } else if (std.ascii.eqlIgnoreCase(name, "content-length")) {
            const length = try content_length_of(value);
            if (content_length != null and content_length.? != length) return error.BadRequest;
            content_length = length;
        } else if (std.ascii.eqlIgnoreCase(name, "transfer-encoding")) {
            return error.NotImplemented; // No chunked request bodies: Content-Length only.
        } else if (std.ascii.eqlIgnoreCase(name, "expect")) {
            request.expect_continue = !http10 and std.ascii.eqlIgnoreCase(value, "100-continue");
        } else if (std.ascii.eqlIgnoreCase(name, "connection")) {
            var options = std.mem.tokenizeAny(u8, value, ", \t");
            while (options.next()) |option| {
                if (std.ascii.eqlIgnoreCase(option, "close")) request.keep_alive = false;
            }
        }
    } else return error.HeadTooLarge;
    // HTTP/1.1 requires exactly one Host header (RFC 9112 §3.2).
    if (!http10 and hosts != 1) return error.BadRequest;
    request.content_length = content_length orelse 0;
    if (request.content_length > body_bytes_max) return error.BodyTooLarge;
}

fn content_length_of(value: []const u8) ParseError!u64 {
    if (value.len == 0) return error.BadRequest;
    for (value) |byte| if (!std.ascii.isDigit(byte)) return error.BadRequest;
    return std.fmt.parseUnsigned(u64, value, 10) catch error.BodyTooLarge; // Only overflow.
}

/// `?n=N` (other parameters are ignored).
fn pattern_length_of(query: []const u8) ParseError!u64 {
    if (query.len == 0) return error.BadRequest;
    var parameters = std.mem.splitScalar(u8, query[1..], '&');
    while (parameters.next()) |parameter| {
        if (!std.mem.startsWith(u8, parameter, "n=")) continue;
        const n = std.fmt.parseUnsigned(u64, parameter[2..], 10) catch return error.BadRequest;
        if (n > pattern_bytes_max) return error.BadRequest;
        return n;
    }
    return error.BadRequest;
}

/// RFC 9110 §5.6.2 token characters.
fn is_token(text: []const u8) bool {
    for (text) |byte| {
        const symbol = std.mem.indexOfScalar(u8, "!#$%&'*+-.^_`|~", byte) != null;
        if (!std.ascii.isAlphanumeric(byte) and !symbol) return false;
    }
    return true;
}

fn method_of(text: []const u8) Method {
    if (std.mem.eql(u8, text, "GET")) return .get;
    if (std.mem.eql(u8, text, "HEAD")) return .head;
    if (std.mem.eql(u8, text, "POST")) return .post;
    return .other;
}

fn route_of(path: []const u8) Route {
    const routes = [_]struct { []const u8, Route }{
        .{ "/", .index },
        .{ "/healthz", .healthz },
        .{ "/api/info", .info },
        .{ "/echo", .echo },
        .{ "/bytes", .bytes },
    };
    for (routes) |entry| if (std.mem.eql(u8, path, entry[0])) return entry[1];
    return .unknown;
}

// ---- Responding -----------------------------------------------------------------------------

const Status = enum(u16) {
    ok = 200,
    bad_request = 400,
    not_found = 404,
    method_not_allowed = 405,
    body_too_large = 413,
    head_too_large = 431,
    not_implemented = 501,
    busy = 503,
    version_not_supported = 505,

    fn reason(status: Status) []const u8 {
        return switch (status) {
            .ok => "OK",
            .bad_request => "Bad Request",
            .not_found => "Not Found",
            .method_not_allowed => "Method Not Allowed",
            .body_too_large => "Content Too Large",
            .head_too_large => "Request Header Fields Too Large",
            .not_implemented => "Not Implemented",
            .busy => "Service Unavailable",
            .version_not_supported => "HTTP Version Not Supported",
        };
    }
};

const html_type = "Content-Type: text/html; charset=utf-8\r\n";
const index_page =
    \\<!doctype html>
    \\<html><head><meta charset="utf-8"><title>PROJECT_NAME</title></head>
    \\<body><h1>PROJECT_NAME</h1>
    \\<p>An HTTP/1.1 server running on ukernel.</p>
    \\<ul>
    \\<li><a href="/healthz">/healthz</a>: "ok"</li>
    \\<li><a href="/api/info">/api/info</a>: uptime and counters as JSON</li>
    \\<li>POST /echo: the request body back, with its CRC-32 in X-Checksum</li>
    \\<li><a href="/bytes?n=1024">/bytes?n=1024</a>: n bytes of a test pattern</li>
    \\</ul></body></html>
    \\
;

/// The request is complete (head and body): route it and start sending the response. The span
/// covers the work up to the response's first send; a long body goes out in later turns, while
/// other connections are served (a task keeps few spans open at once, so spans do not stay
/// open across turns).
fn respond(connection: *Connection) void {
    const request = connection.request;
    const method_ok = switch (request.route) {
        .unknown => true,
        .echo => request.method == .post,
        else => request.method == .get or request.method == .head,
    };
    stats.requests += 1;
    const traced = span_every != 0 and stats.requests % span_every == 0;
    const name = if (method_ok) span_name(request.route) else "method not allowed";
    const span: ?ukernel.trace.Span = if (traced) ukernel.trace.begin(name) else null;
    defer if (span) |opened| {
        _ = opened.end();
    };
    if (stats.requests % log_every_requests == 0) log_summary();
    connection.close_after = !request.keep_alive;
    if (!method_ok) {
        const allow = if (request.route == .echo) "Allow: POST\r\n" else "Allow: GET, HEAD\r\n";
        return respond_text(connection, .method_not_allowed, allow, "method not allowed\n");
    }
    switch (request.route) {
        .index => respond_text(connection, .ok, html_type, index_page),
        .healthz => respond_text(connection, .ok, "", "ok"),
        .info => respond_info(connection),
        .echo => respond_echo(connection),
        .bytes => respond_pattern(connection),
        .unknown => respond_text(connection, .not_found, "", "not found\n"),
    }
}

fn span_name(route: Route) []const u8 {
    return switch (route) {
        .index => "GET /",
        .healthz => "GET /healthz",
        .info => "GET /api/info",
        .echo => "POST /echo",
        .bytes => "GET /bytes",
        .unknown => "not found",
    };
}

/// Writes the status line and headers into `out`; returns their length. `extra_headers` are
/// whole lines (each ending in CRLF); without a Content-Type among them, text/plain is sent.
fn write_head(
    connection: *Connection,
    status: Status,
    extra_headers: []const u8,
    content_length: u64,
) usize {
    const default_type = std.mem.indexOf(u8, extra_headers, "Content-Type:") == null;
    const head = std.fmt.bufPrint(
        &connection.out,
        "HTTP/1.1 {d} {s}\r\nServer: ukernel-http\r\n{s}{s}Content-Length: {d}\r\n{s}\r\n",
        .{
            @intFromEnum(status),
            status.reason(),
            if (default_type) "Content-Type: text/plain; charset=utf-8\r\n" else "",
            extra_headers,
            content_length,
            if (connection.close_after) "Connection: close\r\n" else "",
        },
    ) catch unreachable; // The headers are short; out_bytes has room.
    std.debug.assert(head.len <= head_reserve_bytes);
    return head.len;
}

/// A response whose body fits in `out` with its head: one send.
fn respond_text(
    connection: *Connection,
    status: Status,
    extra_headers: []const u8,
    body: []const u8,
) void {
    const head_length = write_head(connection, status, extra_headers, body.len);
    const body_length = if (connection.request.method == .head) 0 else body.len;
    @memcpy(connection.out[head_length..][0..body_length], body[0..body_length]);
    start_sending(connection, connection.out[0 .. head_length + body_length]);
}

fn respond_info(connection: *Connection) void {
    var json: [512]u8 = undefined;
    const format = "{{\"server\":\"ukernel-http\",\"abi_version\":\"{s}\",\"uptime_ns\":{d}," ++
        "\"requests_served\":{d},\"requests_rejected\":{d},\"connections_open\":{d}," ++
        "\"connections_accepted\":{d},\"connections_aborted\":{d}}}\n";
    const body = std.fmt.bufPrint(&json, format, .{
        abi.version_string, ukernel.now_ns(), stats.requests, stats.rejected,
        stats.open,         stats.accepted,   stats.aborted,
    }) catch unreachable; // A short version string and six integers: well under 512 bytes.
    respond_text(connection, .ok, "Content-Type: application/json\r\n", body);
}

/// The body back. Its head is written just before it in the same buffer: one send for both.
fn respond_echo(connection: *Connection) void {
    const owned: []u8 = connection.body orelse &.{};
    const body = if (owned.len > 0) owned[head_reserve_bytes..] else owned;
    std.debug.assert(body.len == connection.request.content_length);
    var headers: [96]u8 = undefined;
    const extra = std.fmt.bufPrint(
        &headers,
        "Content-Type: application/octet-stream\r\nX-Checksum: {x:0>8}\r\n",
        .{std.hash.Crc32.hash(body)},
    ) catch unreachable;
    const head_length = write_head(connection, .ok, extra, body.len);
    if (owned.len == 0) return start_sending(connection, connection.out[0..head_length]);
    const start = head_reserve_bytes - head_length;
    @memcpy(owned[start..head_reserve_bytes], connection.out[0..head_length]);
    start_sending(connection, owned[start..]);
}

/// GET /bytes?n=N: byte i of the body is i % 251 (a prime period, so a lost, repeated or
/// reordered piece shows). Generated into `out` as it is sent.
fn respond_pattern(connection: *Connection) void {
    const length = connection.request.pattern_length;
    var checksum = std.hash.Crc32.init();
    var offset: u64 = 0;
    while (offset < length) {
        const piece = scratch[0..@min(scratch.len, length - offset)];
        fill_pattern(piece, offset);
        checksum.update(piece);
        offset += piece.len;
    }
    var headers: [96]u8 = undefined;
    const extra = std.fmt.bufPrint(
        &headers,
        "Content-Type: application/octet-stream\r\nX-Checksum: {x:0>8}\r\n",
        .{checksum.final()},
    ) catch unreachable;
    const head_length = write_head(connection, .ok, extra, length);
    connection.pattern_end = if (connection.request.method == .head) 0 else length;
    const first = @min(connection.out.len - head_length, connection.pattern_end);
    fill_pattern(connection.out[head_length..][0..first], 0);
    connection.pattern_next = first;
    start_sending(connection, connection.out[0 .. head_length + first]);
}

fn fill_pattern(bytes: []u8, offset: u64) void {
    var value: u8 = @intCast(offset % 251);
    for (bytes) |*byte| {
        byte.* = value;
        value = if (value == 250) 0 else value + 1;
    }
}

/// A refused request: the status, a log record, and the connection closes after the answer
/// (what follows in the stream cannot be trusted to start a request).
fn reject(connection: *Connection, err: ParseError) void {
    const status: Status = switch (err) {
        error.BadRequest => .bad_request,
        error.HeadTooLarge => .head_too_large,
        error.BodyTooLarge => .body_too_large,
        error.NotImplemented => .not_implemented,
        error.VersionNotSupported => .version_not_supported,
        error.Busy => .busy,
    };
    const span = ukernel.trace.begin("rejected");
    defer _ = span.end();
    stats.rejected += 1;
    var status_text: [4]u8 = undefined;
    const code = std.fmt.bufPrint(&status_text, "{d}", .{@intFromEnum(status)}) catch "?";
    ukernel.log.fields(abi.log_level_warn, "request rejected", &.{
        .{ .key = "status", .value = code },
        .{ .key = "reason", .value = status.reason() },
    });
    connection.request.method = .other;
    connection.close_after = true;
    connection.in_length = 0;
    respond_text(connection, status, "", status.reason());
}

fn log_summary() void {
    const values = [_]u64{ stats.requests, stats.open, stats.accepted, stats.rejected };
    var texts: [values.len][20]u8 = undefined;
    var fields = [_]ukernel.Field{
        .{ .key = "requests", .value = "" },
        .{ .key = "connections_open", .value = "" },
        .{ .key = "connections_accepted", .value = "" },
        .{ .key = "rejected", .value = "" },
    };
    for (&fields, values, &texts) |*field, value, *text| {
        field.value = std.fmt.bufPrint(text, "{d}", .{value}) catch unreachable; // 20 digits fit.
    }
    ukernel.log.fields(abi.log_level_info, "requests served", &fields);
}

// ---- Sending --------------------------------------------------------------------------------

fn start_sending(connection: *Connection, bytes: []const u8) void {
    connection.pending = bytes;
    connection.pending_sent = 0;
    connection.state = .writing;
    connection.deadline_ns = ukernel.now_ns() + send_stall_timeout_ns;
    send_some(connection); // Most responses go out now, without waiting for io.poll.
}

/// Sends what the socket takes; waits for poll_writable when it takes nothing more.
fn send_some(connection: *Connection) void {
    std.debug.assert(connection.state == .writing);
    for (0..sends_per_turn_max) |_| {
        if (connection.pending_sent == connection.pending.len) {
            if (connection.pattern_next == connection.pattern_end) return response_sent(connection);
            const left = connection.pattern_end - connection.pattern_next;
            const piece = @min(connection.out.len, left);
            fill_pattern(connection.out[0..piece], connection.pattern_next);
            connection.pattern_next += piece;
            connection.pending = connection.out[0..piece];
            connection.pending_sent = 0;
        }
        const rest = connection.pending[connection.pending_sent..];
        const piece = rest[0..@min(rest.len, abi.write_bytes_max)];
        const sent = connection.socket.send(piece) catch |err| {
            switch (err) {
                error.WouldBlock => {},
                else => abort(connection), // Reset by the client, or gone: nobody to answer.
            }
            return;
        };
        connection.pending_sent += sent;
        connection.deadline_ns = ukernel.now_ns() + send_stall_timeout_ns;
    }
}

fn response_sent(connection: *Connection) void {
    release_body(connection);
    connection.pattern_next = 0;
    connection.pattern_end = 0;
    if (connection.close_after) return start_lingering(connection);
    connection.state = .reading_head;
    const timeout_ns: u64 = if (connection.in_length > 0) request_timeout_ns else idle_timeout_ns;
    connection.deadline_ns = ukernel.now_ns() + timeout_ns;
}

/// The last response is queued: send FIN after it, then read and drop whatever the client still
/// sends until it closes too (or linger_timeout_ns). Closing with unread input would make the
/// stack answer with a reset, which can destroy the response before the client reads it.
fn start_lingering(connection: *Connection) void {
    connection.in_length = 0;
    connection.socket.shutdown(.write) catch return abort(connection);
    connection.state = .lingering;
    connection.deadline_ns = ukernel.now_ns() + linger_timeout_ns;
}

fn linger(connection: *Connection) void {
    for (0..receives_per_turn_max) |_| {
        const received = connection.socket.recv(&scratch) catch |err| switch (err) {
            error.WouldBlock => return,
            else => return finish(connection),
        };
        if (received == 0) return finish(connection);
    }
}
