//! libukposix: the POSIX layer every C-based adapter links (Python now). It serves the Linux
//! system calls of a musl program with ukernel ABI calls; docs/posix-layer.md describes it.
//! Exports (C ABI, include/ukposix.h): _start (the workload entry), __uk_syscall (musl's
//! system-call entry), uk_posix_table and uk_posix_adopt; and the ukernel ABI note.

const std = @import("std");
const ukernel = @import("ukernel");
const abi = ukernel.abi;
const dispatch = @import("dispatch.zig");
const netdb = @import("netdb.zig");
const start = @import("start.zig");
const streams = @import("streams.zig");
const uk = @import("uk.zig");

comptime {
    _ = ukernel.abi_note;
    _ = start.thread_pointer_note;
    @export(&start.entry, .{ .name = "_start" });
    // Name resolution over net.resolve, in place of musl's resolver (netdb.zig).
    @export(&netdb.getaddrinfo, .{ .name = "getaddrinfo" });
    @export(&netdb.freeaddrinfo, .{ .name = "freeaddrinfo" });
    @export(&netdb.getnameinfo, .{ .name = "getnameinfo" });
    @export(&netdb.gethostbyname2_r, .{ .name = "gethostbyname2_r" });
}

/// musl's system-call entry: __syscall0..6 call it with the x86-64 number and arguments.
export fn __uk_syscall(
    number: c_long,
    a1: c_long,
    a2: c_long,
    a3: c_long,
    a4: c_long,
    a5: c_long,
    a6: c_long,
) callconv(.c) c_long {
    const args = [6]u64{
        @bitCast(a1), @bitCast(a2), @bitCast(a3), @bitCast(a4), @bitCast(a5), @bitCast(a6),
    };
    return dispatch.syscall(number, args);
}

/// The kernel's call table, for an adapter's own ABI calls (Python's `_ukernel`).
export fn uk_posix_table() callconv(.c) *const abi.Table {
    return uk.table;
}

/// An ABI handle as an fd poll() watches (streams.adopt).
export fn uk_posix_adopt(handle: u32, kind: c_int) callconv(.c) c_int {
    return @intCast(streams.adopt(handle, kind));
}

/// A failed assertion or safety check in the layer: said on the console, status 70 (EX_SOFTWARE).
pub const panic = std.debug.FullPanic(panic_handler);

fn panic_handler(message: []const u8, return_address: ?usize) noreturn {
    _ = return_address;
    if (!uk.started) @trap();
    uk.console_write("posix layer panic: ");
    uk.console_write(message);
    uk.console_write("\n");
    uk.table.task_exit(70);
}
