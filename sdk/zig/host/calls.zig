//! The ABI call table over Linux system calls (x86_64), for workloads built as host processes
//! (start.zig). Handles are file descriptors: the console (abi.handle_console, 1) is stdout, a
//! socket's handle is its descriptor. Errors map from errno to the ABI's codes (error_of).
//!
//! Covered: net.* (sockets, options, resolve through std.net), io.poll (poll(2)), io.open /
//! io.read / io.read_at / io.write / io.close / io.stat, mem.alloc / mem.free (mmap), log.write
//! (one line on stderr), trace.* (spans are timed but not recorded anywhere), clock.now_ns
//! (CLOCK_MONOTONIC since the process started), clock.wall_ns (CLOCK_REALTIME), random.fill
//! (getrandom), task.yield / task.sleep / task.self / task.exit. Refused with `unsupported`:
//! task.spawn and task.join (a host build is one task), task.set_thread_pointer (the host's C
//! library owns FS), io.list, ipc.* and mem.arena_* — enough for single-task servers such as
//! examples/http-server.

const std = @import("std");
const assert = std.debug.assert;
const linux = std.os.linux;
const abi = @import("ukernel").abi;

/// Spans open at once (the kernel's limit per task is 16; a host process is one task).
const spans_open_max = 64;

var start_ns: u64 = 0;
var next_span_id: u64 = 1;
var spans_open: [spans_open_max]struct { id: u64, begin_ns: u64 } = undefined;
var spans_open_count: u32 = 0;

pub fn init() void {
    start_ns = monotonic_ns();
    assert(start_ns > 0);
}

pub const table: abi.Table = .{
    .size_bytes = @sizeOf(abi.Table),
    .task_spawn = task_spawn,
    .task_yield = task_yield,
    .task_sleep = task_sleep,
    .task_exit = task_exit,
    .task_join = task_join,
    .task_self = task_self,
    .task_set_thread_pointer = task_set_thread_pointer,
    .io_open = io_open,
    .io_read = io_read,
    .io_read_at = io_read_at,
    .io_write = io_write,
    .io_close = io_close,
    .io_poll = io_poll,
    .io_stat = io_stat,
    .io_list = io_list,
    .ipc_channel_create = ipc_channel_create,
    .ipc_send = ipc_send,
    .ipc_recv = ipc_recv,
    .mem_arena_create = mem_arena_create,
    .mem_arena_alloc = mem_arena_alloc,
    .mem_arena_reset = mem_arena_reset,
    .mem_arena_destroy = mem_arena_destroy,
    .mem_alloc = mem_alloc,
    .mem_free = mem_free,
    .log_write = log_write,
    .trace_span_begin = trace_span_begin,
    .trace_span_end = trace_span_end,
    .trace_event = trace_event,
    .clock_now_ns = clock_now_ns,
    .clock_wall_ns = clock_wall_ns,
    .random_fill = random_fill,
    .net_socket = net_socket,
    .net_bind = net_bind,
    .net_listen = net_listen,
    .net_accept = net_accept,
    .net_connect = net_connect,
    .net_send = net_send,
    .net_recv = net_recv,
    .net_sendto = net_sendto,
    .net_recvfrom = net_recvfrom,
    .net_shutdown = net_shutdown,
    .net_local_address = net_local_address,
    .net_peer_address = net_peer_address,
    .net_set_option = net_set_option,
    .net_get_option = net_get_option,
    .net_resolve = net_resolve,
};

// ---- Errors ------------------------------------------------------------------------------------

fn failure(code: abi.Error) i64 {
    return -@intFromEnum(code);
}

/// The ABI error for an errno (the closest meaning; io_failed for the rest).
fn error_of(errno: linux.E) abi.Error {
    return switch (errno) {
        .BADF, .NOTSOCK => .bad_handle,
        .FAULT => .bad_pointer,
        .INVAL, .AFNOSUPPORT, .PROTONOSUPPORT => .out_of_range,
        .MSGSIZE, .NAMETOOLONG => .too_large,
        .OPNOTSUPP, .NOSYS, .NOPROTOOPT => .unsupported,
        .AGAIN, .INPROGRESS, .ALREADY => .would_block,
        .PIPE => .closed,
        .TIMEDOUT => .timed_out,
        .NOMEM, .NOBUFS => .no_memory,
        .NOENT => .not_found,
        .MFILE, .NFILE => .limit_reached,
        .ADDRINUSE, .ADDRNOTAVAIL => .address_in_use,
        .CONNREFUSED => .connection_refused,
        .CONNRESET, .CONNABORTED => .connection_reset,
        .NOTCONN, .DESTADDRREQ => .not_connected,
        .NETUNREACH, .HOSTUNREACH, .NETDOWN => .no_route,
        .ISCONN => .already_connected,
        else => .io_failed,
    };
}

/// A system call's result as an ABI result: the value, or -code.
fn result_of(rc: usize) i64 {
    const errno = linux.E.init(rc);
    if (errno != .SUCCESS) return failure(error_of(errno));
    return @intCast(rc);
}

fn fd_of(handle: u32) i32 {
    return @bitCast(handle);
}

// ---- Tasks -------------------------------------------------------------------------------------

fn task_spawn(entry: abi.TaskEntry, argument: u64, stack_bytes: u64) callconv(.c) i64 {
    _ = .{ entry, argument, stack_bytes };
    return failure(.unsupported);
}

fn task_yield() callconv(.c) i64 {
    _ = linux.sched_yield();
    return 0;
}

fn task_sleep(duration_ns: u64) callconv(.c) i64 {
    const request: linux.timespec = .{
        .sec = @intCast(@min(duration_ns / std.time.ns_per_s, std.math.maxInt(i32))),
        .nsec = @intCast(duration_ns % std.time.ns_per_s),
    };
    var remaining = request;
    // Restarted after a signal, a bounded number of times.
    for (0..64) |_| {
        const rc = linux.nanosleep(&remaining, &remaining);
        if (linux.E.init(rc) != .INTR) break;
    }
    return 0;
}

fn task_exit(status: u32) callconv(.c) noreturn {
    const code: i32 = if (status <= 255) @intCast(status) else abi.exit_status_out_of_range;
    linux.exit_group(code);
}

fn task_join(task: u32, timeout_ns: u64) callconv(.c) i64 {
    _ = .{ task, timeout_ns };
    return failure(.unsupported);
}

fn task_self() callconv(.c) i64 {
    return 0;
}

fn task_set_thread_pointer(_: u64) callconv(.c) i64 {
    return failure(.unsupported);
}

// ---- I/O ---------------------------------------------------------------------------------------

/// Opens a file relative to the working directory, read only.
fn io_open(path_pointer: [*]const u8, path_length: u64, flags: u32) callconv(.c) i64 {
    if (flags != 0) return failure(.out_of_range);
    var buffer: PathBuffer = undefined;
    const path = c_path(path_pointer[0..path_length], &buffer) orelse return failure(.too_large);
    const open_flags: linux.O = .{ .ACCMODE = .RDONLY, .CLOEXEC = true };
    return result_of(linux.openat(linux.AT.FDCWD, path, open_flags, 0));
}

const PathBuffer = [std.fs.max_path_bytes:0]u8;

/// `bytes` as a NUL-terminated path in `buffer`; null when too long for a Linux path.
fn c_path(bytes: []const u8, buffer: *PathBuffer) ?[*:0]const u8 {
    if (bytes.len >= buffer.len) return null;
    @memcpy(buffer[0..bytes.len], bytes);
    buffer[bytes.len] = 0;
    return buffer[0..bytes.len :0];
}

fn io_read(handle: u32, buffer_pointer: [*]u8, buffer_length: u64) callconv(.c) i64 {
    return result_of(linux.read(fd_of(handle), buffer_pointer, buffer_length));
}

fn io_read_at(
    handle: u32,
    buffer_pointer: [*]u8,
    buffer_length: u64,
    offset: u64,
) callconv(.c) i64 {
    if (buffer_length > abi.write_bytes_max) return failure(.too_large);
    if (offset > std.math.maxInt(i64)) return 0;
    return result_of(linux.pread(fd_of(handle), buffer_pointer, buffer_length, @intCast(offset)));
}

/// A path relative to the working directory ("" is the directory itself).
fn io_stat(path_pointer: [*]const u8, path_length: u64, stat: ?*abi.FileStat) callconv(.c) i64 {
    const out = stat orelse return failure(.bad_pointer);
    var buffer: PathBuffer = undefined;
    // "" is the root of what io.* sees: here, the working directory.
    const bytes = if (path_length == 0) "." else path_pointer[0..path_length];
    const path = c_path(bytes, &buffer) orelse return failure(.out_of_range);
    var status: linux.Stat = undefined;
    const rc = linux.fstatat(linux.AT.FDCWD, path, &status, 0);
    if (linux.E.init(rc) != .SUCCESS) return result_of(rc);
    const directory = linux.S.ISDIR(status.mode);
    out.* = .{
        .size = if (directory) 0 else @intCast(status.size),
        .kind = if (directory) abi.file_kind_directory else abi.file_kind_file,
        .mode = status.mode & 0o7777,
    };
    return 0;
}

fn io_list(_: [*]const u8, _: u64, _: u32, _: ?*abi.DirEntry) callconv(.c) i64 {
    return failure(.unsupported);
}

/// The console is stdout; a socket gets send(2) without SIGPIPE (a peer that went away is an
/// error result, not a killed process), anything else write(2).
fn io_write(handle: u32, data_pointer: [*]const u8, data_length: u64) callconv(.c) i64 {
    if (data_length > abi.write_bytes_max) return failure(.too_large);
    const fd = fd_of(handle);
    const rc = linux.sendto(fd, data_pointer, data_length, linux.MSG.NOSIGNAL, null, 0);
    if (linux.E.init(rc) != .NOTSOCK) return result_of(rc);
    return result_of(linux.write(fd, data_pointer, data_length));
}

fn io_close(handle: u32) callconv(.c) i64 {
    if (handle == abi.handle_console) return 0;
    return result_of(linux.close(fd_of(handle)));
}

fn io_poll(items_pointer: [*]abi.PollItem, items_count: u32, timeout_ns: u64) callconv(.c) i64 {
    const poll_items_max = 1024;
    if (items_count > poll_items_max) return failure(.too_large);
    const items = items_pointer[0..items_count];
    var fds: [poll_items_max]linux.pollfd = undefined;
    for (items, fds[0..items_count]) |item, *fd| {
        var events: i16 = 0;
        if (item.events & abi.poll_readable != 0) events |= linux.POLL.IN;
        if (item.events & abi.poll_writable != 0) events |= linux.POLL.OUT;
        fd.* = .{ .fd = fd_of(item.handle), .events = events, .revents = 0 };
    }
    // Milliseconds, rounded up so that a short wait is not a busy loop; -1 waits for ever.
    const timeout_ms: i32 = if (timeout_ns == abi.timeout_infinite) -1 else @intCast(@min(
        std.math.divCeil(u64, timeout_ns, std.time.ns_per_ms) catch unreachable,
        std.math.maxInt(i32),
    ));
    const rc = linux.poll(&fds, items_count, timeout_ms);
    const errno = linux.E.init(rc);
    if (errno == .INTR) return 0;
    if (errno != .SUCCESS) return failure(error_of(errno));
    for (items, fds[0..items_count]) |*item, fd| {
        var revents: u16 = 0;
        if (fd.revents & linux.POLL.IN != 0) revents |= abi.poll_readable;
        if (fd.revents & linux.POLL.OUT != 0) revents |= abi.poll_writable;
        if (fd.revents & linux.POLL.HUP != 0) revents |= abi.poll_closed;
        if (fd.revents & (linux.POLL.ERR | linux.POLL.NVAL) != 0) revents |= abi.poll_error;
        item.revents = revents;
    }
    return @intCast(rc);
}

// ---- Channels and arenas: not in a host build ---------------------------------------------

fn ipc_channel_create(capacity: u32, message_bytes_max: u32) callconv(.c) i64 {
    _ = .{ capacity, message_bytes_max };
    return failure(.unsupported);
}

fn ipc_send(channel: u32, message: [*]const u8, message_length: u64, flags: u32) callconv(.c) i64 {
    _ = .{ channel, message, message_length, flags };
    return failure(.unsupported);
}

fn ipc_recv(channel: u32, buffer_pointer: [*]u8, buffer_length: u64, flags: u32) callconv(.c) i64 {
    _ = .{ channel, buffer_pointer, buffer_length, flags };
    return failure(.unsupported);
}

fn mem_arena_create(bytes_max: u64) callconv(.c) i64 {
    _ = bytes_max;
    return failure(.unsupported);
}

fn mem_arena_alloc(arena: u32, bytes: u64, alignment: u64) callconv(.c) i64 {
    _ = .{ arena, bytes, alignment };
    return failure(.unsupported);
}

fn mem_arena_reset(arena: u32) callconv(.c) i64 {
    _ = arena;
    return failure(.unsupported);
}

fn mem_arena_destroy(arena: u32) callconv(.c) i64 {
    _ = arena;
    return failure(.unsupported);
}

// ---- Memory ------------------------------------------------------------------------------------

/// Whole pages from mmap: zeroed, as the ABI promises, and aligned to a page (larger alignments
/// are refused).
fn mem_alloc(bytes: u64, alignment: u64) callconv(.c) i64 {
    if (bytes == 0 or !std.math.isPowerOfTwo(alignment)) return failure(.out_of_range);
    if (alignment > std.heap.pageSize()) return failure(.unsupported);
    if (bytes > 1 << 30) return failure(.too_large);
    const prot = linux.PROT.READ | linux.PROT.WRITE;
    const rc = linux.mmap(null, bytes, prot, .{ .TYPE = .PRIVATE, .ANONYMOUS = true }, -1, 0);
    if (linux.E.init(rc) != .SUCCESS) return failure(.no_memory);
    return @intCast(rc);
}

fn mem_free(address: u64, bytes: u64) callconv(.c) i64 {
    if (address == 0 or address % std.heap.pageSize() != 0) return failure(.bad_pointer);
    const pointer: [*]const u8 = @ptrFromInt(address);
    return result_of(linux.munmap(pointer, bytes));
}

// ---- Logs and traces ---------------------------------------------------------------------------

/// One line on stderr: `[level] message key=value ...` (cut at 4 KiB).
fn log_write(
    level: u32,
    message_pointer: [*]const u8,
    message_length: u64,
    fields_pointer: [*]const abi.LogField,
    fields_count: u32,
) callconv(.c) i64 {
    if (level > abi.log_level_error) return failure(.out_of_range);
    if (message_length > abi.write_bytes_max) return failure(.too_large);
    if (fields_count > abi.log_fields_max) return failure(.too_large);
    const names = [_][]const u8{ "debug", "info", "warn", "error" };
    var buffer: [4096]u8 = undefined;
    var writer = std.Io.Writer.fixed(buffer[0 .. buffer.len - 1]);
    writer.print("[{s}] {s}", .{ names[level], message_pointer[0..message_length] }) catch {};
    for (fields_pointer[0..fields_count]) |field| {
        const key: [*]const u8 = @ptrFromInt(field.key_pointer);
        const value: [*]const u8 = @ptrFromInt(field.value_pointer);
        const pair = .{ key[0..field.key_length], value[0..field.value_length] };
        writer.print(" {s}={s}", pair) catch {};
    }
    const length = writer.buffered().len;
    buffer[length] = '\n';
    _ = linux.write(2, &buffer, length + 1);
    return 0;
}

fn trace_span_begin(name_pointer: [*]const u8, name_length: u64) callconv(.c) i64 {
    _ = name_pointer;
    if (name_length > abi.name_bytes_max) return failure(.too_large);
    if (spans_open_count == spans_open_max) return failure(.limit_reached);
    const id = next_span_id;
    next_span_id += 1;
    spans_open[spans_open_count] = .{ .id = id, .begin_ns = clock_now_ns() };
    spans_open_count += 1;
    return @intCast(id);
}

fn trace_span_end(span: u64) callconv(.c) i64 {
    assert(spans_open_count <= spans_open_max);
    for (spans_open[0..spans_open_count], 0..) |opened, position| {
        if (opened.id != span) continue;
        spans_open[position] = spans_open[spans_open_count - 1];
        spans_open_count -= 1;
        return @intCast(clock_now_ns() - opened.begin_ns);
    }
    return failure(.out_of_range);
}

fn trace_event(name_pointer: [*]const u8, name_length: u64, value: u64) callconv(.c) i64 {
    _ = .{ name_pointer, value };
    if (name_length > abi.name_bytes_max) return failure(.too_large);
    return 0;
}

fn monotonic_ns() u64 {
    var now: linux.timespec = undefined;
    const rc = linux.clock_gettime(.MONOTONIC, &now);
    assert(linux.E.init(rc) == .SUCCESS);
    return @as(u64, @intCast(now.sec)) * std.time.ns_per_s + @as(u64, @intCast(now.nsec));
}

fn clock_now_ns() callconv(.c) u64 {
    return monotonic_ns() - start_ns;
}

fn clock_wall_ns() callconv(.c) u64 {
    var now: linux.timespec = undefined;
    const rc = linux.clock_gettime(.REALTIME, &now);
    assert(linux.E.init(rc) == .SUCCESS);
    return @as(u64, @intCast(now.sec)) * std.time.ns_per_s + @as(u64, @intCast(now.nsec));
}

fn random_fill(buffer_pointer: [*]u8, buffer_length: u64) callconv(.c) i64 {
    var filled: u64 = 0;
    // getrandom returns at most 32 MiB per call; the bound covers any buffer up to 64 GiB.
    for (0..2048) |_| {
        if (filled == buffer_length) break;
        const rc = linux.getrandom(buffer_pointer + filled, buffer_length - filled, 0);
        const errno = linux.E.init(rc);
        if (errno == .INTR) continue;
        if (errno != .SUCCESS) return failure(error_of(errno));
        filled += rc;
    }
    return @intCast(filled);
}

// ---- Sockets -----------------------------------------------------------------------------------

/// An ABI address as a sockaddr (IPv4 or IPv6), with its length.
const Native = struct {
    storage: linux.sockaddr.storage = undefined,
    length: linux.socklen_t = @sizeOf(linux.sockaddr.storage),

    fn from(address: *const abi.SocketAddress) ?Native {
        var native: Native = .{};
        switch (address.family) {
            abi.family_inet4 => {
                const in: *linux.sockaddr.in = @ptrCast(&native.storage);
                in.* = .{
                    .port = std.mem.nativeToBig(u16, address.port),
                    .addr = @bitCast(address.address[0..4].*),
                };
                native.length = @sizeOf(linux.sockaddr.in);
            },
            abi.family_inet6 => {
                const in6: *linux.sockaddr.in6 = @ptrCast(&native.storage);
                in6.* = .{
                    .port = std.mem.nativeToBig(u16, address.port),
                    .flowinfo = 0,
                    .addr = address.address,
                    .scope_id = 0,
                };
                native.length = @sizeOf(linux.sockaddr.in6);
            },
            else => return null,
        }
        return native;
    }

    fn to(native: *const Native, address: *abi.SocketAddress) void {
        address.* = .{ .family = 0, .port = 0, .address = @splat(0) };
        switch (native.storage.family) {
            linux.AF.INET => {
                const in: *const linux.sockaddr.in = @ptrCast(&native.storage);
                address.family = abi.family_inet4;
                address.port = std.mem.bigToNative(u16, in.port);
                address.address[0..4].* = @bitCast(in.addr);
            },
            linux.AF.INET6 => {
                const in6: *const linux.sockaddr.in6 = @ptrCast(&native.storage);
                address.family = abi.family_inet6;
                address.port = std.mem.bigToNative(u16, in6.port);
                address.address = in6.addr;
            },
            else => {},
        }
    }

    fn pointer(native: *Native) *linux.sockaddr {
        return @ptrCast(&native.storage);
    }
};

/// Linux's send/recv flags for the ABI's.
fn message_flags(flags: u32) ?u32 {
    if (flags & ~(abi.flag_nonblocking | abi.flag_peek) != 0) return null;
    var native: u32 = linux.MSG.NOSIGNAL;
    if (flags & abi.flag_nonblocking != 0) native |= linux.MSG.DONTWAIT;
    if (flags & abi.flag_peek != 0) native |= linux.MSG.PEEK;
    return native;
}

/// IPv4 sockets (an IPv6 address given to bind or connect is refused by Linux for them).
fn net_socket(kind: u32, flags: u32) callconv(.c) i64 {
    if (flags & ~abi.flag_nonblocking != 0) return failure(.out_of_range);
    var socket_type: u32 = switch (kind) {
        abi.socket_stream => linux.SOCK.STREAM,
        abi.socket_datagram => linux.SOCK.DGRAM,
        else => return failure(.out_of_range),
    };
    socket_type |= linux.SOCK.CLOEXEC;
    if (flags & abi.flag_nonblocking != 0) socket_type |= linux.SOCK.NONBLOCK;
    return result_of(linux.socket(linux.AF.INET, socket_type, 0));
}

fn net_bind(socket: u32, address: ?*const abi.SocketAddress) callconv(.c) i64 {
    var native = Native.from(address orelse return failure(.bad_pointer)) orelse
        return failure(.out_of_range);
    return result_of(linux.bind(fd_of(socket), native.pointer(), native.length));
}

fn net_listen(socket: u32, backlog: u32) callconv(.c) i64 {
    return result_of(linux.listen(fd_of(socket), backlog));
}

fn net_accept(socket: u32, peer: ?*abi.SocketAddress, flags: u32) callconv(.c) i64 {
    if (flags & ~abi.flag_nonblocking != 0) return failure(.out_of_range);
    var native: Native = .{};
    var accept_flags: u32 = linux.SOCK.CLOEXEC;
    if (flags & abi.flag_nonblocking != 0) accept_flags |= linux.SOCK.NONBLOCK;
    const rc = linux.accept4(fd_of(socket), native.pointer(), &native.length, accept_flags);
    const result = result_of(rc);
    if (result >= 0) if (peer) |out| native.to(out);
    return result;
}

fn net_connect(socket: u32, address: ?*const abi.SocketAddress) callconv(.c) i64 {
    var native = Native.from(address orelse return failure(.bad_pointer)) orelse
        return failure(.out_of_range);
    return result_of(linux.connect(fd_of(socket), native.pointer(), native.length));
}

fn net_send(socket: u32, data_pointer: [*]const u8, data_length: u64, flags: u32) callconv(.c) i64 {
    const native = message_flags(flags) orelse return failure(.out_of_range);
    return result_of(linux.sendto(fd_of(socket), data_pointer, data_length, native, null, 0));
}

fn net_recv(socket: u32, buffer_pointer: [*]u8, buffer_length: u64, flags: u32) callconv(.c) i64 {
    const native = message_flags(flags) orelse return failure(.out_of_range);
    const fd = fd_of(socket);
    return result_of(linux.recvfrom(fd, buffer_pointer, buffer_length, native, null, null));
}

fn net_sendto(
    socket: u32,
    data_pointer: [*]const u8,
    data_length: u64,
    address: ?*const abi.SocketAddress,
    flags: u32,
) callconv(.c) i64 {
    if (data_length > abi.datagram_bytes_max) return failure(.too_large);
    const native_flags = message_flags(flags) orelse return failure(.out_of_range);
    var native = Native.from(address orelse return failure(.bad_pointer)) orelse
        return failure(.out_of_range);
    const fd = fd_of(socket);
    const to = native.pointer();
    return result_of(linux.sendto(fd, data_pointer, data_length, native_flags, to, native.length));
}

fn net_recvfrom(
    socket: u32,
    buffer_pointer: [*]u8,
    buffer_length: u64,
    address: ?*abi.SocketAddress,
    flags: u32,
) callconv(.c) i64 {
    const native_flags = message_flags(flags) orelse return failure(.out_of_range);
    var native: Native = .{};
    const fd = fd_of(socket);
    const from = native.pointer();
    const length = &native.length;
    const rc = linux.recvfrom(fd, buffer_pointer, buffer_length, native_flags, from, length);
    const result = result_of(rc);
    if (result >= 0) if (address) |out| native.to(out);
    return result;
}

fn net_shutdown(socket: u32, how: u32) callconv(.c) i64 {
    const native: i32 = switch (how) {
        abi.shutdown_read => linux.SHUT.RD,
        abi.shutdown_write => linux.SHUT.WR,
        abi.shutdown_both => linux.SHUT.RDWR,
        else => return failure(.out_of_range),
    };
    return result_of(linux.shutdown(fd_of(socket), native));
}

fn net_local_address(socket: u32, address: ?*abi.SocketAddress) callconv(.c) i64 {
    const out = address orelse return failure(.bad_pointer);
    var native: Native = .{};
    const result = result_of(linux.getsockname(fd_of(socket), native.pointer(), &native.length));
    if (result >= 0) native.to(out);
    return result;
}

fn net_peer_address(socket: u32, address: ?*abi.SocketAddress) callconv(.c) i64 {
    const out = address orelse return failure(.bad_pointer);
    var native: Native = .{};
    const result = result_of(linux.getpeername(fd_of(socket), native.pointer(), &native.length));
    if (result >= 0) native.to(out);
    return result;
}

/// The (level, name) of a boolean or integer socket option.
fn socket_option(option: u32) ?struct { level: i32, name: u32 } {
    return switch (option) {
        abi.option_tcp_nodelay => .{ .level = linux.IPPROTO.TCP, .name = linux.TCP.NODELAY },
        abi.option_keepalive => .{ .level = linux.SOL.SOCKET, .name = linux.SO.KEEPALIVE },
        abi.option_reuse_address => .{ .level = linux.SOL.SOCKET, .name = linux.SO.REUSEADDR },
        abi.option_send_buffer_bytes => .{ .level = linux.SOL.SOCKET, .name = linux.SO.SNDBUF },
        abi.option_receive_buffer_bytes => .{ .level = linux.SOL.SOCKET, .name = linux.SO.RCVBUF },
        abi.option_error => .{ .level = linux.SOL.SOCKET, .name = linux.SO.ERROR },
        else => null,
    };
}

fn net_set_option(socket: u32, option: u32, value: u64) callconv(.c) i64 {
    const fd = fd_of(socket);
    if (option == abi.option_nonblocking) {
        if (value > 1) return failure(.out_of_range);
        const flags_rc = linux.fcntl(fd, linux.F.GETFL, 0);
        if (linux.E.init(flags_rc) != .SUCCESS) return result_of(flags_rc);
        const nonblock: usize = 1 << @bitOffsetOf(linux.O, "NONBLOCK");
        const flags = if (value == 1) flags_rc | nonblock else flags_rc & ~nonblock;
        return result_of(linux.fcntl(fd, linux.F.SETFL, flags));
    }
    if (option == abi.option_error) return failure(.unsupported); // Read only.
    const native = socket_option(option) orelse return failure(.out_of_range);
    const native_value: i32 = @intCast(@min(value, std.math.maxInt(i32)));
    const bytes = std.mem.asBytes(&native_value);
    return result_of(linux.setsockopt(fd, native.level, native.name, bytes, bytes.len));
}

fn net_get_option(socket: u32, option: u32) callconv(.c) i64 {
    const fd = fd_of(socket);
    if (option == abi.option_nonblocking) {
        const flags_rc = linux.fcntl(fd, linux.F.GETFL, 0);
        if (linux.E.init(flags_rc) != .SUCCESS) return result_of(flags_rc);
        const nonblock: usize = 1 << @bitOffsetOf(linux.O, "NONBLOCK");
        return @intFromBool(flags_rc & nonblock != 0);
    }
    const native = socket_option(option) orelse return failure(.out_of_range);
    var value: i32 = 0;
    var length: linux.socklen_t = @sizeOf(i32);
    const rc = linux.getsockopt(fd, native.level, native.name, std.mem.asBytes(&value), &length);
    if (linux.E.init(rc) != .SUCCESS) return result_of(rc);
    if (option == abi.option_error and value != 0) {
        // SO_ERROR is an errno: the ABI reports its error code.
        const errno: linux.E = @enumFromInt(@as(u16, @intCast(value)));
        return @intFromEnum(error_of(errno));
    }
    return value;
}

/// Numeric addresses and "localhost" at once, other names through std.net (/etc/hosts, then
/// the resolvers of /etc/resolv.conf). timeout_ns is not honoured: std.net has its own.
fn net_resolve(
    name_pointer: [*]const u8,
    name_length: u64,
    addresses_pointer: [*]abi.SocketAddress,
    addresses_count: u32,
    timeout_ns: u64,
) callconv(.c) i64 {
    _ = timeout_ns;
    if (name_length == 0) return failure(.out_of_range);
    if (name_length > abi.host_name_bytes_max) return failure(.too_large);
    if (addresses_count == 0) return failure(.out_of_range);
    var arena_buffer: [64 * 1024]u8 = undefined;
    var arena = std.heap.FixedBufferAllocator.init(&arena_buffer);
    const name = name_pointer[0..name_length];
    const list = std.net.getAddressList(arena.allocator(), name, 0) catch |err| switch (err) {
        error.UnknownHostName => return failure(.not_found),
        error.OutOfMemory => return failure(.no_memory),
        else => return failure(.io_failed),
    };
    var count: u32 = 0;
    for (list.addrs) |address| {
        if (count == addresses_count) break;
        var native: Native = .{};
        const bytes = std.mem.asBytes(&address.any)[0..address.getOsSockLen()];
        @memcpy(std.mem.asBytes(&native.storage)[0..bytes.len], bytes);
        native.to(&addresses_pointer[count]);
        if (addresses_pointer[count].family == 0) continue;
        count += 1;
    }
    if (count == 0) return failure(.not_found);
    return count;
}
