//! Sockets: the state behind the net.* calls, on lwIP's raw API (NO_SYS; lwIP 2.2.1's doc
//! comments in core/tcp.c, tcp_in.c, tcp_out.c, udp.c and dns.c are the source of what each
//! lwIP call does).
//!
//! One table of sockets; a handle names a socket by index (io/handles.zig). lwIP calls back
//! (received data, acknowledged data, a new connection, an error) from the scheduler's waker
//! (net/stack.zig) or from inside an lwIP call a task made; a callback only updates the socket
//! and wakes the tasks blocked on it and io.poll's waiters, as channels do. No task yields inside
//! an lwIP call: lwIP runs in one context.
//!
//! - Received TCP data stays in lwIP's pbufs, queued on the socket, and is copied out by
//!   net.recv (pbuf_copy_partial), which then returns the window (tcp_recved): a reader that
//!   does not read closes the window, and the peer waits. Datagrams queue likewise, with their
//!   sender, up to the receive buffer (later ones are dropped).
//! - Sending copies into lwIP (tcp_write with COPY) as much as the send buffer takes, then
//!   tcp_output; a blocked sender wakes when the peer acknowledges (the sent callback).
//! - A listener's connections get a socket when lwIP accepts them (so data sent before
//!   net.accept queues); tcp_backlog_delayed holds them against the backlog, so further SYNs
//!   are dropped and retried by the peer until net.accept takes one.
//! - Every callback's argument names the socket and its generation; closing clears it
//!   (tcp_arg NULL) and reinstates lwIP's own handlers, so a late callback never reaches a freed
//!   or reused socket. The err callback means lwIP already freed the pcb.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("../abi/abi.zig");
const constants = @import("../constants.zig");
const scheduler = @import("../sched/scheduler.zig");
const stack = @import("stack.zig");
const lwip = @import("lwip.zig").c;

pub const Error = error{
    OutOfRange,
    TooLarge,
    LimitReached,
    NoMemory,
    Unsupported,
    AddressInUse,
    AlreadyConnected,
    WouldBlock,
    ConnectionRefused,
    ConnectionReset,
    TimedOut,
    NoRoute,
    NotConnected,
    Closed,
    NotFound,
    BadHandle,
};

pub const Kind = enum { stream, datagram };
pub const Address = abi.SocketAddress;
pub const Readiness = struct { readable: bool, writable: bool, closed: bool, failed: bool };
pub const Accepted = struct { index: u32, peer: Address };

const State = enum {
    free,
    /// Created (maybe bound); datagram sockets stay here (connected or not).
    open,
    listening,
    /// In a listener's backlog: lwIP accepted it, net.accept has not yet.
    pending,
    connecting,
    connected,
    /// The connection is over (lwIP freed the pcb): reset, refused, timed out or closed.
    ended,
};

const queue_entries: u32 = constants.net_receive_queue_entries;

/// One received TCP chain (tot_len ≤ 65535: lwIP's lengths are u16) or datagram.
const Received = struct { chain: *lwip.pbuf, from: Address };

const Socket = struct {
    state: State = .free,
    kind: Kind = .stream,
    /// Bumped at every close: callbacks and woken waiters holding an older one are stale.
    generation: u16 = 0,
    nonblocking: bool = false,
    nodelay: bool = false,
    tcp: ?*lwip.tcp_pcb = null,
    udp: ?*lwip.udp_pcb = null,
    /// Receive queue: a ring of chains, oldest first.
    queue: [constants.net_receive_queue_entries]Received = undefined,
    queue_head: u32 = 0,
    queue_count: u32 = 0,
    queued_bytes: u32 = 0,
    /// The peer sent FIN: after the queue, net.recv returns 0.
    fin_received: bool = false,
    read_shut: bool = false,
    write_shut: bool = false,
    /// The error option_error reports (and poll_error), until read.
    pending_error: ?Error = null,
    /// A listener's sockets in its backlog; a pending socket's listener.
    backlog: u32 = 0,
    pending_count: u32 = 0,
    listener: u32 = 0,
    /// When a pending socket arrived (a counter): net.accept takes the oldest.
    arrival: u64 = 0,
    /// option_send_buffer_bytes, option_receive_buffer_bytes (set by `fresh`: every default
    /// here is zero, so the table lies in .bss, not in the kernel file).
    send_limit_bytes: u32 = 0,
    receive_limit_bytes: u32 = 0,
    /// Datagram sockets after net.connect: the peer (else family 0).
    peer: Address = std.mem.zeroes(Address),
};

var sockets: [constants.net_sockets_max]Socket = [_]Socket{.{}} ** constants.net_sockets_max;

/// A socket just taken from the free list, in `state`.
fn fresh(state: State, kind: Kind, generation: u16) Socket {
    assert(state == .open or state == .pending);
    return .{
        .state = state,
        .kind = kind,
        .generation = generation,
        .send_limit_bytes = constants.lwip.tcp_send_bytes,
        .receive_limit_bytes = constants.net_receive_buffer_bytes_default,
    };
}

// ---- Creating, binding, listening, accepting, connecting --------------------------------------

pub fn create(kind: Kind, nonblocking: bool) Error!u32 {
    if (!stack.start()) return error.NoMemory;
    const index = free_socket() orelse return error.LimitReached;
    const socket = &sockets[index];
    const generation = socket.generation;
    socket.* = fresh(.open, kind, generation);
    socket.nonblocking = nonblocking;
    switch (kind) {
        .stream => {
            const pcb = pointer(lwip.tcp_pcb, lwip.tcp_new()) orelse
                return release_slot(index, error.NoMemory);
            socket.tcp = pcb;
            attach_tcp(pcb, index);
        },
        .datagram => {
            const pcb = pointer(lwip.udp_pcb, lwip.udp_new()) orelse
                return release_slot(index, error.NoMemory);
            socket.udp = pcb;
            lwip.udp_recv(pcb, &on_datagram, argument(index));
        },
    }
    assert(socket.tcp != null or socket.udp != null);
    return index;
}

fn free_socket() ?u32 {
    for (&sockets, 0..) |*socket, index| {
        if (socket.state == .free) return @intCast(index);
    }
    return null;
}

fn release_slot(index: u32, err: Error) Error {
    sockets[index].state = .free;
    sockets[index].generation +%= 1;
    return err;
}

pub fn is_datagram(index: u32) bool {
    assert(sockets[index].state != .free);
    return sockets[index].kind == .datagram;
}

pub fn bind(index: u32, address: Address) Error!void {
    const socket = &sockets[index];
    assert(socket.state != .free);
    const ip = try ip_of(address);
    if (socket.state != .open) return error.AlreadyConnected;
    const result = switch (socket.kind) {
        .stream => blk: {
            const pcb = socket.tcp.?;
            if (pcb.local_port != 0) return error.AlreadyConnected;
            break :blk lwip.tcp_bind(pcb, &ip, address.port);
        },
        .datagram => blk: {
            const pcb = socket.udp.?;
            if (pcb.local_port != 0) return error.AlreadyConnected;
            break :blk lwip.udp_bind(pcb, &ip, address.port);
        },
    };
    return check_lwip(result);
}

pub fn listen(index: u32, backlog: u32) Error!void {
    const socket = &sockets[index];
    assert(socket.state != .free);
    if (socket.kind != .stream) return error.Unsupported;
    if (socket.state != .open) return error.AlreadyConnected;
    const pcb = socket.tcp.?;
    if (pcb.local_port == 0) try check_lwip(lwip.tcp_bind(pcb, &any_ip, 0));
    const limit: u32 = std.math.clamp(backlog, 1, constants.net_listen_backlog_max);
    var result: lwip.err_t = lwip.ERR_OK;
    // On failure the original pcb is untouched; on success it is freed and replaced.
    const listening = lwip.tcp_listen_with_backlog_and_err(pcb, @intCast(limit), &result);
    const listener = pointer(lwip.tcp_pcb, listening) orelse return check_lwip(result);
    socket.tcp = listener;
    socket.state = .listening;
    socket.backlog = limit;
    lwip.tcp_arg(listener, argument(index));
    lwip.tcp_accept(listener, &on_accept);
}

/// Takes the oldest connection of a listener's backlog, waiting for one unless non-blocking.
pub fn accept(index: u32, nonblocking_new: bool) Error!Accepted {
    const socket = &sockets[index];
    const generation = socket.generation;
    assert(socket.state != .free);
    if (socket.state != .listening) return error.Unsupported;
    var waits: u64 = 0;
    while (true) : (waits += 1) {
        if (oldest_pending(index)) |taken| {
            const accepted = &sockets[taken];
            accepted.state = .connected;
            accepted.nonblocking = nonblocking_new;
            lwip.tcp_backlog_accepted(accepted.tcp.?);
            socket.pending_count -= 1;
            notify(index);
            return .{ .index = taken, .peer = peer_of_tcp(accepted.tcp.?) };
        }
        if (socket.nonblocking) return would_block();
        try wait(index, generation, scheduler.deadline_none);
    }
}

/// The listener's oldest pending socket; those lwIP reset meanwhile are released on the way
/// (at most the backlog's).
fn oldest_pending(listener: u32) ?u32 {
    var found: ?u32 = null;
    for (&sockets, 0..) |*socket, index| {
        if (socket.state != .pending or socket.listener != listener) continue;
        if (socket.tcp == null) {
            sockets[listener].pending_count -= 1;
            release(@intCast(index));
            continue;
        }
        if (found == null or socket.arrival < sockets[found.?].arrival) {
            found = @intCast(index);
        }
    }
    return found;
}

pub fn connect(index: u32, address: Address) Error!void {
    defer stack.flush(); // The SYN (or a datagram peer's ARP) leaves now, not at the next poll.
    const socket = &sockets[index];
    const generation = socket.generation;
    assert(socket.state != .free);
    const ip = try ip_of(address);
    if (!socket.nonblocking) address_wait(ip);
    // Another task may have closed (or closed and reused) the socket during that wait.
    if (socket.generation != generation) return error.BadHandle;
    if (socket.kind == .datagram) {
        try check_lwip(lwip.udp_connect(socket.udp.?, &ip, address.port));
        socket.peer = address;
        return;
    }
    switch (socket.state) {
        .open => {},
        .connecting => if (socket.nonblocking) return would_block(),
        .connected => return error.AlreadyConnected,
        .listening, .pending => return error.AlreadyConnected,
        .ended => return take_error(socket) orelse error.ConnectionReset,
        .free => unreachable,
    }
    if (socket.state == .open) {
        try check_lwip(lwip.tcp_connect(socket.tcp.?, &ip, address.port, &on_connected));
        socket.state = .connecting;
        if (socket.nonblocking) return would_block();
    }
    const deadline = scheduler.deadline_after(constants.net_connect_timeout_ns);
    while (socket.state == .connecting) {
        wait(index, generation, deadline) catch |err| {
            if (err == error.TimedOut) {
                abandon(index, error.TimedOut);
                socket.pending_error = null; // Reported here, not again by option_error.
            }
            return err;
        };
    }
    if (socket.state == .connected) return;
    assert(socket.state == .ended);
    return take_error(socket) orelse error.ConnectionReset;
}

// ---- Sending and receiving ----------------------------------------------------------------------

/// Stream: queues as much of `data` as the send buffer takes (waiting for room unless
/// non-blocking). Datagram: sends it (to `to`, or the connected peer).
pub fn send(index: u32, data: []const u8, to: ?Address, nonblocking: bool) Error!usize {
    defer stack.flush(); // What lwIP sent leaves now, not at the next poll.
    const socket = &sockets[index];
    assert(socket.state != .free);
    if (socket.kind == .datagram) return send_datagram(socket, data, to);
    assert(to == null);
    const generation = socket.generation;
    const deadline = scheduler.deadline_none;
    var waits: u64 = 0;
    while (true) : (waits += 1) {
        switch (socket.state) {
            .connected => {},
            .ended => return take_error(socket) orelse error.Closed,
            .connecting => if (socket.nonblocking or nonblocking) return would_block(),
            else => return error.NotConnected,
        }
        if (socket.write_shut) return error.Closed;
        if (socket.state == .connected) {
            const sent = try write_some(socket.tcp.?, socket.send_limit_bytes, data);
            if (sent > 0 or data.len == 0) return sent;
        }
        if (socket.nonblocking or nonblocking) return would_block();
        // Room comes with the peer's acknowledgements (the sent callback); lwIP's heap may
        // also be short for other sockets' data, hence a retry interval too.
        const retry = scheduler.deadline_after(constants.net_send_retry_ns);
        wait(index, generation, @min(deadline, retry)) catch |err| {
            if (err != error.TimedOut) return err;
        };
    }
}

/// Bytes of `data` handed to lwIP (copied), then sent with tcp_output; 0 if there was no room.
fn write_some(pcb: *lwip.tcp_pcb, limit_bytes: u32, data: []const u8) Error!usize {
    var written: usize = 0;
    // Each round writes up to 65535 bytes (tcp_write's u16 length), at most write_bytes_max
    // in all: two rounds.
    while (written < data.len) {
        const room = send_room(pcb, limit_bytes);
        if (room == 0) break;
        const piece: u16 = @intCast(@min(data.len - written, room, std.math.maxInt(u16)));
        const result = lwip.tcp_write(pcb, data[written..].ptr, piece, lwip.TCP_WRITE_FLAG_COPY);
        if (result == lwip.ERR_MEM) break;
        try check_lwip(result);
        written += piece;
    }
    if (written > 0) _ = lwip.tcp_output(pcb);
    assert(written <= data.len);
    return written;
}

/// What tcp_write takes now: its send buffer, bounded by option_send_buffer_bytes, and 0 when
/// its segment queue is full (tcp_write_checks' ERR_MEM).
fn send_room(pcb: *lwip.tcp_pcb, limit_bytes: u32) u32 {
    if (pcb.snd_queuelen >= lwip.TCP_SND_QUEUELEN) return 0;
    const buffer: u32 = pcb.snd_buf;
    assert(buffer <= constants.lwip.tcp_send_bytes);
    const unacknowledged = constants.lwip.tcp_send_bytes - buffer;
    if (unacknowledged >= limit_bytes) return 0;
    return @min(buffer, limit_bytes - unacknowledged);
}

fn send_datagram(socket: *Socket, data: []const u8, to: ?Address) Error!usize {
    assert(socket.kind == .datagram);
    const generation = socket.generation;
    // net.sendto checks this too; net.send and io.write allow up to write_bytes_max.
    if (data.len > abi.datagram_bytes_max) return error.TooLarge;
    const connected = socket.peer.family != 0;
    const destination = to orelse if (connected) socket.peer else return error.NotConnected;
    const ip = try ip_of(destination);
    if (!socket.nonblocking) address_wait(ip);
    // Another task may have closed (or closed and reused) the socket during that wait.
    if (socket.generation != generation) return error.BadHandle;
    const allocated = lwip.pbuf_alloc(lwip.PBUF_TRANSPORT, @intCast(data.len), lwip.PBUF_RAM);
    const packet = pointer(lwip.pbuf, allocated) orelse return error.NoMemory;
    defer _ = lwip.pbuf_free(packet);
    if (data.len > 0) try check_lwip(lwip.pbuf_take(packet, data.ptr, @intCast(data.len)));
    try check_lwip(lwip.udp_sendto(socket.udp.?, packet, &ip, destination.port));
    return data.len;
}

/// Copies queued data into `buffer`, waiting for some unless non-blocking. Stream: 0 at the
/// end of the stream. Datagram: one datagram, cut to the buffer; its sender in `from`.
pub fn receive(index: u32, buffer: []u8, from: ?*Address, flags: u32) Error!usize {
    const socket = &sockets[index];
    const generation = socket.generation;
    assert(socket.state != .free);
    const nonblocking = socket.nonblocking or flags & abi.flag_nonblocking != 0;
    const peek = flags & abi.flag_peek != 0;
    var waits: u64 = 0;
    while (true) : (waits += 1) {
        if (socket.queue_count > 0 and buffer.len == 0) return 0;
        if (socket.queue_count > 0) {
            if (socket.kind == .datagram) return take_datagram(socket, buffer, from, peek);
            return take_stream(index, buffer, peek);
        }
        if (socket.kind == .stream) switch (socket.state) {
            .connected, .connecting => {},
            .ended => if (take_error(socket)) |err| return err else return 0,
            else => return error.NotConnected,
        };
        if (socket.fin_received or socket.read_shut) return 0;
        if (buffer.len == 0) return 0;
        if (nonblocking) return would_block();
        try wait(index, generation, scheduler.deadline_none);
    }
}

fn take_stream(index: u32, buffer: []u8, peek: bool) Error!usize {
    const socket = &sockets[index];
    assert(socket.queue_count > 0);
    var copied: usize = 0;
    var position = socket.queue_head;
    // At most the ring's entries.
    for (0..socket.queue_count) |_| {
        if (copied == buffer.len) break;
        const chain = socket.queue[position].chain;
        const want: u16 = @intCast(@min(buffer.len - copied, chain.tot_len));
        const got = lwip.pbuf_copy_partial(chain, buffer[copied..].ptr, want, 0);
        assert(got == want);
        copied += got;
        if (!peek) {
            if (got == chain.tot_len) {
                _ = lwip.pbuf_free(chain);
                socket.queue_head = (socket.queue_head + 1) % queue_entries;
                socket.queue_count -= 1;
            } else {
                const rest = lwip.pbuf_free_header(chain, got);
                socket.queue[position].chain = pointer(lwip.pbuf, rest).?;
            }
        }
        position = (position + 1) % queue_entries;
    }
    if (!peek) consumed(socket, @intCast(copied));
    assert(copied <= buffer.len);
    return copied;
}

/// `bytes` left the queue: lwIP may open the window by as much (tcp_recved takes u16s), and
/// data it holds back for a full queue (refused_data) may come now.
fn consumed(socket: *Socket, bytes: u32) void {
    assert(socket.queued_bytes >= bytes);
    socket.queued_bytes -= bytes;
    const pcb = socket.tcp orelse return;
    var left = bytes;
    while (left > 0) {
        const piece: u16 = @intCast(@min(left, std.math.maxInt(u16)));
        lwip.tcp_recved(pcb, piece);
        left -= piece;
    }
    if (pcb.refused_data != null) _ = tcp_process_refused_data(pcb);
}

/// Declared in lwIP's priv/tcp_priv.h (not in the @cImport): hands refused data to the recv
/// callback again.
extern fn tcp_process_refused_data(pcb: *lwip.tcp_pcb) lwip.err_t;

fn take_datagram(socket: *Socket, buffer: []u8, from: ?*Address, peek: bool) usize {
    assert(socket.queue_count > 0);
    const entry = socket.queue[socket.queue_head];
    const length: u16 = @intCast(@min(buffer.len, entry.chain.tot_len));
    const got = lwip.pbuf_copy_partial(entry.chain, buffer.ptr, length, 0);
    assert(got == length);
    if (from) |sender| sender.* = entry.from;
    if (!peek) {
        socket.queued_bytes -= entry.chain.tot_len;
        _ = lwip.pbuf_free(entry.chain);
        socket.queue_head = (socket.queue_head + 1) % queue_entries;
        socket.queue_count -= 1;
    }
    return got;
}

pub fn shutdown(index: u32, how: u32) Error!void {
    defer stack.flush(); // The FIN leaves now.
    const socket = &sockets[index];
    assert(socket.state != .free);
    assert(how >= abi.shutdown_read and how <= abi.shutdown_both);
    if (socket.kind != .stream) return error.Unsupported;
    if (socket.state != .connected and socket.state != .ended) return error.NotConnected;
    if (how & abi.shutdown_read != 0 and !socket.read_shut) {
        // Not lwIP's own RX shutdown: it resets the connection when more data arrives. Data
        // is discarded here instead, queued or arriving, and its window returned.
        socket.read_shut = true;
        discard_queue(socket);
    }
    if (how & abi.shutdown_write != 0 and !socket.write_shut) {
        socket.write_shut = true;
        if (socket.tcp) |pcb| try check_lwip(lwip.tcp_shutdown(pcb, 0, 1));
    }
    notify(index);
}

// ---- Addresses and options ---------------------------------------------------------------

pub fn local_address(index: u32) Address {
    const socket = &sockets[index];
    assert(socket.state != .free);
    if (socket.tcp) |pcb| return address_of(pcb.local_ip, pcb.local_port);
    if (socket.udp) |pcb| return address_of(pcb.local_ip, pcb.local_port);
    return std.mem.zeroes(Address);
}

pub fn peer_address(index: u32) Error!Address {
    const socket = &sockets[index];
    assert(socket.state != .free);
    if (socket.kind == .datagram) {
        if (socket.peer.family == 0) return error.NotConnected;
        return socket.peer;
    }
    if (socket.state != .connected) return error.NotConnected;
    const pcb = socket.tcp orelse return error.NotConnected;
    return peer_of_tcp(pcb);
}

fn peer_of_tcp(pcb: *lwip.tcp_pcb) Address {
    return address_of(pcb.remote_ip, pcb.remote_port);
}

pub fn set_option(index: u32, option: u32, value: u64) Error!void {
    const socket = &sockets[index];
    assert(socket.state != .free);
    const flag = value != 0;
    switch (option) {
        abi.option_nonblocking,
        abi.option_tcp_nodelay,
        abi.option_keepalive,
        abi.option_reuse_address,
        => if (value > 1) return error.OutOfRange,
        abi.option_send_buffer_bytes,
        abi.option_receive_buffer_bytes,
        => if (value < abi.socket_buffer_bytes_min) return error.OutOfRange,
        else => return error.OutOfRange,
    }
    switch (option) {
        abi.option_nonblocking => socket.nonblocking = flag,
        abi.option_tcp_nodelay => {
            if (socket.kind != .stream) return error.Unsupported;
            socket.nodelay = flag;
            // A listening pcb is a smaller struct without `flags`: its connections get the
            // flag as they are accepted (on_accept).
            if (socket.state == .listening) return;
            if (socket.tcp) |pcb| set_flag(&pcb.flags, lwip.TF_NODELAY, flag);
        },
        abi.option_keepalive, abi.option_reuse_address => {
            const keepalive = option == abi.option_keepalive;
            const bit: u8 = if (keepalive) lwip.SOF_KEEPALIVE else lwip.SOF_REUSEADDR;
            if (option == abi.option_keepalive and socket.kind != .stream) return error.Unsupported;
            if (socket.tcp) |pcb| set_flag(&pcb.so_options, bit, flag);
            if (socket.udp) |pcb| set_flag(&pcb.so_options, bit, flag);
        },
        abi.option_send_buffer_bytes => {
            if (socket.kind != .stream) return error.Unsupported;
            socket.send_limit_bytes = @intCast(@min(value, constants.lwip.tcp_send_bytes));
        },
        abi.option_receive_buffer_bytes => {
            if (socket.kind != .datagram) return error.Unsupported;
            const limit = @min(value, constants.net_receive_buffer_bytes_max);
            socket.receive_limit_bytes = @intCast(limit);
        },
        else => unreachable,
    }
}

fn set_flag(flags: anytype, bit: anytype, on: bool) void {
    if (on) flags.* |= @intCast(bit) else flags.* &= ~@as(@TypeOf(flags.*), @intCast(bit));
}

pub fn get_option(index: u32, option: u32) Error!u64 {
    const socket = &sockets[index];
    assert(socket.state != .free);
    const options: u8 = if (socket.tcp) |pcb| pcb.so_options else if (socket.udp) |pcb|
        pcb.so_options
    else
        0;
    return switch (option) {
        abi.option_nonblocking => @intFromBool(socket.nonblocking),
        abi.option_error => if (take_error(socket)) |err| error_code(err) else 0,
        abi.option_tcp_nodelay => if (socket.kind == .stream)
            @intFromBool(socket.nodelay)
        else
            error.Unsupported,
        abi.option_keepalive => if (socket.kind == .stream)
            @intFromBool(options & lwip.SOF_KEEPALIVE != 0)
        else
            error.Unsupported,
        abi.option_reuse_address => @intFromBool(options & lwip.SOF_REUSEADDR != 0),
        abi.option_send_buffer_bytes => if (socket.kind == .stream)
            socket.send_limit_bytes
        else
            error.Unsupported,
        abi.option_receive_buffer_bytes => if (socket.kind == .stream)
            constants.lwip.tcp_window_bytes
        else
            socket.receive_limit_bytes,
        else => error.OutOfRange,
    };
}

fn error_code(err: Error) u64 {
    const code: abi.Error = switch (err) {
        error.ConnectionRefused => .connection_refused,
        error.TimedOut => .timed_out,
        error.NoRoute => .no_route,
        else => .connection_reset,
    };
    return @intCast(@intFromEnum(code));
}

fn take_error(socket: *Socket) ?Error {
    const err = socket.pending_error;
    socket.pending_error = null;
    return err;
}

// ---- Readiness and closing ----------------------------------------------------------------------

pub fn readiness(index: u32) Readiness {
    const socket = &sockets[index];
    assert(socket.state != .free);
    const failed = socket.pending_error != null;
    const over = socket.state == .ended;
    return switch (socket.state) {
        .listening => .{
            .readable = socket.pending_count > 0,
            .writable = false,
            .closed = false,
            .failed = failed,
        },
        .open => .{
            .readable = socket.queue_count > 0,
            .writable = socket.kind == .datagram,
            .closed = false,
            .failed = failed,
        },
        else => .{
            .readable = socket.queue_count > 0 or socket.fin_received or socket.read_shut or
                over,
            .writable = over or failed or (socket.state == .connected and !socket.write_shut and
                send_room(socket.tcp.?, socket.send_limit_bytes) > 0),
            .closed = over or (socket.fin_received and socket.write_shut),
            .failed = failed,
        },
    };
}

/// Closes the socket (io.close): see io.close in docs/abi.md for what the peer sees.
pub fn close(index: u32) void {
    defer stack.flush(); // The FIN (or RST) leaves now.
    const socket = &sockets[index];
    assert(socket.state != .free);
    assert(socket.state != .pending); // Pending sockets have no handle.
    switch (socket.kind) {
        .datagram => lwip.udp_remove(socket.udp.?),
        .stream => if (socket.tcp) |pcb| {
            if (socket.state == .listening) {
                close_listener(index, pcb);
            } else {
                close_connection(socket, pcb);
            }
        },
    }
    release(index);
}

fn close_listener(index: u32, pcb: *lwip.tcp_pcb) void {
    // A listening pcb has only an argument and an accept callback (tcp_recv & co. assert).
    lwip.tcp_arg(pcb, null);
    lwip.tcp_accept(pcb, null);
    // Closing a listening pcb always succeeds and frees it.
    assert(lwip.tcp_close(pcb) == lwip.ERR_OK);
    for (&sockets, 0..) |*pending, pending_index| {
        if (pending.state != .pending or pending.listener != index) continue;
        if (pending.tcp) |connection| {
            detach_tcp(connection);
            lwip.tcp_abort(connection); // Reset: never accepted.
            pending.tcp = null;
        }
        release(@intCast(pending_index));
    }
}

/// A FIN after the queued data; a reset when received data is left unread and the peer has
/// not finished sending (lwIP's tcp_close). Data the peer sent before its FIN is discarded
/// first, so the reply just written is not destroyed by a reset.
fn close_connection(socket: *Socket, pcb: *lwip.tcp_pcb) void {
    if (socket.fin_received) discard_queue(socket);
    detach_tcp(pcb);
    socket.tcp = null;
    if (lwip.tcp_close(pcb) != lwip.ERR_OK) lwip.tcp_abort(pcb); // ERR_MEM: no room for a FIN.
}

/// Frees a socket's slot and queue; waiters wake and find it gone (a new generation).
fn release(index: u32) void {
    const socket = &sockets[index];
    assert(socket.state != .free);
    for (0..socket.queue_count) |offset| {
        const position = (socket.queue_head + offset) % queue_entries;
        _ = lwip.pbuf_free(socket.queue[position].chain);
    }
    const generation = socket.generation +% 1;
    socket.* = .{ .generation = generation };
    notify(index);
}

/// Drops the received queue and gives its window back.
fn discard_queue(socket: *Socket) void {
    var bytes: u32 = 0;
    for (0..socket.queue_count) |offset| {
        const position = (socket.queue_head + offset) % queue_entries;
        bytes += socket.queue[position].chain.tot_len;
        _ = lwip.pbuf_free(socket.queue[position].chain);
    }
    socket.queue_count = 0;
    assert(bytes == socket.queued_bytes or socket.kind == .datagram);
    if (socket.kind == .stream) consumed(socket, bytes) else socket.queued_bytes = 0;
}

/// Forgets a pcb lwIP keeps on its own (closing in both directions): no more callbacks.
fn end_connection(socket: *Socket, pcb: *lwip.tcp_pcb) void {
    assert(socket.tcp == pcb);
    assert(socket.fin_received and socket.write_shut);
    detach_tcp(pcb);
    socket.tcp = null;
    socket.state = .ended;
}

/// Ends a connection from our side with a reset (a connect that timed out).
fn abandon(index: u32, err: Error) void {
    const socket = &sockets[index];
    const pcb = socket.tcp orelse return;
    detach_tcp(pcb);
    lwip.tcp_abort(pcb);
    socket.tcp = null;
    socket.state = .ended;
    socket.pending_error = err;
    notify(index);
}

// ---- lwIP callbacks -----------------------------------------------------------------------------

/// The callback argument for socket `index`: its index + 1 and generation, never null.
fn argument(index: u32) ?*anyopaque {
    const value = (@as(usize, sockets[index].generation) << 16) | (index + 1);
    return @ptrFromInt(value);
}

/// The socket a callback argument names, or null if it was closed since.
fn socket_of(arg: ?*anyopaque) ?u32 {
    const value = @intFromPtr(arg);
    const index: u32 = @intCast((value & 0xffff) -% 1);
    if (value == 0 or index >= sockets.len) return null;
    if (sockets[index].state == .free) return null;
    if (sockets[index].generation != @as(u16, @truncate(value >> 16))) return null;
    return index;
}

fn attach_tcp(pcb: *lwip.tcp_pcb, index: u32) void {
    lwip.tcp_arg(pcb, argument(index));
    lwip.tcp_recv(pcb, &on_receive);
    lwip.tcp_sent(pcb, &on_sent);
    lwip.tcp_err(pcb, &on_error);
}

/// Back to lwIP's own handlers (tcp_recv_null acknowledges and drops data), no argument.
fn detach_tcp(pcb: *lwip.tcp_pcb) void {
    lwip.tcp_arg(pcb, null);
    lwip.tcp_recv(pcb, null);
    lwip.tcp_sent(pcb, null);
    lwip.tcp_err(pcb, null);
}

fn on_accept(arg: ?*anyopaque, pcb: [*c]lwip.tcp_pcb, result: lwip.err_t) callconv(.c) lwip.err_t {
    const listener = socket_of(arg) orelse return lwip.ERR_VAL;
    // No pcb was free: nothing to refuse.
    const connection = pointer(lwip.tcp_pcb, pcb) orelse return lwip.ERR_VAL;
    if (result != lwip.ERR_OK) return lwip.ERR_VAL;
    const owner = &sockets[listener];
    assert(owner.state == .listening);
    // Full backlog, or no socket free: lwIP resets the connection for an error.
    if (owner.pending_count >= owner.backlog) return lwip.ERR_MEM;
    const index = free_socket() orelse return lwip.ERR_MEM;
    const socket = &sockets[index];
    const generation = socket.generation;
    socket.* = fresh(.pending, .stream, generation);
    socket.tcp = connection;
    socket.listener = listener;
    socket.nodelay = owner.nodelay;
    arrivals += 1;
    socket.arrival = arrivals;
    if (owner.nodelay) set_flag(&connection.flags, lwip.TF_NODELAY, true);
    attach_tcp(connection, index);
    lwip.tcp_backlog_delayed(connection);
    owner.pending_count += 1;
    notify(listener);
    return lwip.ERR_OK;
}

var arrivals: u64 = 0;

fn on_connected(
    arg: ?*anyopaque,
    pcb: [*c]lwip.tcp_pcb,
    result: lwip.err_t,
) callconv(.c) lwip.err_t {
    _ = pcb;
    const index = socket_of(arg) orelse return lwip.ERR_OK;
    assert(result == lwip.ERR_OK); // lwIP 2.2 reports failures through the err callback.
    if (sockets[index].state == .connecting) sockets[index].state = .connected;
    notify(index);
    return lwip.ERR_OK;
}

fn on_receive(
    arg: ?*anyopaque,
    pcb: [*c]lwip.tcp_pcb,
    chain: [*c]lwip.pbuf,
    result: lwip.err_t,
) callconv(.c) lwip.err_t {
    assert(result == lwip.ERR_OK);
    const connection = pointer(lwip.tcp_pcb, pcb).?;
    const index = socket_of(arg) orelse {
        if (pointer(lwip.pbuf, chain)) |data| {
            lwip.tcp_recved(connection, data.tot_len);
            _ = lwip.pbuf_free(data);
        }
        return lwip.ERR_OK;
    };
    const socket = &sockets[index];
    const data = pointer(lwip.pbuf, chain) orelse {
        socket.fin_received = true;
        // Both directions are done: lwIP moves the pcb to TIME_WAIT (or CLOSING, then
        // TIME_WAIT) and frees it later without a callback, so it is forgotten now.
        if (socket.write_shut) end_connection(socket, connection);
        notify(index);
        return lwip.ERR_OK;
    };
    if (socket.read_shut) {
        lwip.tcp_recved(connection, data.tot_len);
        _ = lwip.pbuf_free(data);
        return lwip.ERR_OK;
    }
    if (!enqueue(socket, data, std.mem.zeroes(Address))) return lwip.ERR_MEM; // Kept; re-sent.
    notify(index);
    return lwip.ERR_OK;
}

/// Appends a received chain: joined to the last one while the u16 lengths allow, else a new
/// ring entry. False when the ring is full (the caller keeps the chain).
fn enqueue(socket: *Socket, chain: *lwip.pbuf, from: Address) bool {
    assert(socket.queue_count <= socket.queue.len);
    if (socket.kind == .stream and socket.queue_count > 0) {
        const last = (socket.queue_head + socket.queue_count - 1) % queue_entries;
        const joined = @as(u32, socket.queue[last].chain.tot_len) + chain.tot_len;
        if (joined <= std.math.maxInt(u16)) {
            lwip.pbuf_cat(socket.queue[last].chain, chain);
            socket.queued_bytes += chain.tot_len;
            return true;
        }
    }
    if (socket.queue_count == socket.queue.len) return false;
    const position = (socket.queue_head + socket.queue_count) % queue_entries;
    socket.queue[position] = .{ .chain = chain, .from = from };
    socket.queue_count += 1;
    socket.queued_bytes += chain.tot_len;
    return true;
}

fn on_sent(arg: ?*anyopaque, pcb: [*c]lwip.tcp_pcb, length: u16) callconv(.c) lwip.err_t {
    _ = .{ pcb, length };
    const index = socket_of(arg) orelse return lwip.ERR_OK;
    notify(index);
    return lwip.ERR_OK;
}

/// The connection is gone and lwIP has freed its pcb (tcp_err): reset, aborted, or closed by
/// both sides (ERR_CLSD, not an error).
fn on_error(arg: ?*anyopaque, result: lwip.err_t) callconv(.c) void {
    const index = socket_of(arg) orelse return;
    const socket = &sockets[index];
    assert(socket.kind == .stream);
    const connecting = socket.state == .connecting;
    socket.tcp = null;
    if (socket.state != .pending) socket.state = .ended;
    socket.pending_error = switch (result) {
        lwip.ERR_CLSD => null,
        lwip.ERR_RST => if (connecting) error.ConnectionRefused else error.ConnectionReset,
        lwip.ERR_ABRT => if (connecting) error.TimedOut else error.ConnectionReset,
        else => error.ConnectionReset,
    };
    notify(index);
}

fn on_datagram(
    arg: ?*anyopaque,
    pcb: [*c]lwip.udp_pcb,
    chain: [*c]lwip.pbuf,
    from: [*c]const lwip.ip_addr_t,
    port: u16,
) callconv(.c) void {
    _ = pcb;
    const data = pointer(lwip.pbuf, chain) orelse return;
    const index = socket_of(arg) orelse {
        _ = lwip.pbuf_free(data);
        return;
    };
    const socket = &sockets[index];
    const fits = socket.queued_bytes + data.tot_len <= socket.receive_limit_bytes;
    if (!fits or !enqueue(socket, data, address_of(from.*, port))) {
        _ = lwip.pbuf_free(data); // Dropped, as UDP may.
        return;
    }
    notify(index);
}

// ---- Waiting, addresses, errors ----------------------------------------------------------------

/// Every change wakes the socket's waiters and io.poll's.
fn notify(index: u32) void {
    scheduler.wake_all(.socket, index);
    scheduler.wake_all(.poll, 0);
}

/// Blocks until the socket changes or the deadline; BadHandle when it was closed meanwhile.
fn wait(index: u32, generation: u16, deadline: u64) Error!void {
    const in_time = scheduler.block(.socket, index, deadline);
    if (sockets[index].generation != generation) return error.BadHandle;
    if (!in_time) return error.TimedOut;
}

const any_ip: lwip.ip_addr_t = .{ .addr = 0 };

/// A blocking call to a non-loopback address made while the NIC is still being brought up
/// (net/stack.zig: off the path to main) waits for its address, bounded; it then goes ahead
/// either way (without an address lwIP answers no_route). Non-blocking calls never wait.
fn address_wait(ip: lwip.ip_addr_t) void {
    const loopback = (std.mem.bigToNative(u32, ip.addr) >> 24) == 127;
    if (loopback) return;
    _ = stack.await_configured(scheduler.deadline_after(constants.net_address_wait_ns_max));
}

/// A non-blocking call found nothing to do: the caller will try again, perhaps in a loop that
/// never blocks, so the network is polled here (rate-limited) for its next try to see progress.
fn would_block() Error {
    scheduler.waker_poll_if_due();
    return error.WouldBlock;
}

fn ip_of(address: Address) Error!lwip.ip_addr_t {
    switch (address.family) {
        abi.family_inet4 => {},
        abi.family_inet6 => return error.Unsupported, // Built without IPv6 (lwipopts.h).
        else => return error.OutOfRange,
    }
    for (address.address[4..]) |byte| if (byte != 0) return error.OutOfRange;
    // ip4_addr_t holds the address in network order.
    return .{ .addr = std.mem.readInt(u32, address.address[0..4], .little) };
}

fn address_of(ip: lwip.ip_addr_t, port: u16) Address {
    var address: Address = .{ .family = abi.family_inet4, .port = port, .address = @splat(0) };
    std.mem.writeInt(u32, address.address[0..4], ip.addr, .little);
    return address;
}

/// A C pointer lwIP returned, as an optional Zig pointer.
fn pointer(comptime T: type, raw: [*c]T) ?*T {
    if (raw == null) return null;
    return raw;
}

fn check_lwip(result: lwip.err_t) Error!void {
    return switch (result) {
        lwip.ERR_OK => {},
        lwip.ERR_MEM, lwip.ERR_BUF => error.NoMemory,
        lwip.ERR_USE => error.AddressInUse,
        lwip.ERR_RTE, lwip.ERR_IF => error.NoRoute,
        lwip.ERR_ISCONN, lwip.ERR_ALREADY => error.AlreadyConnected,
        lwip.ERR_CONN, lwip.ERR_CLSD => error.NotConnected,
        lwip.ERR_RST, lwip.ERR_ABRT => error.ConnectionReset,
        lwip.ERR_TIMEOUT => error.TimedOut,
        lwip.ERR_INPROGRESS, lwip.ERR_WOULDBLOCK => error.WouldBlock,
        else => error.OutOfRange, // ERR_ARG, ERR_VAL: an argument lwIP refused.
    };
}

// ---- Names -------------------------------------------------------------------------------

/// One net.resolve in progress; the callback's argument names its slot and generation.
const Lookup = struct {
    in_use: bool = false,
    done: bool = false,
    /// The address (ip4_addr_t.addr), or null: no such name.
    found: ?u32 = null,
    generation: u16 = 0,
};
var lookups: [constants.net_resolves_max]Lookup = [_]Lookup{.{}} ** constants.net_resolves_max;

/// Resolves `name`: "localhost", a numeric IPv4 name, or through DNS (waiting up to
/// `timeout_ns`). Returns how many addresses were written to `out` (ports 0).
pub fn resolve(name: []const u8, out: []Address, timeout_ns: u64) Error!usize {
    assert(out.len > 0);
    assert(name.len > 0 and name.len <= abi.host_name_bytes_max);
    if (!stack.start()) return error.NoMemory;
    if (std.ascii.eqlIgnoreCase(name, "localhost")) {
        out[0] = address_of(.{ .addr = std.mem.nativeToBig(u32, 0x7f00_0001) }, 0);
        return 1;
    }
    var text: [abi.host_name_bytes_max + 1]u8 = undefined;
    @memcpy(text[0..name.len], name);
    text[name.len] = 0;
    if (std.mem.indexOfScalar(u8, name, 0) != null) return error.OutOfRange;
    // A numeric name needs no resolver, so no wait for the network's address either.
    var numeric: lwip.ip4_addr_t = undefined;
    if (lwip.ip4addr_aton(&text, &numeric) != 0) {
        out[0] = address_of(numeric, 0);
        return 1;
    }
    const slot = for (&lookups, 0..) |*lookup, slot| {
        if (!lookup.in_use) break @as(u32, @intCast(slot));
    } else return error.LimitReached;
    const lookup = &lookups[slot];
    lookup.* = .{ .in_use = true, .generation = lookup.generation };
    defer lookup.* = .{ .generation = lookup.generation +% 1 };
    var ip: lwip.ip_addr_t = any_ip;
    // The resolver comes with the address (DHCP or uk.dns), which may still be on its way.
    const wait_ns = @min(timeout_ns, constants.net_address_wait_ns_max);
    _ = stack.await_configured(scheduler.deadline_after(wait_ns));
    const arg: ?*anyopaque = @ptrFromInt((@as(usize, lookup.generation) << 16) | (slot + 1));
    switch (lwip.dns_gethostbyname(&text, &ip, &on_resolved, arg)) {
        lwip.ERR_OK => {
            lookup.done = true;
            lookup.found = ip.addr;
        },
        lwip.ERR_INPROGRESS => {},
        lwip.ERR_VAL => return error.NoRoute, // No DNS server: no network configured one.
        lwip.ERR_MEM => return error.LimitReached, // Every DNS table entry is busy.
        else => return error.OutOfRange, // ERR_ARG: a name lwIP cannot send.

    }
    const limit = @min(timeout_ns, constants.net_resolve_timeout_ns_max); // Infinite too.
    const deadline = scheduler.deadline_after(limit);
    while (!lookup.done) {
        if (!scheduler.block(.socket, constants.net_sockets_max + slot, deadline)) {
            return error.TimedOut;
        }
    }
    const found = lookup.found orelse return error.NotFound;
    out[0] = address_of(.{ .addr = found }, 0);
    return 1;
}

fn on_resolved(
    name: [*c]const u8,
    ip: [*c]const lwip.ip_addr_t,
    arg: ?*anyopaque,
) callconv(.c) void {
    _ = name;
    const value = @intFromPtr(arg);
    const slot: u32 = @intCast((value & 0xffff) -% 1);
    if (slot >= lookups.len) return;
    const lookup = &lookups[slot];
    if (!lookup.in_use or lookup.generation != @as(u16, @truncate(value >> 16))) return;
    lookup.done = true;
    lookup.found = if (ip != null) ip.*.addr else null;
    scheduler.wake_all(.socket, constants.net_sockets_max + slot);
}
