//! Clocks and sleeping over clock.now_ns, clock.wall_ns and task.sleep. CLOCK_REALTIME (and
//! TAI) is the kernel's wall clock (kvmclock's under KVM, else the host's time at launch); only
//! when the kernel knows none is it the monotonic clock with the epoch at 0 (then datetime.now()
//! is in 1970). The other clocks read the kernel's monotonic clock (ns since it was entered);
//! the CPU-time clocks less the time the program waited in the layer (sleeps, poll), since the
//! program is the only thing the VM runs.

const std = @import("std");
const assert = std.debug.assert;
const errno = @import("errno.zig");
const linux = @import("linux.zig");
const signals = @import("signals.zig");
const uk = @import("uk.zig");

const Error = errno.Error;
const fail = errno.fail;

const clock_realtime: i32 = 0;
const clock_tai: i32 = 11;
const timer_abstime: u32 = 1;

/// The clock's current value in ns; EINVAL for ids Linux does not have (or per-process CPU
/// clocks of other processes, which are negative).
fn now_ns(clock: i32) Error!u64 {
    if (clock < 0 or clock > clock_tai or clock == 10) return error.INVAL;
    return switch (clock) {
        // REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI.
        clock_realtime, 5, 8, clock_tai => realtime_ns(),
        2, 3 => uk.cpu_ns(), // PROCESS_CPUTIME_ID, THREAD_CPUTIME_ID
        else => uk.table.clock_now_ns(),
    };
}

/// The wall clock in ns since the epoch; the monotonic clock when the kernel has none (0).
pub fn realtime_ns() u64 {
    const wall = uk.table.clock_wall_ns();
    return if (wall != 0) wall else uk.table.clock_now_ns();
}

fn timespec_write(pointer: u64, ns: u64) Error!void {
    const time = uk.object(linux.timespec, pointer) orelse return error.FAULT;
    time.* = .{
        .sec = @intCast(ns / std.time.ns_per_s),
        .nsec = @intCast(ns % std.time.ns_per_s),
    };
}

fn timespec_read(pointer: u64) Error!u64 {
    const time = uk.object(linux.timespec, pointer) orelse return error.FAULT;
    if (time.sec < 0 or time.nsec < 0 or time.nsec >= std.time.ns_per_s) return error.INVAL;
    const seconds: u64 = @intCast(time.sec);
    const ns = std.math.mul(u64, seconds, std.time.ns_per_s) catch std.math.maxInt(u64);
    return ns +| @as(u64, @intCast(time.nsec));
}

pub fn sys_clock_gettime(a: linux.Args) i64 {
    const ns = now_ns(uk.int(a[0])) catch |e| return fail(e);
    timespec_write(a[1], ns) catch |e| return fail(e);
    return 0;
}

/// clock_getres: 1 ns (the kernel's clock counts ns).
pub fn sys_clock_getres(a: linux.Args) i64 {
    _ = now_ns(uk.int(a[0])) catch |e| return fail(e);
    if (a[1] != 0) timespec_write(a[1], 1) catch |e| return fail(e);
    return 0;
}

pub fn sys_gettimeofday(a: linux.Args) i64 {
    if (a[0] == 0) return 0;
    const time = uk.object(linux.Timeval, a[0]) orelse return fail(error.FAULT);
    const ns = now_ns(clock_realtime) catch unreachable;
    time.* = .{
        .sec = @intCast(ns / std.time.ns_per_s),
        .usec = @intCast((ns % std.time.ns_per_s) / std.time.ns_per_us),
    };
    return 0;
}

pub fn sys_time(a: linux.Args) i64 {
    const seconds: i64 = @intCast((now_ns(clock_realtime) catch unreachable) / std.time.ns_per_s);
    if (uk.object(i64, a[0])) |out| out.* = seconds;
    return seconds;
}

/// Sleeps; cut short (EINTR, the time left in `remaining`) when SIGALRM comes first.
fn sleep(duration_ns: u64, remaining: u64) i64 {
    const bound = signals.wait_bound(duration_ns);
    if (bound.wait_ns > 0) uk.sleep(bound.wait_ns);
    const left = if (bound.cut) duration_ns - bound.wait_ns else 0;
    if (remaining != 0) timespec_write(remaining, left) catch {};
    if (bound.cut) return fail(signals.interrupted());
    return 0;
}

pub fn sys_nanosleep(a: linux.Args) i64 {
    const duration_ns = timespec_read(a[0]) catch |e| return fail(e);
    return sleep(duration_ns, a[1]);
}

/// clock_nanosleep(clock, flags, request, remaining): TIMER_ABSTIME sleeps until the clock
/// reads `request`. Only SIGALRM (alarm, setitimer) cuts a sleep short.
pub fn sys_clock_nanosleep(a: linux.Args) i64 {
    const clock = uk.int(a[0]);
    const now = now_ns(clock) catch |e| return fail(e);
    const request = timespec_read(a[2]) catch |e| return fail(e);
    if (@as(u32, @truncate(a[1])) & timer_abstime != 0) {
        return sleep(request -| now, 0);
    }
    return sleep(request, a[3]);
}
