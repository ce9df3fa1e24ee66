//! Signals: the handler table (rt_sigaction), the blocked mask (rt_sigprocmask), the alternate
//! stack (sigaltstack), kept as Linux keeps them, without asynchronous delivery (nothing in
//! the guest sends one). A signal the program sends itself (raise, abort, os.kill(os.getpid()),
//! signal.raise_signal) is delivered synchronously: a handler runs before the call returns (or
//! when the mask unblocks it, as musl's raise needs); the default action of a terminating
//! signal ends the program with status 128 + the signal's number.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const linux = @import("linux.zig");
const uk = @import("uk.zig");

const fail = errno.fail;

/// musl's struct k_sigaction on x86-64 (what rt_sigaction reads and writes).
const Action = extern struct { handler: u64 = 0, flags: u64 = 0, restorer: u64 = 0, mask: u64 = 0 };
/// stack_t.
const AltStack = extern struct { pointer: u64 = 0, flags: i32 = 2, pad: u32 = 0, bytes: u64 = 0 };

const signals_max: u32 = 64;
const sigset_bytes: u64 = 8;
const sig_ign: u64 = 1;
const sa_siginfo: u64 = 4;
const sa_nodefer: u64 = 0x40000000;
const sa_resethand: u64 = 0x80000000;
const sigkill: u32 = 9;
const sigstop: u32 = 19;
const unblockable: u64 = bit(sigkill) | bit(sigstop);

var actions = [_]Action{.{}} ** (signals_max + 1);
var blocked: u64 = 0;
var pending: u64 = 0;
var alternate: AltStack = .{};

fn bit(signal: u32) u64 {
    assert(signal >= 1 and signal <= signals_max);
    return @as(u64, 1) << @intCast(signal - 1);
}

pub fn sys_rt_sigaction(a: linux.Args) i64 {
    const signal: u32 = @truncate(a[0]);
    if (a[3] != sigset_bytes or signal < 1 or signal > signals_max) return fail(error.INVAL);
    if (a[1] != 0 and (signal == sigkill or signal == sigstop)) return fail(error.INVAL);
    if (uk.object(Action, a[2])) |old| old.* = actions[signal];
    if (uk.object(Action, a[1])) |new| actions[signal] = new.*;
    return 0;
}

pub fn sys_rt_sigprocmask(a: linux.Args) i64 {
    if (a[3] != sigset_bytes) return fail(error.INVAL);
    if (uk.object(u64, a[2])) |old| old.* = blocked;
    if (uk.object(u64, a[1])) |set| {
        blocked = switch (a[0]) {
            0 => blocked | set.*, // SIG_BLOCK
            1 => blocked & ~set.*, // SIG_UNBLOCK
            2 => set.*, // SIG_SETMASK
            else => return fail(error.INVAL),
        } & ~unblockable;
        deliver_pending();
    }
    return 0;
}

pub fn sys_rt_sigpending(a: linux.Args) i64 {
    const out = uk.object(u64, a[0]) orelse return fail(error.FAULT);
    out.* = pending;
    return 0;
}

pub fn sys_sigaltstack(a: linux.Args) i64 {
    if (uk.object(AltStack, a[1])) |old| old.* = alternate;
    if (uk.object(AltStack, a[0])) |new| alternate = new.*;
    return 0;
}

/// kill(pid, signal): this process is pid 1 (0 and -1 reach it too); signal 0 only checks.
pub fn sys_kill(a: linux.Args) i64 {
    const pid = uk.int(a[0]);
    if (pid != constants.process_id and pid != 0 and pid != -1) return fail(error.SRCH);
    return send(@truncate(a[1]));
}

pub fn sys_tkill(a: linux.Args) i64 {
    if (uk.int(a[0]) != constants.process_id) return fail(error.SRCH);
    return send(@truncate(a[1]));
}

pub fn sys_tgkill(a: linux.Args) i64 {
    if (uk.int(a[0]) != constants.process_id or uk.int(a[1]) != constants.process_id) {
        return fail(error.SRCH);
    }
    return send(@truncate(a[2]));
}

fn send(signal: u32) i64 {
    if (signal == 0) return 0;
    if (signal > signals_max) return fail(error.INVAL);
    if (blocked & bit(signal) != 0) {
        pending |= bit(signal);
        return 0;
    }
    deliver(signal);
    return 0;
}

/// Delivers the pending signals the mask no longer blocks, lowest first.
fn deliver_pending() void {
    var rounds: u32 = 0;
    while (rounds < signals_max) : (rounds += 1) {
        const ready = pending & ~blocked;
        if (ready == 0) return;
        const signal: u32 = @as(u32, @ctz(ready)) + 1;
        pending &= ~bit(signal);
        deliver(signal);
    }
}

/// Runs the signal's handler now, or its default action.
fn deliver(signal: u32) void {
    const action = actions[signal];
    if (action.handler == sig_ign) return;
    if (action.handler == 0) return default_action(signal);
    if (action.flags & sa_resethand != 0) actions[signal] = .{};
    const saved = blocked;
    if (action.flags & sa_nodefer == 0) blocked |= bit(signal);
    blocked |= action.mask & ~unblockable;
    if (action.flags & sa_siginfo != 0) {
        // siginfo_t: si_signo, si_errno, si_code = SI_TKILL (-6), pid, uid; 128 bytes.
        var info = [_]i32{0} ** 32;
        info[0] = @intCast(signal);
        info[2] = -6;
        info[4] = @intCast(constants.process_id);
        const handler: *const fn (i32, *anyopaque, ?*anyopaque) callconv(.c) void =
            @ptrFromInt(action.handler);
        handler(@intCast(signal), &info, null);
    } else {
        const handler: *const fn (i32) callconv(.c) void = @ptrFromInt(action.handler);
        handler(@intCast(signal));
    }
    blocked = saved;
}

/// SIGCHLD, SIGCONT, SIGURG, SIGWINCH are ignored by default, and the stop signals do nothing
/// here; every other signal ends the program, as it would on Linux.
fn default_action(signal: u32) void {
    switch (signal) {
        17, 18, 19, 20, 21, 22, 23, 28 => return,
        else => {},
    }
    var text: [64]u8 = undefined;
    const message = std.fmt.bufPrint(&text, "posix: terminated by signal {d}\n", .{signal}) catch
        unreachable;
    uk.console_write(message);
    uk.table.task_exit(128 + signal);
}
