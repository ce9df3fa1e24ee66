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
