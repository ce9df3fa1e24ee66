//! The kernel's side of the ABI: one function per call in abi/ukernel.abi.json, gathered into
//! the table handed to the workload. The table type is generated (abi.zig), so a call added to
//! the definition without an implementation here fails to compile.
//!
//! Calls run in ring 3, called directly by the workload (no trap: a call costs what a function
//! call costs). Every call checks its arguments and returns -error instead of faulting: handles
//! by kind, pointers against what is really mapped (memory/address_space.zig: usable RAM whose
//! every page is mapped for the access, so never page 0, device memory or a stack's guard page,
//! and never the kernel image or a page table), lengths against their limits.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("abi.zig");
const constants = @import("../constants.zig");
const console = @import("../console/console.zig");
const clock_module = @import("../time/clock.zig");
const scheduler = @import("../sched/scheduler.zig");
const handles = @import("../io/handles.zig");
const files = @import("../io/files.zig");
const channels = @import("../ipc/channels.zig");
const sockets = @import("../net/sockets.zig");
const arenas = @import("../memory/arenas.zig");
const heap_module = @import("../memory/heap.zig");
const address_space = @import("../memory/address_space.zig");
const events = @import("../observe/events.zig");
const random = @import("../random.zig");

const clock = &clock_module.global;
var workload_heap: *heap_module.Heap = undefined;
var next_span_id: u64 = 1;

pub fn init(heap: *heap_module.Heap) void {
    workload_heap = heap;
}

const implementation = struct {
    // ---- task.* ---------------------------------------------------------------------------

    fn task_spawn(entry: abi.TaskEntry, argument: u64, stack_bytes: u64) callconv(.c) i64 {
        const address = @intFromPtr(entry);
        if (!readable(address, 1)) return failure(.bad_pointer);
        // The handle first: once spawned, the task is queued and cannot be taken back.
        const handle = handles.open(.task, 0) catch return failure(.limit_reached);
        const id = scheduler.spawn(address, argument, stack_bytes) catch |err| {
            handles.release(handle);
            return switch (err) {
                error.OutOfRange => failure(.out_of_range),
                error.LimitReached => failure(.limit_reached),
            };
        };
        assert(id != 0); // Task 0 is the workload, never spawned.
        handles.set_object(handle, id);
        return handle;
    }

    fn task_yield() callconv(.c) i64 {
        // The hot path: scheduler.yield_now asserts the task's state.
        events.maybe_flush();
        scheduler.yield_now();
        return 0;
    }

    fn task_sleep(duration_ns: u64) callconv(.c) i64 {
        scheduler.sleep_ns(duration_ns);
        assert(scheduler.current_task().wait == .none);
        return 0;
    }

    fn task_exit(status: u32) callconv(.c) noreturn {
        scheduler.exit_current(status);
    }

    fn task_join(task: u32, timeout_ns: u64) callconv(.c) i64 {
        const id = handles.get(task, .task) orelse return failure(.bad_handle);
        assert(id != 0); // Task 0 has no handle.
        // Joining itself never ends.
        if (id == scheduler.current_id()) return failure(.bad_handle);
        const deadline = scheduler.deadline_after(timeout_ns);
        const status = scheduler.join(id, deadline) catch |err| return switch (err) {
            error.TimedOut => failure(.timed_out),
            error.Released => failure(.bad_handle),
        };
        assert(handles.kind_of(task) == .task);
        handles.release(task);
        return status;
    }

    fn task_self() callconv(.c) i64 {
        const id = scheduler.current_id();
        assert(id < constants.tasks_max);
        return id;
    }

    fn task_set_thread_pointer(address: u64) callconv(.c) i64 {
        if (!scheduler.set_thread_pointer(address)) return failure(.out_of_range);
        assert(scheduler.current_task().thread_pointer == address);
        return 0;
    }

    // ---- io.* -------------------------------------------------------------------------------

    fn io_open(path_pointer: [*]const u8, path_length: u64, flags: u32) callconv(.c) i64 {
        if (flags != 0) return failure(.out_of_range);
        if (path_length == 0) return failure(.out_of_range);
        if (path_length > constants.rootfs_path_bytes_max) return failure(.out_of_range);
        const path = read_only_bytes(path_pointer, path_length) orelse
            return failure(.bad_pointer);
        assert(path.len == path_length);
        const handle = handles.open(.file, 0) catch return failure(.limit_reached);
        const index = files.open(path) catch |err| {
            handles.release(handle);
            return file_failure(err);
        };
        assert(index < constants.files_open_max);
        handles.set_object(handle, index);
        return handle;
    }

    /// A file's io.open/io.read/io.read_at failure (a block that fails its hash: io_failed).
    fn file_failure(err: files.Error) i64 {
        return switch (err) {
            error.NotFound => failure(.not_found),
            error.TooLarge, error.OutOfRange => failure(.out_of_range),
            error.LimitReached => failure(.limit_reached),
            error.NoMemory => failure(.no_memory),
            error.IoFailed => failure(.io_failed),
        };
    }

    fn io_read(handle: u32, buffer_pointer: [*]u8, buffer_length: u64) callconv(.c) i64 {
        if (buffer_length > abi.write_bytes_max) return failure(.too_large);
        const buffer = writable_bytes(buffer_pointer, buffer_length) orelse
            return failure(.bad_pointer);
        assert(buffer.len == buffer_length);
        switch (handles.kind_of(handle)) {
            .file => {
                const length = files.read(handles.object_of(handle, .file), buffer) catch |err|
                    return file_failure(err);
                assert(length <= buffer.len);
                return @intCast(length);
            },
            .channel => return receive(handles.object_of(handle, .channel), buffer, false),
            .socket => return net_receive(handles.object_of(handle, .socket), buffer, null, 0),
            .console => return failure(.unsupported),
            else => return failure(.bad_handle),
        }
    }

    fn io_read_at(
        handle: u32,
        buffer_pointer: [*]u8,
        buffer_length: u64,
        offset: u64,
    ) callconv(.c) i64 {
        if (buffer_length > abi.write_bytes_max) return failure(.too_large);
        const buffer = writable_bytes(buffer_pointer, buffer_length) orelse
            return failure(.bad_pointer);
        assert(buffer.len == buffer_length);
        switch (handles.kind_of(handle)) {
            .file => {
                const object = handles.object_of(handle, .file);
                const length = files.read_at(object, buffer, offset) catch |err|
                    return file_failure(err);
                assert(length <= buffer.len);
                return @intCast(length);
            },
            .channel, .socket, .console => return failure(.unsupported),
            else => return failure(.bad_handle),
        }
    }

    fn io_write(handle: u32, data_pointer: [*]const u8, data_length: u64) callconv(.c) i64 {
        if (data_length > abi.write_bytes_max) return failure(.too_large);
        const data = read_only_bytes(data_pointer, data_length) orelse
            return failure(.bad_pointer);
        assert(data.len == data_length);
        switch (handles.kind_of(handle)) {
            .console => {
                const task = scheduler.current_id();
                if (!events.console_output(task, data)) console.write_workload(data);
                return @intCast(data.len);
            },
            .channel => {
                const result = send(handles.object_of(handle, .channel), data, false);
                return if (result < 0) result else @intCast(data.len);
            },
            .socket => return net_send_to(handles.object_of(handle, .socket), data, null, 0),
            .file => return failure(.unsupported),
            else => return failure(.bad_handle),
        }
    }

    fn io_close(handle: u32) callconv(.c) i64 {
        switch (handles.kind_of(handle)) {
            .file => {
                files.close(handles.object_of(handle, .file));
                handles.release(handle);
            },
            .channel => {
                const released = channels.close(handles.object_of(handle, .channel));
                if (released) handles.release(handle);
            },
            .socket => {
                // The handle goes first: waiters woken by the close find it gone.
                const index = handles.object_of(handle, .socket);
                handles.release(handle);
                sockets.close(index);
            },
            .console, .task, .arena => return failure(.unsupported),
            .free, .reserved => return failure(.bad_handle),
        }
        return 0;
    }

    fn io_poll(items_pointer: [*]abi.PollItem, items_count: u32, timeout_ns: u64) callconv(.c) i64 {
        if (items_count > constants.poll_items_max) return failure(.too_large);
        // Checked as an integer: the typed pointer lets the compiler assume it is aligned.
        const address: u64 = asm (""
            : [address] "=r" (-> u64),
            : [input] "0" (items_pointer),
        );
        if (items_count > 0) {
            if (address % @alignOf(abi.PollItem) != 0) return failure(.bad_pointer);
            const bytes = @as(u64, items_count) * @sizeOf(abi.PollItem);
            if (!writable(address, bytes)) return failure(.bad_pointer);
        }
        const items = items_pointer[0..items_count];
        const deadline = if (timeout_ns == 0) 0 else scheduler.deadline_after(timeout_ns);
        // Each round after the first follows a wake-up: a channel changed, or the deadline
        // passed (which ends the loop). The bound says so; no wait reaches it.
        var rounds: u64 = 0;
        while (rounds < poll_rounds_max) : (rounds += 1) {
            const ready = poll_scan(items);
            assert(ready <= items.len);
            if (ready > 0) return ready;
            if (timeout_ns == 0) {
                // Polling without waiting: let the network move (rate-limited), then look once
                // more, so a loop of zero-timeout polls sees packets arrive.
                scheduler.waker_poll_if_due();
                return poll_scan(items);
            }
            if (!scheduler.block(.poll, 0, deadline)) return 0;
        }
        unreachable;
    }

    fn io_stat(path_pointer: [*]const u8, path_length: u64, stat: ?*abi.FileStat) callconv(.c) i64 {
        if (path_length > constants.rootfs_path_bytes_max) return failure(.out_of_range);
        const path = read_only_bytes(path_pointer, path_length) orelse
            return failure(.bad_pointer);
        const bytes = struct_out(abi.FileStat, stat) orelse return failure(.bad_pointer);
        const found = files.stat(path) orelse return failure(.not_found);
        const result: abi.FileStat = .{
            .size = found.size,
            .kind = @intFromEnum(found.kind),
            .mode = found.mode,
        };
        @memcpy(bytes, std.mem.asBytes(&result));
        return 0;
    }

    fn io_list(
        path_pointer: [*]const u8,
        path_length: u64,
        cursor: u32,
        entry: ?*abi.DirEntry,
    ) callconv(.c) i64 {
        if (path_length > constants.rootfs_path_bytes_max) return failure(.out_of_range);
        const path = read_only_bytes(path_pointer, path_length) orelse
            return failure(.bad_pointer);
        const bytes = struct_out(abi.DirEntry, entry) orelse return failure(.bad_pointer);
        const child = (files.list(path, cursor) catch return failure(.not_found)) orelse
            return 0;
        assert(child.next > cursor);
        var result = std.mem.zeroes(abi.DirEntry);
        result.size = child.entry.size;
        result.kind = @intFromEnum(child.entry.kind);
        result.name_bytes = @intCast(child.name.len);
        @memcpy(result.name[0..child.name.len], child.name);
        @memcpy(bytes, std.mem.asBytes(&result));
        return child.next;
    }

    // ---- ipc.* ------------------------------------------------------------------------------

    fn ipc_channel_create(capacity: u32, message_bytes_max: u32) callconv(.c) i64 {
        const handle = handles.open(.channel, 0) catch return failure(.limit_reached);
        const index = channels.create(capacity, message_bytes_max) catch |err| {
            handles.release(handle);
            return switch (err) {
                error.OutOfRange => failure(.out_of_range),
                error.LimitReached => failure(.limit_reached),
                else => failure(.no_memory),
            };
        };
        assert(index < constants.channels_max);
        handles.set_object(handle, index);
        return handle;
    }

    fn ipc_send(
        channel: u32,
        message_pointer: [*]const u8,
        message_length: u64,
        flags: u32,
    ) callconv(.c) i64 {
        const index = handles.get(channel, .channel) orelse return failure(.bad_handle);
        if (flags & ~abi.flag_nonblocking != 0) return failure(.out_of_range);
        if (message_length > constants.channel_message_bytes_max) return failure(.too_large);
        const message = read_only_bytes(message_pointer, message_length) orelse
            return failure(.bad_pointer);
        assert(message.len == message_length);
        return send(index, message, flags & abi.flag_nonblocking != 0);
    }

    fn ipc_recv(
        channel: u32,
        buffer_pointer: [*]u8,
        buffer_length: u64,
        flags: u32,
    ) callconv(.c) i64 {
        const index = handles.get(channel, .channel) orelse return failure(.bad_handle);
        if (flags & ~abi.flag_nonblocking != 0) return failure(.out_of_range);
        const length = @min(buffer_length, constants.channel_message_bytes_max);
        const buffer = writable_bytes(buffer_pointer, length) orelse
            return failure(.bad_pointer);
        assert(buffer.len <= constants.channel_message_bytes_max);
        return receive(index, buffer, flags & abi.flag_nonblocking != 0);
    }

    // ---- mem.* ------------------------------------------------------------------------------

    fn mem_arena_create(bytes_max: u64) callconv(.c) i64 {
        const handle = handles.open(.arena, 0) catch return failure(.limit_reached);
        const index = arenas.create(bytes_max) catch |err| {
            handles.release(handle);
            return switch (err) {
                error.OutOfRange => failure(.out_of_range),
                error.LimitReached => failure(.limit_reached),
                error.NoMemory => failure(.no_memory),
            };
        };
        assert(index < constants.arenas_max);
        handles.set_object(handle, index);
        return handle;
    }

    fn mem_arena_alloc(arena: u32, bytes: u64, alignment: u64) callconv(.c) i64 {
        const index = handles.get(arena, .arena) orelse return failure(.bad_handle);
        const address = arenas.alloc(index, bytes, alignment) catch |err| return switch (err) {
            error.OutOfRange => failure(.out_of_range),
            else => failure(.no_memory),
        };
        assert(address != 0);
        assert(address % alignment == 0);
        return @intCast(address);
    }

    fn mem_arena_reset(arena: u32) callconv(.c) i64 {
        arenas.reset(handles.get(arena, .arena) orelse return failure(.bad_handle));
        return 0;
    }

    fn mem_arena_destroy(arena: u32) callconv(.c) i64 {
        arenas.destroy(handles.get(arena, .arena) orelse return failure(.bad_handle));
        handles.release(arena);
        return 0;
    }

    fn mem_alloc(bytes: u64, alignment: u64) callconv(.c) i64 {
        const address = workload_heap.alloc(bytes, alignment) catch |err| return switch (err) {
            error.NoMemory => failure(.no_memory),
            else => failure(.out_of_range),
        };
        assert(address != 0);
        assert(address % alignment == 0);
        return @intCast(address);
    }

    fn mem_free(address: u64, bytes: u64) callconv(.c) i64 {
        workload_heap.free(address, bytes) catch |err| return switch (err) {
            error.BadPointer => failure(.bad_pointer),
            else => failure(.out_of_range),
        };
        return 0;
    }

    // ---- log.*, trace.* -------------------------------------------------------------------------

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
        const message = read_only_bytes(message_pointer, message_length) orelse
            return failure(.bad_pointer);
        const fields_bytes = @as(u64, fields_count) * @sizeOf(abi.LogField);
        _ = read_only_bytes(@ptrCast(fields_pointer), fields_bytes) orelse
            return failure(.bad_pointer);
        var fields: [abi.log_fields_max]events.Field = undefined;
        for (fields_pointer[0..fields_count], fields[0..fields_count]) |raw, *field| {
            if (raw.key_length > 255 or raw.value_length > 65535) return failure(.too_large);
            field.* = .{
                .key = address_bytes(raw.key_pointer, raw.key_length) orelse
                    return failure(.bad_pointer),
                .value = address_bytes(raw.value_pointer, raw.value_length) orelse
                    return failure(.bad_pointer),
            };
            assert(field.key.len == raw.key_length);
        }
        assert(message.len == message_length);
        // A record larger than an events block would be dropped: say so instead.
        if (!events.log_record_fits(message, fields[0..fields_count])) return failure(.too_large);
        events.log(scheduler.current_id(), @intCast(level), message, fields[0..fields_count]);
        return 0;
    }

    fn trace_span_begin(name_pointer: [*]const u8, name_length: u64) callconv(.c) i64 {
        if (name_length > abi.name_bytes_max) return failure(.too_large);
        const name = read_only_bytes(name_pointer, name_length) orelse
            return failure(.bad_pointer);
        const task = scheduler.current_task();
        assert(task.span_count <= task.spans.len);
        if (task.span_count == task.spans.len) return failure(.limit_reached);
        const parent = if (task.span_count > 0) task.spans[task.span_count - 1].id else 0;
        const id = next_span_id;
        next_span_id += 1;
        task.spans[task.span_count] = .{ .id = id, .begin_ns = clock.now_ns() };
        task.span_count += 1;
        assert(id < next_span_id);
        events.span_begin(scheduler.current_id(), id, parent, name);
        return @intCast(id);
    }

    fn trace_span_end(span: u64) callconv(.c) i64 {
        // Usually the current task's innermost span; any task's open span may be ended.
        for (&scheduler.tasks) |*task| {
            assert(task.span_count <= task.spans.len);
            const open = task.spans[0..task.span_count];
            for (open, 0..) |opened, position| {
                if (opened.id != span) continue;
                assert(span < next_span_id);
                const duration = clock.now_ns() - opened.begin_ns;
                const rest = open[position + 1 ..];
                std.mem.copyForwards(scheduler.OpenSpan, open[position .. open.len - 1], rest);
                task.span_count -= 1;
                events.span_end(scheduler.current_id(), span);
                return @intCast(duration);
            }
        }
        return failure(.out_of_range);
    }

    fn trace_event(name_pointer: [*]const u8, name_length: u64, value: u64) callconv(.c) i64 {
        if (name_length > abi.name_bytes_max) return failure(.too_large);
        const name = read_only_bytes(name_pointer, name_length) orelse
            return failure(.bad_pointer);
        assert(name.len == name_length);
        events.event(scheduler.current_id(), name, value);
        return 0;
    }

    // ---- clock.*, random.* ----------------------------------------------------------------------

    fn clock_now_ns() callconv(.c) u64 {
        return clock.now_ns();
    }

    fn clock_wall_ns() callconv(.c) u64 {
        return clock.wall_ns();
    }

    fn random_fill(buffer_pointer: [*]u8, buffer_length: u64) callconv(.c) i64 {
        if (buffer_length > abi.write_bytes_max) return failure(.too_large);
        const buffer = writable_bytes(buffer_pointer, buffer_length) orelse
            return failure(.bad_pointer);
        assert(buffer.len == buffer_length);
        random.fill(buffer);
        return @intCast(buffer.len);
    }

    // ---- net.* ------------------------------------------------------------------------------

    fn net_socket(kind: u32, flags: u32) callconv(.c) i64 {
        if (flags & ~abi.flag_nonblocking != 0) return failure(.out_of_range);
        const socket_kind: sockets.Kind = switch (kind) {
            abi.socket_stream => .stream,
            abi.socket_datagram => .datagram,
            else => return failure(.out_of_range),
        };
        const handle = handles.open(.socket, 0) catch return failure(.limit_reached);
        const index = sockets.create(socket_kind, flags & abi.flag_nonblocking != 0) catch |err| {
            handles.release(handle);
            return net_failure(err);
        };
        assert(index < constants.net_sockets_max);
        handles.set_object(handle, index);
        return handle;
    }

    fn net_bind(socket: u32, address: ?*const abi.SocketAddress) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        const local = read_address(address) orelse return failure(.bad_pointer);
        sockets.bind(index, local) catch |err| return net_failure(err);
        return 0;
    }

    fn net_listen(socket: u32, backlog: u32) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        sockets.listen(index, backlog) catch |err| return net_failure(err);
        return 0;
    }

    fn net_accept(socket: u32, peer: ?*abi.SocketAddress, flags: u32) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        if (flags & ~abi.flag_nonblocking != 0) return failure(.out_of_range);
        // Checked before waiting: a bad pointer must not cost the connection.
        const peer_bytes = address_out(peer, false) orelse return failure(.bad_pointer);
        // Reserved, not a socket yet, while accept waits: nothing may reach it meanwhile.
        const handle = handles.open(.reserved, 0) catch return failure(.limit_reached);
        const accepted = sockets.accept(index, flags & abi.flag_nonblocking != 0) catch |err| {
            handles.release(handle);
            return net_failure(err);
        };
        assert(accepted.index != index);
        handles.settle(handle, .socket, accepted.index);
        if (peer_bytes.len > 0) @memcpy(peer_bytes, std.mem.asBytes(&accepted.peer));
        return handle;
    }

    fn net_connect(socket: u32, address: ?*const abi.SocketAddress) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        const remote = read_address(address) orelse return failure(.bad_pointer);
        sockets.connect(index, remote) catch |err| return net_failure(err);
        return 0;
    }

    fn net_send(
        socket: u32,
        data_pointer: [*]const u8,
        data_length: u64,
        flags: u32,
    ) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        if (flags & ~abi.flag_nonblocking != 0) return failure(.out_of_range);
        if (data_length > abi.write_bytes_max) return failure(.too_large);
        const data = read_only_bytes(data_pointer, data_length) orelse
            return failure(.bad_pointer);
        assert(data.len == data_length);
        return net_send_to(index, data, null, flags);
    }

    fn net_recv(
        socket: u32,
        buffer_pointer: [*]u8,
        buffer_length: u64,
        flags: u32,
    ) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        if (flags & ~receive_flags != 0) return failure(.out_of_range);
        const length = @min(buffer_length, abi.write_bytes_max);
        const buffer = writable_bytes(buffer_pointer, length) orelse
            return failure(.bad_pointer);
        assert(buffer.len <= abi.write_bytes_max);
        return net_receive(index, buffer, null, flags);
    }

    fn net_sendto(
        socket: u32,
        data_pointer: [*]const u8,
        data_length: u64,
        address: ?*const abi.SocketAddress,
        flags: u32,
    ) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        if (flags & ~abi.flag_nonblocking != 0) return failure(.out_of_range);
        if (!sockets.is_datagram(index)) return failure(.unsupported);
        if (data_length > abi.datagram_bytes_max) return failure(.too_large);
        const data = read_only_bytes(data_pointer, data_length) orelse
            return failure(.bad_pointer);
        const remote = read_address(address) orelse return failure(.bad_pointer);
        assert(data.len <= abi.datagram_bytes_max);
        return net_send_to(index, data, remote, flags);
    }

    fn net_recvfrom(
        socket: u32,
        buffer_pointer: [*]u8,
        buffer_length: u64,
        address: ?*abi.SocketAddress,
        flags: u32,
    ) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        if (flags & ~receive_flags != 0) return failure(.out_of_range);
        if (!sockets.is_datagram(index)) return failure(.unsupported);
        const length = @min(buffer_length, abi.datagram_bytes_max);
        const buffer = writable_bytes(buffer_pointer, length) orelse
            return failure(.bad_pointer);
        const from_bytes = address_out(address, false) orelse return failure(.bad_pointer);
        var from: abi.SocketAddress = std.mem.zeroes(abi.SocketAddress);
        const result = net_receive(index, buffer, &from, flags);
        if (result >= 0 and from_bytes.len > 0) @memcpy(from_bytes, std.mem.asBytes(&from));
        return result;
    }

    fn net_shutdown(socket: u32, how: u32) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        if (how == 0 or how > abi.shutdown_both) return failure(.out_of_range);
        sockets.shutdown(index, how) catch |err| return net_failure(err);
        return 0;
    }

    fn net_local_address(socket: u32, address: ?*abi.SocketAddress) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        const bytes = address_out(address, true) orelse return failure(.bad_pointer);
        assert(bytes.len == @sizeOf(abi.SocketAddress));
        const local = sockets.local_address(index);
        @memcpy(bytes, std.mem.asBytes(&local));
        return 0;
    }

    fn net_peer_address(socket: u32, address: ?*abi.SocketAddress) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        const bytes = address_out(address, true) orelse return failure(.bad_pointer);
        assert(bytes.len == @sizeOf(abi.SocketAddress));
        const peer = sockets.peer_address(index) catch |err| return net_failure(err);
        @memcpy(bytes, std.mem.asBytes(&peer));
        return 0;
    }

    fn net_set_option(socket: u32, option: u32, value: u64) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        sockets.set_option(index, option, value) catch |err| return net_failure(err);
        return 0;
    }

    fn net_get_option(socket: u32, option: u32) callconv(.c) i64 {
        const index = handles.get(socket, .socket) orelse return failure(.bad_handle);
        const value = sockets.get_option(index, option) catch |err| return net_failure(err);
        assert(value <= std.math.maxInt(i64));
        return @intCast(value);
    }

    fn net_resolve(
        name_pointer: [*]const u8,
        name_length: u64,
        addresses_pointer: [*]abi.SocketAddress,
        addresses_count: u32,
        timeout_ns: u64,
    ) callconv(.c) i64 {
        if (name_length == 0 or addresses_count == 0) return failure(.out_of_range);
        if (name_length > abi.host_name_bytes_max) return failure(.too_large);
        const name = read_only_bytes(name_pointer, name_length) orelse
            return failure(.bad_pointer);
        const count = @min(addresses_count, abi.resolve_addresses_max);
        const out_bytes = address_writable_bytes(
            opaque_address(addresses_pointer),
            @as(u64, count) * @sizeOf(abi.SocketAddress),
        ) orelse return failure(.bad_pointer);
        var found: [abi.resolve_addresses_max]abi.SocketAddress = undefined;
        const n = sockets.resolve(name, found[0..count], timeout_ns) catch |err|
            return net_failure(err);
        assert(n > 0 and n <= count);
        const bytes = std.mem.sliceAsBytes(found[0..n]);
        @memcpy(out_bytes[0..bytes.len], bytes);
        return @intCast(n);
    }
};

/// The table handed to the workload: every field of the generated Table, filled by name.
pub const table: abi.Table = blk: {
    var result: abi.Table = undefined;
    result.size_bytes = @sizeOf(abi.Table);
    for (abi.calls) |call| @field(result, call.field) = &@field(implementation, call.field);
    break :blk result;
};

fn send(index: u32, message: []const u8, nonblocking: bool) i64 {
    channels.send(index, message, nonblocking) catch |err| return switch (err) {
        error.WouldBlock => failure(.would_block),
        error.Closed => failure(.closed),
        error.TooLarge => failure(.too_large),
        else => failure(.out_of_range),
    };
    return 0;
}

fn receive(index: u32, buffer: []u8, nonblocking: bool) i64 {
    const length = channels.receive(index, buffer, nonblocking) catch |err| return switch (err) {
        error.WouldBlock => failure(.would_block),
        error.Closed => failure(.closed),
        error.TooLarge => failure(.too_large),
        else => failure(.out_of_range),
    };
    return @intCast(length);
}

/// Sets each item's revents; returns how many items have any.
fn poll_scan(items: []abi.PollItem) u32 {
    assert(items.len <= constants.poll_items_max);
    var ready: u32 = 0;
    for (items) |*item| {
        item.revents = readiness(item.handle, item.events);
        if (item.revents != 0) ready += 1;
    }
    assert(ready <= items.len);
    return ready;
}

/// A poll waits by its deadline, not by a count of rounds: see io_poll.
const poll_rounds_max: u64 = std.math.maxInt(u64);

fn readiness(handle: u32, wanted: u16) u16 {
    var result: u16 = 0;
    switch (handles.kind_of(handle)) {
        .console => result = abi.poll_writable,
        .file => result = abi.poll_readable,
        .channel => {
            const state = channels.readiness(handles.object_of(handle, .channel));
            if (state.readable) result |= abi.poll_readable;
            if (state.writable) result |= abi.poll_writable;
            if (state.closed) return (result & wanted) | abi.poll_closed;
        },
        .socket => {
            const state = sockets.readiness(handles.object_of(handle, .socket));
            if (state.readable) result |= abi.poll_readable;
            if (state.writable) result |= abi.poll_writable;
            // Reported whether asked for or not, as poll(2) does.
            var always: u16 = 0;
            if (state.closed) always |= abi.poll_closed;
            if (state.failed) always |= abi.poll_error;
            return (result & wanted) | always;
        },
        else => return 0,
    }
    assert(result & abi.poll_closed == 0);
    return result & wanted;
}

const receive_flags: u32 = abi.flag_nonblocking | abi.flag_peek;

fn net_send_to(index: u32, data: []const u8, to: ?abi.SocketAddress, flags: u32) i64 {
    const nonblocking = flags & abi.flag_nonblocking != 0;
    const sent = sockets.send(index, data, to, nonblocking) catch |err| return net_failure(err);
    assert(sent <= data.len);
    return @intCast(sent);
}

fn net_receive(index: u32, buffer: []u8, from: ?*abi.SocketAddress, flags: u32) i64 {
    const received = sockets.receive(index, buffer, from, flags) catch |err|
        return net_failure(err);
    assert(received <= buffer.len);
    return @intCast(received);
}

fn net_failure(err: sockets.Error) i64 {
    return failure(switch (err) {
        error.OutOfRange => .out_of_range,
        error.TooLarge => .too_large,
        error.LimitReached => .limit_reached,
        error.NoMemory => .no_memory,
        error.Unsupported => .unsupported,
        error.AddressInUse => .address_in_use,
        error.AlreadyConnected => .already_connected,
        error.WouldBlock => .would_block,
        error.ConnectionRefused => .connection_refused,
        error.ConnectionReset => .connection_reset,
        error.TimedOut => .timed_out,
        error.NoRoute => .no_route,
        error.NotConnected => .not_connected,
        error.Closed => .closed,
        error.NotFound => .not_found,
        error.BadHandle => .bad_handle,
    });
}

/// A pointer parameter's address as an integer the compiler knows nothing about: it may assume
/// a typed pointer is aligned, and a workload's need not be.
fn opaque_address(pointer: anytype) u64 {
    return asm (""
        : [address] "=r" (-> u64),
        : [input] "0" (@intFromPtr(pointer)),
    );
}

/// The SocketAddress a workload passed (copied: it may be unaligned), or null if unreadable.
fn read_address(pointer: ?*const abi.SocketAddress) ?abi.SocketAddress {
    const address = opaque_address(pointer);
    if (address == 0) return null;
    const bytes = address_bytes(address, @sizeOf(abi.SocketAddress)) orelse return null;
    assert(bytes.len == @sizeOf(abi.SocketAddress));
    return std.mem.bytesToValue(abi.SocketAddress, bytes);
}

/// The bytes of a SocketAddress the kernel will write: empty for null when not `required`, null
/// when not writable (or null and required).
fn address_out(pointer: ?*abi.SocketAddress, required: bool) ?[]u8 {
    if (opaque_address(pointer) == 0 and !required) return empty_buffer[0..0];
    return struct_out(abi.SocketAddress, pointer);
}

/// The bytes of a struct the kernel writes through a required out-pointer, or null when null or
/// not writable.
fn struct_out(comptime T: type, pointer: ?*T) ?[]u8 {
    const address = opaque_address(pointer);
    if (address == 0) return null;
    const bytes = address_writable_bytes(address, @sizeOf(T)) orelse return null;
    assert(bytes.len == @sizeOf(T));
    return bytes;
}

/// writable_bytes for a raw address (which may be 0); `length` > 0.
fn address_writable_bytes(address: u64, length: u64) ?[]u8 {
    if (!writable(address, length)) return null;
    const pointer: [*]u8 = @ptrFromInt(address);
    return pointer[0..length];
}

fn failure(code: abi.Error) i64 {
    assert(@intFromEnum(code) > 0);
    return -@intFromEnum(code);
}

/// What zero-length ranges point at: never read or written.
var empty_buffer: [1]u8 = undefined;

/// [pointer, pointer + length) if the kernel may read it (address_space.zig says what that
/// means). A zero length is valid anywhere: nothing is read.
fn read_only_bytes(pointer: [*]const u8, length: u64) ?[]const u8 {
    // Not pointer[0..0] (nor &.{}): a workload may pass null with a zero length, and a slice
    // with a null pointer inside an optional reads as "no slice" (bad_pointer).
    if (length == 0) return empty_buffer[0..0];
    if (!readable(@intFromPtr(pointer), length)) return null;
    return pointer[0..length];
}

/// read_only_bytes for a raw address (which may be 0).
fn address_bytes(address: u64, length: u64) ?[]const u8 {
    if (length == 0) return empty_buffer[0..0];
    if (!readable(address, length)) return null;
    const pointer: [*]const u8 = @ptrFromInt(address);
    return pointer[0..length];
}

fn readable(address: u64, length: u64) bool {
    assert(length > 0); // Zero-length ranges are never checked: nothing is touched.
    return address_space.global.allows(address, length, .read);
}

/// As read_only_bytes, for memory the kernel writes: mapped writable too.
fn writable_bytes(pointer: [*]u8, length: u64) ?[]u8 {
    if (length == 0) return empty_buffer[0..0]; // As in read_only_bytes.
    if (!writable(@intFromPtr(pointer), length)) return null;
    return pointer[0..length];
}

fn writable(address: u64, length: u64) bool {
    assert(length > 0); // Zero-length ranges are never checked: nothing is touched.
    return address_space.global.allows(address, length, .write);
}

comptime {
    assert(abi.calls.len * @sizeOf(usize) + @sizeOf(u64) == @sizeOf(abi.Table));
}
