//! The ukernel SDK for Zig workloads (module name `ukernel`).
//!
//! A workload's entry file declares `pub fn main(context: ukernel.Context) u8` (or returns
//! `void`, `!u8` or `!void`). start.zig (the root module of every workload) provides the ELF
//! entry point and calls it; this module keeps the kernel's call table and wraps the calls
//! (abi.zig, generated from abi/ukernel.abi.json) in Zig idioms.
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

pub const Error = error{ BadHandle, BadPointer, OutOfRange, TooLarge, Unsupported, IoFailed, Unknown };

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

fn status_of(result: anytype) u32 {
    const Result = @TypeOf(result);
    switch (@typeInfo(Result)) {
        .void => return 0,
        .int => return @as(u8, @intCast(result)),
        .error_union => {
            const value = result catch |err| {
                print("error: {s}\n", .{@errorName(err)});
                return 1;
            };
            return status_of(value);
        },
        else => @compileError("main must return void, u8, !void or !u8, not " ++ @typeName(Result)),
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
    return switch (code) {
        .bad_handle => error.BadHandle,
        .bad_pointer => error.BadPointer,
        .out_of_range => error.OutOfRange,
        .too_large => error.TooLarge,
        .unsupported => error.Unsupported,
        .io_failed => error.IoFailed,
    };
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

    fn record(level: u32, comptime format: []const u8, arguments: anytype) void {
        var buffer: [1024]u8 = undefined;
        var writer = std.Io.Writer.fixed(&buffer);
        writer.print(format, arguments) catch {};
        const message = writer.buffered();
        _ = table.log_write(level, message.ptr, message.len);
    }
};

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
