//! Signals: the handler table (rt_sigaction), the blocked mask (rt_sigprocmask), the alternate
//! stack (sigaltstack), kept as Linux keeps them, without asynchronous delivery (nothing in
//! the guest sends one). A signal the program sends itself (raise, abort, os.kill(os.getpid()),
//! signal.raise_signal) is delivered synchronously: a handler runs before the call returns (or
//! when the mask unblocks it, as musl's raise needs); the default action of a terminating
//! signal ends the program with status 128 + the signal's number.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
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

// ---- The real-time interval timer (alarm, setitimer(ITIMER_REAL)) --------------------------

const sigalrm: u32 = 14;
/// When SIGALRM is due (clock.now_ns), 0 when the timer is off; and its period (0: once).
var alarm_deadline_ns: u64 = 0;
var alarm_interval_ns: u64 = 0;

/// At every system call's entry: SIGALRM when its time has come. Signals reach the program
/// only at system calls (the layer cannot interrupt its code), so a program computing without
/// making any sees the signal at its next call.
pub fn timer_check() void {
    if (alarm_deadline_ns == 0) return;
    const now = uk.table.clock_now_ns();
    if (now < alarm_deadline_ns) return;
    alarm_deadline_ns = if (alarm_interval_ns == 0) 0 else now + alarm_interval_ns;
    _ = send(sigalrm);
}

/// How long a blocking call may wait: `timeout_ns`, cut to the timer's deadline (then the call
/// delivers SIGALRM and fails with EINTR, as on Linux).
pub fn wait_bound(timeout_ns: u64) struct { wait_ns: u64, cut: bool } {
    if (alarm_deadline_ns == 0) return .{ .wait_ns = timeout_ns, .cut = false };
    const left = alarm_deadline_ns -| uk.table.clock_now_ns();
    if (left >= timeout_ns) return .{ .wait_ns = timeout_ns, .cut = false };
    return .{ .wait_ns = left, .cut = true };
}

/// After a wait `wait_bound` cut: delivers SIGALRM; EINTR for the caller.
pub fn interrupted() error{INTR} {
    timer_check();
    return error.INTR;
}

const Timeval = extern struct { sec: i64, usec: i64 };
const ItimerVal = extern struct { interval: Timeval, value: Timeval };

fn timeval_ns(time: Timeval) ?u64 {
    if (time.sec < 0 or time.usec < 0 or time.usec >= std.time.us_per_s) return null;
    const seconds: u64 = @intCast(time.sec);
    return seconds *| std.time.ns_per_s +| @as(u64, @intCast(time.usec)) * std.time.ns_per_us;
}

fn timeval_of(ns: u64) Timeval {
    // A timer that is due reads as 1 µs left, never 0 (0 means off), as Linux reports it.
    const rounded = if (ns == 0) 0 else @max(ns, std.time.ns_per_us);
    return .{
        .sec = @intCast(rounded / std.time.ns_per_s),
        .usec = @intCast((rounded % std.time.ns_per_s) / std.time.ns_per_us),
    };
}

fn timer_read() ItimerVal {
    const left = if (alarm_deadline_ns == 0) 0 else alarm_deadline_ns -| uk.table.clock_now_ns();
    return .{ .interval = timeval_of(alarm_interval_ns), .value = timeval_of(left) };
}

/// getitimer(ITIMER_REAL): the time left and the period. The virtual and profiling timers
/// (CPU time) are not kept: EINVAL.
pub fn sys_getitimer(a: linux.Args) i64 {
    if (a[0] != 0) return fail(error.INVAL);
    const out = uk.object(ItimerVal, a[1]) orelse return fail(error.FAULT);
    out.* = timer_read();
    return 0;
}

pub fn sys_setitimer(a: linux.Args) i64 {
    if (a[0] != 0) return fail(error.INVAL);
    const new = uk.object(ItimerVal, a[1]) orelse return fail(error.FAULT);
    const value_ns = timeval_ns(new.value) orelse return fail(error.INVAL);
    const interval_ns = timeval_ns(new.interval) orelse return fail(error.INVAL);
    if (uk.object(ItimerVal, a[2])) |old| old.* = timer_read();
    alarm_deadline_ns = if (value_ns == 0) 0 else uk.table.clock_now_ns() +| value_ns;
    alarm_interval_ns = interval_ns;
    return 0;
}

/// alarm(seconds): the seconds the previous alarm had left (rounded up), 0 when none.
pub fn sys_alarm(a: linux.Args) i64 {
    const previous = timer_read().value;
    const seconds: u64 = @as(u32, @truncate(a[0]));
    const now = uk.table.clock_now_ns();
    alarm_deadline_ns = if (seconds == 0) 0 else now +| seconds * std.time.ns_per_s;
    alarm_interval_ns = 0;
    return previous.sec + @intFromBool(previous.usec > 0);
}

/// Waits for a signal: only SIGALRM can come (the timer), so the wait ends at its deadline,
/// the handler runs, and the call fails with EINTR. With no timer armed nothing can ever come:
/// the wait is for ever (the kernel reports a workload whose every task waits so).
fn wait_for_signal() i64 {
    const bound = wait_bound(abi.timeout_infinite);
    uk.sleep(bound.wait_ns);
    timer_check();
    return fail(error.INTR);
}

pub fn sys_pause(a: linux.Args) i64 {
    _ = a;
    return wait_for_signal();
}

/// rt_sigsuspend(mask, size): waits as pause does with `mask` as the blocked set.
pub fn sys_rt_sigsuspend(a: linux.Args) i64 {
    if (a[1] != sigset_bytes) return fail(error.INVAL);
    const mask = uk.object(u64, a[0]) orelse return fail(error.FAULT);
    const saved = blocked;
    blocked = mask.* & ~unblockable;
    deliver_pending_or_wait();
    blocked = saved;
    return fail(error.INTR);
}

fn deliver_pending_or_wait() void {
    if (pending & ~blocked != 0) return deliver_pending();
    _ = wait_for_signal();
}
