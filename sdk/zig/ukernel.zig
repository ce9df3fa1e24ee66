//! The ukernel SDK for Zig workloads (module name `ukernel`).
//!
//! A workload's entry file declares `pub fn main(context: ukernel.Context) u8` (or returns
//! `void`, `!u8` or `!void`; another integer type works too, but a value outside 0-255 exits
//! with abi.exit_status_out_of_range, and an error with 1). start.zig (the root module of every
//! workload) provides the ELF entry point and calls it; this module keeps the kernel's call
//! table and wraps the calls (abi.zig, generated from abi/ukernel.abi.json) in Zig idioms.
//!
//!     const ukernel = @import("ukernel");
//!     pub fn main(context: ukernel.Context) u8 {
//!         ukernel.print("hello from {s}\n", .{context.args[0]});
//!         return 0;
//!     }

const std = @import("std");
pub const abi = @import("abi.zig");

pub const Context = struct {
    /// argv[0] is the workload's path in the image; then the arguments given after `--`.
    args: []const [*:0]const u8,
    /// `KEY=VALUE` strings from the image's etc/ukernel.env.
    env: []const [*:0]const u8,

    /// The value of environment variable `key`, or null.
    pub fn getenv(context: Context, key: []const u8) ?[]const u8 {
        for (context.env) |entry| {
            const text = std.mem.span(entry);
            if (text.len > key.len and text[key.len] == '=' and std.mem.eql(u8, text[0..key.len], key)) {
                return text[key.len + 1 ..];
            }
        }
        return null;
    }
};

pub const Error = abi.Failure || error{Unknown};

var table: *const abi.Table = undefined;

/// Called by start.zig's entry point: keeps the table and runs `main`.
pub fn run(start: *const abi.StartContext, comptime main: anytype) u32 {
    table = start.table;
    const context: Context = .{
        .args = start.argv[0..start.argc],
        .env = start.envp[0..start.envc],
    };
    return status_of(main(context));
}

/// main's result as the VM's exit status. Integers of any type: 0-255 is the status; any other
/// value (negative, or above 255) prints why and gives abi.exit_status_out_of_range, the same in
/// every build mode (never cut to the low 8 bits, where 256 would read as success).
fn status_of(result: anytype) u32 {
    const Result = @TypeOf(result);
    switch (@typeInfo(Result)) {
        .void => return 0,
        .int => {
            if (result >= 0 and result <= 255) return @intCast(result);
            print("error: main returned {d}, outside the exit status range 0-255\n", .{result});
            return abi.exit_status_out_of_range;
        },
        .error_union => {
            const value = result catch |err| {
                print("error: {s}\n", .{@errorName(err)});
                return 1;
            };
            return status_of(value);
        },
        else => @compileError("main must return void, an integer (u8), or an error union of " ++
            "them, not " ++ @typeName(Result)),
    }
}

/// The ABI version this workload is built for, as an ELF note the kernel checks before running it.
const AbiNote = extern struct {
    name_bytes: u32 = abi.note_name.len + 1,
    description_bytes: u32 = 8,
    kind: u32 = abi.note_type_abi_version,
    name: [8]u8 = (abi.note_name ++ "\x00").*,
    major: u16 = abi.version_major,
    minor: u16 = abi.version_minor,
    patch: u16 = abi.version_patch,
    reserved: u16 = 0,
};
pub const abi_note: AbiNote linksection(".note.ukernel") = .{};
comptime {
    @export(&abi_note, .{ .name = "ukernel_abi_note", .section = ".note.ukernel" });
}

fn check(result: i64) Error!u64 {
    if (result >= 0) return @intCast(result);
    const code = std.meta.intToEnum(abi.Error, -result) catch return error.Unknown;
    return abi.failure(code);
}

// ---- Tasks ------------------------------------------------------------------------------------

/// Starts `entry(argument)` as a new task; returns its handle (for join).
pub fn spawn(entry: abi.TaskEntry, argument: u64, stack_bytes: u64) Error!u32 {
    return @intCast(try check(table.task_spawn(entry, argument, stack_bytes)));
}

/// Lets every other ready task run once.
pub fn yield() void {
    _ = table.task_yield();
}

pub fn sleep(duration_ns: u64) void {
    _ = table.task_sleep(duration_ns);
}

/// Waits for a task to end and returns its status.
pub fn join(task: u32, timeout_ns: u64) Error!u32 {
    return @intCast(try check(table.task_join(task, timeout_ns)));
}

/// This task's id; the first task is 0.
pub fn self() u32 {
    return @intCast(table.task_self());
}

// ---- I/O --------------------------------------------------------------------------------------

/// Opens a file of the image's root filesystem for reading.
pub fn open(path: []const u8) Error!u32 {
    return @intCast(try check(table.io_open(path.ptr, path.len, 0)));
}

/// Reads from a file (0 at its end) or receives one message from a channel.
pub fn read(handle: u32, buffer: []u8) Error!usize {
    return @intCast(try check(table.io_read(handle, buffer.ptr, buffer.len)));
}

pub fn close(handle: u32) Error!void {
    _ = try check(table.io_close(handle));
}

/// Waits until one of `items` is ready (or the timeout passes); returns how many are ready and
/// fills their `revents`.
pub fn poll(items: []abi.PollItem, timeout_ns: u64) Error!usize {
    return @intCast(try check(table.io_poll(items.ptr, @intCast(items.len), timeout_ns)));
}

/// Writes all of `bytes` to `handle`, in pieces of at most abi.write_bytes_max.
pub fn write(handle: u32, bytes: []const u8) Error!void {
    var sent: usize = 0;
    while (sent < bytes.len) {
        const piece = bytes[sent..][0..@min(bytes.len - sent, abi.write_bytes_max)];
        const written = try check(table.io_write(handle, piece.ptr, piece.len));
        if (written == 0) return error.IoFailed;
        sent += @intCast(written);
    }
}

// ---- Channels ---------------------------------------------------------------------------------

pub const Channel = struct {
    handle: u32,

    pub fn create(capacity: u32, message_bytes_max: u32) Error!Channel {
        return .{ .handle = @intCast(try check(table.ipc_channel_create(capacity, message_bytes_max))) };
    }

    /// Waits for space when the channel is full.
    pub fn send(channel: Channel, message: []const u8) Error!void {
        _ = try check(table.ipc_send(channel.handle, message.ptr, message.len, 0));
    }

    /// error.WouldBlock when the channel is full.
    pub fn try_send(channel: Channel, message: []const u8) Error!void {
        _ = try check(table.ipc_send(channel.handle, message.ptr, message.len, abi.flag_nonblocking));
    }

    /// Waits for a message; returns its length (error.Closed once closed and drained).
    pub fn recv(channel: Channel, buffer: []u8) Error!usize {
        return @intCast(try check(table.ipc_recv(channel.handle, buffer.ptr, buffer.len, 0)));
    }

    /// error.WouldBlock when the channel is empty.
    pub fn try_recv(channel: Channel, buffer: []u8) Error!usize {
        return @intCast(try check(table.ipc_recv(channel.handle, buffer.ptr, buffer.len, abi.flag_nonblocking)));
    }

    pub fn close(channel: Channel) Error!void {
        _ = try check(table.io_close(channel.handle));
    }
};

// ---- Networking -------------------------------------------------------------------------------

/// Sockets over the kernel's TCP/IP stack (lwIP): TCP streams and UDP datagrams, blocking or
/// not, pollable with `poll` (their handles go in abi.PollItem like any other).
///
///     const server = try ukernel.net.Socket.listen_tcp(ukernel.net.Address.ipv4(.{ 0, 0, 0, 0 }, 8080), 16);
///     const client = (try server.accept(.{})).socket;
///     var buffer: [1024]u8 = undefined;
///     const n = try client.recv(&buffer);
///     try client.send_all(buffer[0..n]);
///     client.close();
pub const net = struct {
    /// An IPv4 or IPv6 address and port (abi.SocketAddress: port in host order, address bytes
    /// in network order). Formats as `1.2.3.4:80` with `{f}`.
    pub const Address = struct {
        raw: abi.SocketAddress,

        /// `a.b.c.d:port`.
        pub fn ipv4(octets: [4]u8, port_number: u16) Address {
            var raw: abi.SocketAddress = .{
                .family = abi.family_inet4,
                .port = port_number,
                .address = @splat(0),
            };
            raw.address[0..4].* = octets;
            return .{ .raw = raw };
        }

        /// 127.0.0.1:port.
        pub fn loopback(port_number: u16) Address {
            return ipv4(.{ 127, 0, 0, 1 }, port_number);
        }

        /// 0.0.0.0:port: every local address (for bind).
        pub fn any(port_number: u16) Address {
            return ipv4(.{ 0, 0, 0, 0 }, port_number);
        }

        /// Parses `a.b.c.d:port` (or `a.b.c.d` with `default_port`); error.OutOfRange if it is
        /// not that (host names go through `resolve`).
        pub fn parse(text: []const u8, default_port: u16) Error!Address {
            const colon = std.mem.lastIndexOfScalar(u8, text, ':');
            const host = if (colon) |at| text[0..at] else text;
            const port_number = if (colon) |at|
                try decimal(u16, text[at + 1 ..], 5)
            else
                default_port;
            var octets: [4]u8 = undefined;
            var parts = std.mem.splitScalar(u8, host, '.');
            for (&octets) |*octet| {
                const part = parts.next() orelse return error.OutOfRange;
                octet.* = try decimal(u8, part, 3);
            }
            if (parts.next() != null) return error.OutOfRange;
            return ipv4(octets, port_number);
        }

        /// Plain decimal digits only (std.fmt.parseInt also takes "+" and "_"), no leading zero,
        /// at most `digits_max` of them.
        fn decimal(comptime T: type, text: []const u8, digits_max: usize) Error!T {
            if (text.len == 0 or text.len > digits_max) return error.OutOfRange;
            if (text.len > 1 and text[0] == '0') return error.OutOfRange;
            for (text) |c| if (c < '0' or c > '9') return error.OutOfRange;
            return std.fmt.parseInt(T, text, 10) catch error.OutOfRange;
        }

        pub fn port(address: Address) u16 {
            return address.raw.port;
        }

        /// The same address with another port.
        pub fn with_port(address: Address, new_port: u16) Address {
            var copy = address;
            copy.raw.port = new_port;
            return copy;
        }

        pub fn eql(a: Address, b: Address) bool {
            return a.raw.family == b.raw.family and a.raw.port == b.raw.port and
                std.mem.eql(u8, &a.raw.address, &b.raw.address);
        }

        /// `1.2.3.4:80`, `[2001:db8:0:0:0:0:0:1]:80` (IPv6 unabbreviated), `?` for another family.
        pub fn format(address: Address, writer: *std.Io.Writer) std.Io.Writer.Error!void {
            const bytes = address.raw.address;
            switch (address.raw.family) {
                abi.family_inet4 => try writer.print("{d}.{d}.{d}.{d}:{d}", .{ bytes[0], bytes[1], bytes[2], bytes[3], address.raw.port }),
                abi.family_inet6 => {
                    try writer.writeByte('[');
                    for (0..8) |group| {
                        if (group > 0) try writer.writeByte(':');
                        try writer.print("{x}", .{std.mem.readInt(u16, bytes[group * 2 ..][0..2], .big)});
                    }
                    try writer.print("]:{d}", .{address.raw.port});
                },
                else => try writer.writeByte('?'),
            }
        }
    };

    pub const Kind = enum(u32) { stream = abi.socket_stream, datagram = abi.socket_datagram };

    pub const Shutdown = enum(u32) {
        read = abi.shutdown_read,
        write = abi.shutdown_write,
        both = abi.shutdown_both,
    };

    pub const Option = enum(u32) {
        nonblocking = abi.option_nonblocking,
        /// Read only; reading clears it.
        @"error" = abi.option_error,
        tcp_nodelay = abi.option_tcp_nodelay,
        keepalive = abi.option_keepalive,
        reuse_address = abi.option_reuse_address,
        send_buffer_bytes = abi.option_send_buffer_bytes,
        receive_buffer_bytes = abi.option_receive_buffer_bytes,
    };

    pub const Accepted = struct { socket: Socket, peer: Address };
    pub const Datagram = struct { length: usize, from: Address };

    pub const Socket = struct {
        handle: u32,

        /// A new socket; `nonblocking`: its calls return error.WouldBlock instead of waiting.
        pub fn open(kind: Kind, nonblocking: bool) Error!Socket {
            const flags: u32 = if (nonblocking) abi.flag_nonblocking else 0;
            return .{ .handle = @intCast(try check(table.net_socket(@intFromEnum(kind), flags))) };
        }

        /// A TCP listener on `address` (reuse-address set, so a restarted server rebinds).
        pub fn listen_tcp(address: Address, backlog: u32) Error!Socket {
            const socket = try Socket.open(.stream, false);
            errdefer socket.close();
            try socket.set_option(.reuse_address, 1);
            try socket.bind(address);
            try socket.listen(backlog);
            return socket;
        }

        /// A TCP connection to `address` (waits until established, refused or timed out).
        pub fn connect_tcp(address: Address) Error!Socket {
            const socket = try Socket.open(.stream, false);
            errdefer socket.close();
            try socket.connect(address);
            return socket;
        }

        /// A UDP socket bound to `address` (port 0: any free port).
        pub fn bind_udp(address: Address) Error!Socket {
            const socket = try Socket.open(.datagram, false);
            errdefer socket.close();
            try socket.bind(address);
            return socket;
        }

        pub fn bind(socket: Socket, address: Address) Error!void {
            _ = try check(table.net_bind(socket.handle, &address.raw));
        }

        pub fn listen(socket: Socket, backlog: u32) Error!void {
            _ = try check(table.net_listen(socket.handle, backlog));
        }

        /// Waits for a connection (unless non-blocking: error.WouldBlock). The new socket is
        /// blocking unless `nonblocking`.
        pub fn accept(socket: Socket, options: struct { nonblocking: bool = false }) Error!Accepted {
            var peer: abi.SocketAddress = undefined;
            const flags: u32 = if (options.nonblocking) abi.flag_nonblocking else 0;
            const handle = try check(table.net_accept(socket.handle, &peer, flags));
            return .{ .socket = .{ .handle = @intCast(handle) }, .peer = .{ .raw = peer } };
        }

        /// Stream: connects (non-blocking sockets: error.WouldBlock, then writable in `poll`
        /// once connected; a failure shows as poll_error and `take_error`). Datagram: sets the
        /// peer for `send`/`recv`.
        pub fn connect(socket: Socket, address: Address) Error!void {
            _ = try check(table.net_connect(socket.handle, &address.raw));
        }

        /// Sends some of `bytes`; returns how many were taken (at least 1 unless `bytes` is
        /// empty).
        pub fn send(socket: Socket, bytes: []const u8) Error!usize {
            return @intCast(try check(table.net_send(socket.handle, bytes.ptr, bytes.len, 0)));
        }

        /// Sends all of `bytes`, waiting for send space as often as needed.
        pub fn send_all(socket: Socket, bytes: []const u8) Error!void {
            var sent: usize = 0;
            while (sent < bytes.len) {
                const piece = bytes[sent..][0..@min(bytes.len - sent, abi.write_bytes_max)];
                const taken = try check(table.net_send(socket.handle, piece.ptr, piece.len, 0));
                if (taken == 0) return error.IoFailed;
                sent += @intCast(taken);
            }
        }

        /// Receives into `buffer`; returns the bytes received, 0 at the end of the stream.
        pub fn recv(socket: Socket, buffer: []u8) Error!usize {
            return @intCast(try check(table.net_recv(socket.handle, buffer.ptr, buffer.len, 0)));
        }

        /// As recv, with abi.flag_nonblocking and/or abi.flag_peek.
        pub fn recv_flags(socket: Socket, buffer: []u8, flags: u32) Error!usize {
            return @intCast(try check(table.net_recv(socket.handle, buffer.ptr, buffer.len, flags)));
        }

        /// Fills `buffer` completely; error.Closed if the stream ends first.
        pub fn recv_all(socket: Socket, buffer: []u8) Error!void {
            var received: usize = 0;
            while (received < buffer.len) {
                const n = try socket.recv(buffer[received..]);
                if (n == 0) return error.Closed;
                received += n;
            }
        }

        /// Datagram: sends `bytes` to `address`.
        pub fn sendto(socket: Socket, bytes: []const u8, address: Address) Error!void {
            _ = try check(table.net_sendto(socket.handle, bytes.ptr, bytes.len, &address.raw, 0));
        }

        /// Datagram: receives one (cut to `buffer`) and its sender.
        pub fn recvfrom(socket: Socket, buffer: []u8) Error!Datagram {
            var from: abi.SocketAddress = undefined;
            const n = try check(table.net_recvfrom(socket.handle, buffer.ptr, buffer.len, &from, 0));
            return .{ .length = @intCast(n), .from = .{ .raw = from } };
        }

        pub fn shutdown(socket: Socket, how: Shutdown) Error!void {
            _ = try check(table.net_shutdown(socket.handle, @intFromEnum(how)));
        }

        pub fn local_address(socket: Socket) Error!Address {
            var raw: abi.SocketAddress = undefined;
            _ = try check(table.net_local_address(socket.handle, &raw));
            return .{ .raw = raw };
        }

        pub fn peer_address(socket: Socket) Error!Address {
            var raw: abi.SocketAddress = undefined;
            _ = try check(table.net_peer_address(socket.handle, &raw));
            return .{ .raw = raw };
        }

        pub fn set_option(socket: Socket, option: Option, value: u64) Error!void {
            _ = try check(table.net_set_option(socket.handle, @intFromEnum(option), value));
        }

        pub fn get_option(socket: Socket, option: Option) Error!u64 {
            return check(table.net_get_option(socket.handle, @intFromEnum(option)));
        }

        /// The pending error (after a non-blocking connect, or poll_error), cleared; null if none.
        pub fn take_error(socket: Socket) ?Error {
            const code = socket.get_option(.@"error") catch |err| return err;
            if (code == 0) return null;
            _ = check(-@as(i64, @intCast(code))) catch |err| return err;
            return error.Unknown;
        }

        /// Closes the socket (queued data is still sent; see io.close in docs/abi.md).
        pub fn close(socket: Socket) void {
            _ = table.io_close(socket.handle);
        }

        /// An abi.PollItem for this socket.
        pub fn poll_item(socket: Socket, events: u16) abi.PollItem {
            return .{ .handle = socket.handle, .events = events, .revents = 0 };
        }
    };

    /// Resolves `name` ("10.0.2.2", "localhost", or a DNS name) into `addresses` (ports 0);
    /// returns the filled part.
    pub fn resolve(name: []const u8, addresses: []Address, timeout_ns: u64) Error![]Address {
        var raw: [abi.resolve_addresses_max]abi.SocketAddress = undefined;
        const count: u32 = @intCast(@min(addresses.len, raw.len));
        const n: usize = @intCast(try check(table.net_resolve(name.ptr, name.len, &raw, count, timeout_ns)));
        for (raw[0..n], addresses[0..n]) |entry, *address| address.* = .{ .raw = entry };
        return addresses[0..n];
    }
};

// ---- Memory -----------------------------------------------------------------------------------

pub const Arena = struct {
    handle: u32,

    pub fn create(bytes_max: u64) Error!Arena {
        return .{ .handle = @intCast(try check(table.mem_arena_create(bytes_max))) };
    }

    /// Zeroed memory for `count` values of T.
    pub fn alloc(arena: Arena, comptime T: type, count: usize) Error![]T {
        const address = try check(table.mem_arena_alloc(arena.handle, @sizeOf(T) * count, @alignOf(T)));
        const pointer: [*]T = @ptrFromInt(address);
        return pointer[0..count];
    }

    pub fn reset(arena: Arena) void {
        _ = table.mem_arena_reset(arena.handle);
    }

    pub fn destroy(arena: Arena) void {
        _ = table.mem_arena_destroy(arena.handle);
    }
};

/// A std.mem.Allocator over mem.alloc/mem.free, for std containers in workloads.
pub const allocator: std.mem.Allocator = .{ .ptr = undefined, .vtable = &allocator_vtable };

const allocator_vtable: std.mem.Allocator.VTable = .{
    .alloc = allocator_alloc,
    .resize = std.mem.Allocator.noResize,
    .remap = std.mem.Allocator.noRemap,
    .free = allocator_free,
};

fn allocator_alloc(_: *anyopaque, length: usize, alignment: std.mem.Alignment, _: usize) ?[*]u8 {
    const address = check(table.mem_alloc(length, alignment.toByteUnits())) catch return null;
    return @ptrFromInt(address);
}

fn allocator_free(_: *anyopaque, memory: []u8, _: std.mem.Alignment, _: usize) void {
    _ = table.mem_free(@intFromPtr(memory.ptr), memory.len);
}

// ---- Logs and traces --------------------------------------------------------------------------

pub const Field = struct { key: []const u8, value: []const u8 };

/// Formats to the console (one write per call, up to 4 KiB; longer output is cut and marked).
pub fn print(comptime format: []const u8, arguments: anytype) void {
    var buffer: [4096]u8 = undefined;
    var writer = std.Io.Writer.fixed(&buffer);
    const complete = if (writer.print(format, arguments)) true else |_| false;
    write(abi.handle_console, writer.buffered()) catch return;
    if (!complete) write(abi.handle_console, " [cut]\n") catch return;
}

pub const log = struct {
    pub fn debug(comptime format: []const u8, arguments: anytype) void {
        record(abi.log_level_debug, format, arguments);
    }
    pub fn info(comptime format: []const u8, arguments: anytype) void {
        record(abi.log_level_info, format, arguments);
    }
    pub fn warn(comptime format: []const u8, arguments: anytype) void {
        record(abi.log_level_warn, format, arguments);
    }
    pub fn err(comptime format: []const u8, arguments: anytype) void {
        record(abi.log_level_error, format, arguments);
    }

    /// A record with key/value fields: `log.fields(abi.log_level_info, "done", &.{.{ .key = "n", .value = "3" }})`.
    pub fn fields(level: u32, message: []const u8, pairs: []const Field) void {
        var raw: [abi.log_fields_max]abi.LogField = undefined;
        const count = @min(pairs.len, raw.len);
        for (pairs[0..count], raw[0..count]) |pair, *field| {
            field.* = .{
                .key_pointer = @intFromPtr(pair.key.ptr),
                .key_length = pair.key.len,
                .value_pointer = @intFromPtr(pair.value.ptr),
                .value_length = pair.value.len,
            };
        }
        _ = table.log_write(level, message.ptr, message.len, &raw, @intCast(count));
    }

    fn record(level: u32, comptime format: []const u8, arguments: anytype) void {
        var buffer: [1024]u8 = undefined;
        var writer = std.Io.Writer.fixed(&buffer);
        writer.print(format, arguments) catch {};
        const message = writer.buffered();
        const no_fields: [0]abi.LogField = .{};
        _ = table.log_write(level, message.ptr, message.len, &no_fields, 0);
    }
};

pub const trace = struct {
    pub const Span = struct {
        id: u64,

        /// Closes the span; returns its duration in ns.
        pub fn end(span: Span) u64 {
            const result = table.trace_span_end(span.id);
            return if (result >= 0) @intCast(result) else 0;
        }
    };

    /// Opens a span: `const span = trace.begin("parse"); defer _ = span.end();`.
    pub fn begin(name: []const u8) Span {
        const result = table.trace_span_begin(name.ptr, name.len);
        return .{ .id = if (result > 0) @intCast(result) else 0 };
    }

    pub fn event(name: []const u8, value: u64) void {
        _ = table.trace_event(name.ptr, name.len, value);
    }
};

/// Fills `buffer` with random bytes.
pub fn random(buffer: []u8) void {
    _ = table.random_fill(buffer.ptr, buffer.len);
}

/// Monotonic nanoseconds since the kernel was entered.
pub fn now_ns() u64 {
    return table.clock_now_ns();
}

/// Ends the workload now with `status`.
pub fn exit(status: u8) noreturn {
    table.task_exit(status);
}

/// The workloads' panic handler (start.zig installs it): prints the message and exits with
/// status 101, like a kernel panic.
pub const panic = std.debug.FullPanic(panic_handler);

fn panic_handler(message: []const u8, return_address: ?usize) noreturn {
    _ = return_address;
    print("workload panic: {s}\n", .{message});
    exit(101);
}
