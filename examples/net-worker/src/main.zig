//! A worker that takes jobs from the network. Clients connect over TCP and send lines
//! `job <id> <payload>`; worker tasks compute the payload's SHA-256, and the answer
//! `done <id> <sha256 in hex> <worker>` goes back on the same connection, in the order jobs
//! finish (the id tells them apart). A bad line gets `error <id or -> <reason>`.
//!
//!     ukernel run --publish 7000:7000        then  printf 'job 1 hello\n' | nc -q1 127.0.0.1 7000
//!     ukernel run -- [port] [workers]        (defaults: JOB_PORT and WORKERS, else 7000 and 3)
//!
//! Tasks: this one (the first) owns the sockets: it accepts, reads lines and writes answers in
//! one io.poll loop; the workers block on the `jobs` channel and send to `results`, which the
//! loop polls too. Spans per stage: `receive` (read and parse a line), `queue` (from the send on
//! `jobs` until a worker takes the job: opened here, ended by the worker), `compute` (worker),
//! `reply` (format and send the answer). Backpressure: when `jobs` is full the loop stops reading
//! until a worker makes room; a client that does not read its answers stops being read.

const std = @import("std");
const ukernel = @import("ukernel");
const abi = ukernel.abi;
const net = ukernel.net;

// ---- Limits -------------------------------------------------------------------------------------

const connections_max = 64;
const listen_backlog = 32;
const workers_max = 16;
/// Jobs waiting for a worker. Each holds an open `queue` span of this task (a task may have 16
/// open), so the channel stays small; the one job that found it full waits beside it.
const jobs_queue_max = 8;
const results_queue_max = 32;
/// A request line, `job <id> <payload>` and its newline; longer: an error, then the connection
/// closes.
const line_bytes_max = 1024;
const payload_bytes_max = line_bytes_max;
/// An answer line at most: `done <20 digits> <64 hex> <2 digits>\n` or an error.
const reply_bytes_max = 128;
/// Jobs of one connection not answered yet, at most (room_for_line keeps to it, so that their
/// answers always fit the connection's output buffer).
const in_flight_max = 16;
const out_bytes = reply_bytes_max * (in_flight_max + 1);
/// After the last answer to a client whose input was refused: how long its input is read and
/// dropped before closing (closing with unread input resets the connection).
const linger_timeout_ns = 2 * std.time.ns_per_s;
const poll_timeout_ns = 1 * std.time.ns_per_s;
/// Work per wake-up, so that one busy client does not starve the others.
const results_per_turn_max = results_queue_max;
const lines_per_turn_max = 64;
const accepts_per_turn_max = 16;
const port_default = 7000;
const workers_default = 3;

// ---- Messages between the tasks -------------------------------------------------------------

const Job = extern struct {
    slot: u32,
    /// The connection slot's generation when the job was read: an answer for a connection that
    /// has gone (and whose slot was reused) is dropped.
    generation: u32,
    id: u64,
    /// The `queue` span, which the worker that takes the job ends.
    queue_span: u64,
    payload_length: u32,
    payload: [payload_bytes_max]u8,
};

const Result = extern struct {
    slot: u32,
    generation: u32,
    id: u64,
    worker: u32,
    digest: [32]u8,
};

var jobs: ukernel.Channel = undefined;
var results: ukernel.Channel = undefined;

// ---- Connections --------------------------------------------------------------------------------

const State = enum {
    free,
    /// Reading jobs.
    open,
    /// The client finished sending (or its input was refused): answer what is in flight, then
    /// close.
    draining,
    /// Answers sent and FIN queued: reading and dropping input until the client closes.
    lingering,
};

const Connection = struct {
    state: State,
    socket: net.Socket,
    generation: u32,
    /// Shut down sending once everything is answered, and linger (refused input).
    linger_after: bool,
    deadline_ns: u64,
    in_flight: u32,
    in: [line_bytes_max]u8,
    in_length: u32,
    out: [out_bytes]u8,
    out_length: u32,
};

var connections: [connections_max]Connection = undefined;
var listener: net.Socket = undefined;
/// A job read while `jobs` was full: it goes first once there is room, and until then nothing
/// more is read.
var waiting: ?Job = null;

pub fn main(context: ukernel.Context) !u8 {
    const port = number_from(context, 1, "JOB_PORT", port_default) orelse return usage();
    const workers = number_from(context, 2, "WORKERS", workers_default) orelse return usage();
    if (port == 0 or port > std.math.maxInt(u16) or workers == 0 or workers > workers_max) {
        return usage();
    }
    for (&connections) |*connection| {
        connection.state = .free;
        connection.generation = 0;
    }
    jobs = try ukernel.Channel.create(jobs_queue_max, @sizeOf(Job));
    results = try ukernel.Channel.create(results_queue_max, @sizeOf(Result));
    for (0..workers) |index| _ = try ukernel.spawn(&worker, index, 0);

    listener = try net.Socket.open(.stream, true);
    try listener.set_option(.reuse_address, 1);
    try listener.bind(net.Address.any(@intCast(port)));
    try listener.listen(listen_backlog);
    ukernel.print("net-worker: {d} workers, jobs on tcp port {d}\n", .{ workers, port });
    while (true) try serve_once();
}

fn usage() u8 {
    ukernel.print("usage: ukernel run -- [port 1-65535] [workers 1-{d}]\n", .{workers_max});
    return 2;
}

/// argv[position], else the environment's `key`, else `default`; null if not a number.
fn number_from(context: ukernel.Context, position: usize, key: []const u8, default: u64) ?u64 {
    const text = if (context.args.len > position)
        std.mem.span(context.args[position])
    else
        context.getenv(key) orelse return default;
    return std.fmt.parseUnsigned(u64, text, 10) catch null;
}

// ---- The workers ----------------------------------------------------------------------------

fn worker(index: u64) callconv(.c) u32 {
    while (true) {
        var job: Job = undefined;
        _ = jobs.recv(std.mem.asBytes(&job)) catch |err| return if (err == error.Closed) 0 else 1;
        _ = (ukernel.trace.Span{ .id = job.queue_span }).end();
        const span = ukernel.trace.begin("compute");
        var result: Result = .{
            .slot = job.slot,
            .generation = job.generation,
            .id = job.id,
            .worker = @intCast(index),
            .digest = undefined,
        };
        std.crypto.hash.sha2.Sha256.hash(job.payload[0..job.payload_length], &result.digest, .{});
        _ = span.end();
        results.send(std.mem.asBytes(&result)) catch return 1; // Waits while `results` is full.
    }
}

// ---- The loop -------------------------------------------------------------------------------

fn serve_once() !void {
    var items: [3 + connections_max]abi.PollItem = undefined;
    var slots: [3 + connections_max]u32 = undefined;
    items[0] = listener.poll_item(abi.poll_readable);
    items[1] = .{ .handle = results.handle, .events = abi.poll_readable, .revents = 0 };
    // Room in `jobs` only matters while a job waits for it.
    const jobs_events: u16 = if (waiting != null) abi.poll_writable else 0;
    items[2] = .{ .handle = jobs.handle, .events = jobs_events, .revents = 0 };
    var count: u32 = 3;
    for (&connections, 0..) |*connection, slot| {
        if (connection.state == .free) continue;
        var events: u16 = 0;
        if (reading(connection) or connection.state == .lingering) events |= abi.poll_readable;
        if (connection.out_length > 0) events |= abi.poll_writable;
        items[count] = connection.socket.poll_item(events);
        slots[count] = @intCast(slot);
        count += 1;
    }
    _ = try ukernel.poll(items[0..count], poll_timeout_ns);
    if (items[0].revents & abi.poll_readable != 0) accept_some();
    send_waiting();
    take_results();
    for (items[3..count], slots[3..count]) |item, slot| {
        if (item.revents != 0) service(&connections[slot], item.revents);
    }
    dispatch_lines();
    for (&connections) |*connection| {
        if (connection.state != .free) close_if_done(connection, ukernel.now_ns());
    }
}

/// Whether to read from the connection now: open, with room for another answer, and nothing
/// waiting for `jobs`.
fn reading(connection: *const Connection) bool {
    return connection.state == .open and waiting == null and room_for_line(connection) and
        connection.in_length < line_bytes_max;
}

/// Room in `out` for the answers of the jobs in flight and of one more line: an answer never
/// has to wait for space.
fn room_for_line(connection: *const Connection) bool {
    return connection.out_length + (connection.in_flight + 1) * reply_bytes_max <= out_bytes;
}

fn accept_some() void {
    for (0..accepts_per_turn_max) |_| {
        const slot = for (&connections, 0..) |*connection, slot| {
            if (connection.state == .free) break slot;
        } else return; // Full: the rest wait in the backlog.
        const accepted = listener.accept(.{ .nonblocking = true }) catch |err| {
            if (err != error.WouldBlock) ukernel.log.warn("accept failed: {s}", .{@errorName(err)});
            return;
        };
        accepted.socket.set_option(.tcp_nodelay, 1) catch {};
        const connection = &connections[slot];
        connection.* = .{
            .state = .open,
            .socket = accepted.socket,
            .generation = connection.generation +% 1,
            .linger_after = false,
            .deadline_ns = 0,
            .in_flight = 0,
            .in = undefined,
            .in_length = 0,
            .out = undefined,
            .out_length = 0,
        };
    }
}

fn service(connection: *Connection, revents: u16) void {
    if (revents & abi.poll_writable != 0) flush(connection);
    if (connection.state == .free) return;
    if (revents & abi.poll_readable != 0) {
        if (connection.state == .lingering) return linger(connection);
        if (reading(connection)) receive(connection);
    } else if (revents & (abi.poll_closed | abi.poll_error) != 0) {
        close(connection); // Reset: nothing more can arrive or leave.
    }
}

fn receive(connection: *Connection) void {
    const received = connection.socket.recv(connection.in[connection.in_length..]) catch |err| {
        if (err != error.WouldBlock) close(connection);
        return;
    };
    if (received == 0) {
        connection.state = .draining; // Answer what is in flight, then close.
        return;
    }
    connection.in_length += @intCast(received);
}

/// Turns complete lines into jobs, connection by connection, while `jobs` has room.
fn dispatch_lines() void {
    var lines: u32 = 0;
    for (&connections, 0..) |*connection, slot| {
        while (lines < lines_per_turn_max and waiting == null) : (lines += 1) {
            if (connection.state != .open or !room_for_line(connection)) break;
            const buffered = connection.in[0..connection.in_length];
            const line_end = std.mem.indexOfScalar(u8, buffered, '\n') orelse {
                if (connection.in_length == line_bytes_max) refuse(connection, "line too long");
                break;
            };
            handle_line(connection, @intCast(slot), connection.in[0..line_end]);
            consume(connection, line_end + 1);
        }
    }
}

fn consume(connection: *Connection, bytes: usize) void {
    const rest = connection.in[bytes..connection.in_length];
    std.mem.copyForwards(u8, connection.in[0..rest.len], rest);
    connection.in_length = @intCast(rest.len);
}

/// `job <id> <payload>`: parsed under a `receive` span, then queued under a `queue` span.
fn handle_line(connection: *Connection, slot: u32, raw: []const u8) void {
    const receive_span = ukernel.trace.begin("receive");
    const line = std.mem.trimRight(u8, raw, "\r");
    var job: Job = undefined;
    const parsed = parse_job(line, &job);
    _ = receive_span.end();
    if (parsed) |reason| {
        // The id is repeated only when it is one: the answer stays short.
        var words = std.mem.splitScalar(u8, line, ' ');
        _ = words.next();
        const id = std.fmt.parseUnsigned(u64, words.next() orelse "", 10) catch
            return answer(connection, "error - {s}\n", .{reason});
        return answer(connection, "error {d} {s}\n", .{ id, reason });
    }
    job.slot = slot;
    job.generation = connection.generation;
    job.queue_span = ukernel.trace.begin("queue").id;
    connection.in_flight += 1;
    jobs.try_send(std.mem.asBytes(&job)) catch |err| switch (err) {
        error.WouldBlock => waiting = job, // Sent first once a worker makes room.
        else => {
            _ = (ukernel.trace.Span{ .id = job.queue_span }).end();
            connection.in_flight -= 1;
            answer(connection, "error {d} no workers\n", .{job.id});
        },
    };
}

/// Fills `job` from a line; the reason it is refused, or null.
fn parse_job(line: []const u8, job: *Job) ?[]const u8 {
    if (!std.mem.startsWith(u8, line, "job ")) return "expected: job <id> <payload>";
    const rest = line["job ".len..];
    const space = std.mem.indexOfScalar(u8, rest, ' ') orelse rest.len;
    job.id = std.fmt.parseUnsigned(u64, rest[0..space], 10) catch return "the id is not a number";
    const payload = if (space < rest.len) rest[space + 1 ..] else "";
    job.payload_length = @intCast(payload.len);
    @memcpy(job.payload[0..payload.len], payload);
    return null;
}

/// Input the server will not read on: answer, then close once everything is answered.
fn refuse(connection: *Connection, reason: []const u8) void {
    answer(connection, "error - {s}\n", .{reason});
    connection.in_length = 0;
    connection.linger_after = true;
    connection.state = .draining;
}

/// The job that found `jobs` full, once there is room (then reading resumes).
fn send_waiting() void {
    const job = waiting orelse return;
    jobs.try_send(std.mem.asBytes(&job)) catch |err| switch (err) {
        error.WouldBlock => return,
        else => {
            // No worker will take it: answer it here (if its client is still there).
            _ = (ukernel.trace.Span{ .id = job.queue_span }).end();
            const connection = &connections[job.slot];
            if (connection.state != .free and connection.generation == job.generation) {
                connection.in_flight -= 1;
                answer(connection, "error {d} no workers\n", .{job.id});
            }
        },
    };
    waiting = null;
}

/// Sends answers from `results` to their connections.
fn take_results() void {
    for (0..results_per_turn_max) |_| {
        var result: Result = undefined;
        _ = results.try_recv(std.mem.asBytes(&result)) catch return;
        const connection = &connections[result.slot];
        // The client may have gone meanwhile, and its slot serve another.
        if (connection.state == .free or connection.generation != result.generation) continue;
        const span = ukernel.trace.begin("reply");
        defer _ = span.end();
        connection.in_flight -= 1;
        const digest = std.fmt.bytesToHex(result.digest, .lower);
        answer(connection, "done {d} {s} {d}\n", .{ result.id, &digest, result.worker });
    }
}

/// Appends an answer line and sends what the socket takes (the rest when it is writable).
fn answer(connection: *Connection, comptime format: []const u8, arguments: anytype) void {
    const free = connection.out[connection.out_length..];
    const line = std.fmt.bufPrint(free[0..@min(free.len, reply_bytes_max)], format, arguments) catch
        unreachable; // Answers are shorter than reply_bytes_max, and room for one is kept.
    connection.out_length += @intCast(line.len);
    flush(connection);
}

fn flush(connection: *Connection) void {
    while (connection.out_length > 0) {
        const sent = connection.socket.send(connection.out[0..connection.out_length]) catch |err| {
            if (err != error.WouldBlock) close(connection);
            return;
        };
        const rest = connection.out[sent..connection.out_length];
        std.mem.copyForwards(u8, connection.out[0..rest.len], rest);
        connection.out_length = @intCast(rest.len);
    }
}

/// A draining connection closes once everything is answered; a lingering one at its deadline.
fn close_if_done(connection: *Connection, now_ns: u64) void {
    switch (connection.state) {
        .free, .open => {},
        .draining => {
            if (connection.in_flight > 0 or connection.out_length > 0) return;
            if (!connection.linger_after) return close(connection);
            connection.socket.shutdown(.write) catch return close(connection);
            connection.state = .lingering;
            connection.deadline_ns = now_ns + linger_timeout_ns;
        },
        .lingering => if (now_ns >= connection.deadline_ns) close(connection),
    }
}

fn linger(connection: *Connection) void {
    var drop: [1024]u8 = undefined;
    const received = connection.socket.recv(&drop) catch |err| {
        if (err != error.WouldBlock) close(connection);
        return;
    };
    if (received == 0) close(connection);
}

/// Closes the socket; answers still to come for it are dropped (the generation moves on).
fn close(connection: *Connection) void {
    std.debug.assert(connection.state != .free);
    connection.socket.close();
    connection.state = .free;
    connection.generation +%= 1;
}
