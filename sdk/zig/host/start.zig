//! The root module of a workload built as a Linux process (the host backend): the same entry
//! file and the same SDK module (`ukernel`, sdk/zig/ukernel.zig) as a guest build, but instead
//! of the kernel's call table the workload gets calls.zig's, implemented with Linux system
//! calls. bench/net compares the guest against it ("the same server code as a host process").
//!
//!     bash bench/net/build-host.sh examples/http-server/src/main.zig build/host/http-server
//!     build/host/http-server 8080
//!
//! argv and the environment are the process's own; the workload's console (handle 1) is stdout
//! and log records go to stderr. What the backend covers and what it refuses: calls.zig.

const std = @import("std");
const ukernel = @import("ukernel");
const workload = @import("workload");
const calls = @import("calls.zig");

/// The host process keeps std's panic handler: it prints a stack trace, which a guest cannot.
pub const panic = std.debug.FullPanic(std.debug.defaultPanic);

/// std's start code calls this with argv and the environment set up; main's result (as the
/// guest's exit status) is the process's exit status.
pub fn main() u8 {
    calls.init();
    const start: ukernel.abi.StartContext = .{
        .abi_major = ukernel.abi.version_major,
        .abi_minor = ukernel.abi.version_minor,
        .abi_patch = ukernel.abi.version_patch,
        .reserved = 0,
        .table = &calls.table,
        .argc = std.os.argv.len,
        .argv = @ptrCast(std.os.argv.ptr),
        .envc = std.os.environ.len,
        .envp = @ptrCast(std.os.environ.ptr),
    };
    const status = ukernel.run(&start, workload.main);
    std.debug.assert(status <= 255);
    return @intCast(status);
}
