//! The ABI test suite: one workload, modes chosen by argv.
//!
//!     ukernel run -- conformance          every call and its error paths; exit = failures
//!     ukernel run -- fuzz N SEED          N random calls; must not crash or hang; exit 0
//!     ukernel run -- fairness [K] [MS]    K yielding tasks get equal shares (max/min ≤ 1.2)
//!     ukernel run -- timers [MED] [MAX]   sleep accuracy: never early, late within bounds (µs)
//!     ukernel run -- net-timeouts         a socket whose connection ended in TIME_WAIT: lwIP
//!                                         frees it later, the socket must not reach it; a
//!                                         blocking connect times out (about 20 s)
//!     ukernel run -- overflow             a task overflows its stack: the guard page faults
//!                                         and the VM exits 101
//!     ukernel run -- guard-read           the first task reads a guard page through a pointer:
//!                                         a fault (101), not reported as a stack overflow
//!     ukernel run -- task-exit N          the first task calls task.exit(N) (N a u32): the VM
//!                                         exits N when N ≤ 255, else exit_status_out_of_range
//!
//! Calls go through the raw table (sys.zig), so that invalid arguments can be passed.

const std = @import("std");
const ukernel = @import("ukernel");
const sys = @import("sys.zig");
const conformance = @import("conformance.zig");
const fuzz = @import("fuzz.zig");
const fairness = @import("fairness.zig");
const timers = @import("timers.zig");
const net = @import("net.zig");

pub fn main(context: ukernel.Context) u8 {
    if (!sys.locate(context)) {
        ukernel.print("FAIL setup: the StartContext is not just before argv; cannot reach the call table\n", .{});
        return 99;
    }
    // A kernel older than the SDK has a shorter table with other calls at these offsets: calling
    // through it would jump anywhere, and printing itself needs io.write at its new place.
    if (!sys.complete()) return 98;
    const mode = if (context.args.len > 1) std.mem.span(context.args[1]) else "";
    const rest = if (context.args.len > 2) context.args[2..] else context.args[0..0];
    if (std.mem.eql(u8, mode, "conformance")) return conformance.run(context);
    if (std.mem.eql(u8, mode, "fuzz")) return fuzz.run(rest);
    if (std.mem.eql(u8, mode, "fairness")) return fairness.run(rest);
    if (std.mem.eql(u8, mode, "timers")) return timers.run(rest);
    if (std.mem.eql(u8, mode, "net-timeouts")) return net.timeouts();
    if (std.mem.eql(u8, mode, "overflow")) return overflow();
    if (std.mem.eql(u8, mode, "guard-read")) return guard_read();
    if (std.mem.eql(u8, mode, "task-exit") and rest.len == 1) {
        sys.task_exit(std.fmt.parseInt(u32, std.mem.span(rest[0]), 0) catch return 2);
    }
    ukernel.print("usage: conformance | fuzz N SEED | fairness [TASKS] [WINDOW_MS] | timers [LATE_MEDIAN_US] [LATE_MAX_US] | net-timeouts | overflow | guard-read | task-exit N\n", .{});
    return 2;
}

fn recurse(depth: u64) u64 {
    var frame: [1024]u8 = undefined;
    const pointer: *volatile [1024]u8 = &frame;
    pointer[0] = @truncate(depth);
    if (depth == 0) return pointer[0];
    return recurse(depth - 1) +% pointer[0];
}

fn t_overflow(_: u64) callconv(.c) u32 {
    ukernel.print("overflow: task recursing past its stack\n", .{});
    return @truncate(recurse(1 << 20));
}

fn overflow() u8 {
    const h = sys.task_spawn(@intFromPtr(&t_overflow), 0, 0);
    if (h < 0) {
        ukernel.print("FAIL overflow: task.spawn: {s}\n", .{sys.name(h)});
        return 1;
    }
    _ = sys.task_join(sys.handle(h), sys.infinite);
    ukernel.print("FAIL overflow: the task came back from overflowing its stack\n", .{});
    return 1;
}

fn guard_read() u8 {
    const guard = sys.stack_layout().guard(1);
    ukernel.print("guard-read: reading 0x{x}, the second task slot's guard page\n", .{guard});
    const pointer: *volatile u8 = @ptrFromInt(guard + 8);
    const byte = pointer.*;
    ukernel.print("FAIL guard-read: read {d} from a guard page\n", .{byte});
    return 1;
}
