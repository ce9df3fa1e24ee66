//! The process: one process (pid 1) with one thread, run by root (uid 0). Ids, uname, limits,
//! usage, the thread pointer (arch_prctl over task.set_thread_pointer), single-threaded futex,
//! exit, and the refusal of what would need a second process or thread (clone, fork, execve).

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const io = @import("io.zig");
const linux = @import("linux.zig");
const report = @import("report.zig");
const signals = @import("signals.zig");
const time = @import("time.zig");
const uk = @import("uk.zig");

const Error = errno.Error;
const fail = errno.fail;

const arch_set_fs: u64 = 0x1002;
const arch_get_fs: u64 = 0x1003;

var thread_pointer: u64 = 0;
var file_mode_mask: u64 = 0o022;

/// The permission bits a new file or directory gets: `mode` less the umask.
pub fn creation_mode(mode: u64) u32 {
    return @intCast(mode & ~file_mode_mask & 0o7777);
}
var thread_name = [_]u8{0} ** 16;

/// getpid, gettid, getpgrp, getpgid, getsid, set_tid_address.
pub fn sys_process_id(a: linux.Args) i64 {
    _ = a;
    return constants.process_id;
}

pub fn sys_getppid(a: linux.Args) i64 {
    _ = a;
    return 0;
}

/// getuid, geteuid, getgid, getegid.
pub fn sys_user_id(a: linux.Args) i64 {
    _ = a;
    return constants.user_id;
}

/// setuid, setgid, setsid, setpgid: no second user or session exists; clock_settime,
/// settimeofday: the clock is the kernel's.
pub fn sys_not_permitted(a: linux.Args) i64 {
    _ = a;
    return fail(error.PERM);
}

/// getresuid, getresgid: real, effective and saved ids, all 0.
pub fn sys_getresuid(a: linux.Args) i64 {
    for (a[0..3]) |pointer| {
        const id = uk.object(u32, pointer) orelse return fail(error.FAULT);
        id.* = constants.user_id;
    }
    return 0;
}

pub fn sys_getgroups(a: linux.Args) i64 {
    _ = a;
    return 0;
}

pub fn sys_umask(a: linux.Args) i64 {
    const old = file_mode_mask;
    file_mode_mask = a[0] & 0o777;
    return @intCast(old);
}

/// arch_prctl(ARCH_SET_FS, address): the thread pointer musl's TLS lives at, set in ring 0 by
/// the kernel (task.set_thread_pointer). 0 tells musl threads are possible; pthread_create then
/// fails at clone, which CPython reports as "can't start new thread".
pub fn sys_arch_prctl(a: linux.Args) i64 {
    switch (a[0]) {
        arch_set_fs => {
            const result = uk.table.task_set_thread_pointer(a[1]);
            if (result < 0) return errno.pass(result);
            thread_pointer = a[1];
            return 0;
        },
        arch_get_fs => {
            const out = uk.object(u64, a[1]) orelse return fail(error.FAULT);
            out.* = thread_pointer;
            return 0;
        },
        else => return fail(error.INVAL),
    }
}

fn text_copy(destination: []u8, text: []const u8) void {
    assert(text.len < destination.len);
    @memset(destination, 0);
    @memcpy(destination[0..text.len], text);
}

pub fn sys_uname(a: linux.Args) i64 {
    const out = uk.object(linux.utsname, a[0]) orelse return fail(error.FAULT);
    text_copy(&out.sysname, "Linux");
    text_copy(&out.nodename, "ukernel");
    text_copy(&out.release, "6.1.0-ukernel");
    text_copy(&out.version, "#1 ukernel ABI " ++ abi.version_string);
    text_copy(&out.machine, "x86_64");
    text_copy(&out.domainname, "(none)");
    return 0;
}

/// sched_getaffinity: one CPU (the program's one thread runs on one).
pub fn sys_sched_getaffinity(a: linux.Args) i64 {
    const pid = uk.int(a[0]);
    if (pid != 0 and pid != constants.process_id) return fail(error.SRCH);
    if (a[1] < 8 or a[1] % 8 != 0) return fail(error.INVAL);
    const mask = uk.object(u64, a[2]) orelse return fail(error.FAULT);
    mask.* = 1;
    return 8;
}

pub fn sys_sched_yield(a: linux.Args) i64 {
    _ = a;
    _ = uk.table.task_yield();
    return 0;
}

pub fn sys_getcpu(a: linux.Args) i64 {
    if (uk.object(u32, a[0])) |cpu| cpu.* = 0;
    if (uk.object(u32, a[1])) |node| node.* = 0;
    return 0;
}

/// PR_SET_NAME and PR_GET_NAME (the thread's name, 16 bytes); other options: EINVAL.
pub fn sys_prctl(a: linux.Args) i64 {
    if (a[1] == 0) return fail(error.FAULT);
    switch (a[0]) {
        15 => {
            // The name is NUL-terminated; longer ones are cut to 15 bytes, as Linux does.
            const name = uk.string(a[1], thread_name.len - 1) orelse
                (uk.bytes(a[1], thread_name.len - 1) orelse return fail(error.FAULT));
            @memset(&thread_name, 0);
            @memcpy(thread_name[0..name.len], name);
        },
        16 => {
            const out = uk.bytes(a[1], thread_name.len) orelse return fail(error.FAULT);
            @memcpy(out, &thread_name);
        },
        else => return fail(error.INVAL),
    }
    return 0;
}

const rlim_infinity: u64 = std.math.maxInt(u64);

/// The first task's stack, set by _start from the program's PT_GNU_STACK (stack_request).
pub var main_stack_bytes: u64 = constants.main_stack_bytes;

/// The stack the kernel gives the first task for a PT_GNU_STACK p_memsz of `asked_bytes`:
/// the default for 0, else clamped to [main_stack_bytes_min, main_stack_bytes_max], whole pages.
pub fn stack_request(asked_bytes: u64) u64 {
    if (asked_bytes == 0) return constants.main_stack_bytes;
    const bounded = std.math.clamp(
        asked_bytes,
        constants.main_stack_bytes_min,
        constants.main_stack_bytes_max,
    );
    const result = std.mem.alignForward(u64, bounded, constants.page_bytes);
    assert(result <= constants.main_stack_bytes_max);
    return result;
}

test "RLIMIT_STACK follows the kernel's rule for PT_GNU_STACK" {
    try std.testing.expectEqual(constants.main_stack_bytes, stack_request(0));
    try std.testing.expectEqual(@as(u64, 8 << 20), stack_request(16 << 20));
    try std.testing.expectEqual(@as(u64, 8 << 20), stack_request(8 << 20));
    try std.testing.expectEqual(@as(u64, 64 << 10), stack_request(100));
    try std.testing.expectEqual(@as(u64, 2 << 20), stack_request((2 << 20) - 5));
}

/// A resource's limit (soft = hard): RLIMIT_STACK the first task's stack, RLIMIT_NOFILE the fd
/// table, RLIMIT_NPROC 1; the rest unlimited.
fn limit_of(resource: u64) Error!linux.rlimit {
    const value: u64 = switch (resource) {
        3 => main_stack_bytes, // RLIMIT_STACK
        6 => 1, // RLIMIT_NPROC
        7 => constants.fds_max, // RLIMIT_NOFILE
        0...2, 4, 5, 8...15 => rlim_infinity,
        else => return error.INVAL,
    };
    return .{ .cur = value, .max = value };
}

/// Reads the limit into `old`; a new limit may lower nothing here but is accepted as long as it
/// asks for no more than the hard limit (EPERM otherwise).
fn limit(resource: u64, new: u64, old: u64) i64 {
    const current = limit_of(resource) catch |e| return fail(e);
    if (uk.object(linux.rlimit, new)) |wanted| {
        if (wanted.cur > wanted.max) return fail(error.INVAL);
        if (wanted.max > current.max) return fail(error.PERM);
    }
    if (uk.object(linux.rlimit, old)) |out| out.* = current;
    return 0;
}

/// prlimit64(pid, resource, new, old): this process only.
pub fn sys_prlimit64(a: linux.Args) i64 {
    const pid = uk.int(a[0]);
    if (pid != 0 and pid != constants.process_id) return fail(error.SRCH);
    return limit(a[1], a[2], a[3]);
}

pub fn sys_getrlimit(a: linux.Args) i64 {
    return limit(a[0], 0, a[1]);
}

pub fn sys_setrlimit(a: linux.Args) i64 {
    return limit(a[0], a[1], 0);
}

/// getrusage: user time is the CPU time (uk.cpu_ns); no system time, no children.
pub fn sys_getrusage(a: linux.Args) i64 {
    const out = uk.bytes(a[1], 144) orelse return fail(error.FAULT);
    @memset(out, 0);
    if (uk.int(a[0]) == -1) return 0; // RUSAGE_CHILDREN: there are none
    const now = uk.cpu_ns();
    std.mem.writeInt(i64, out[0..8], @intCast(now / std.time.ns_per_s), .little);
    std.mem.writeInt(i64, out[8..16], @intCast((now % std.time.ns_per_s) / 1000), .little);
    return 0;
}

/// times: the CPU time as user time, in clock ticks (100 per second); returns the ticks since
/// the kernel started.
pub fn sys_times(a: linux.Args) i64 {
    const tick_ns = std.time.ns_per_s / 100;
    if (uk.bytes(a[0], 32)) |out| {
        @memset(out, 0);
        std.mem.writeInt(i64, out[0..8], @intCast(uk.cpu_ns() / tick_ns), .little);
    }
    return @intCast(uk.table.clock_now_ns() / tick_ns);
}

/// getrandom(buffer, length, flags): random.fill, as much as asked.
pub fn sys_getrandom(a: linux.Args) i64 {
    const buffer = uk.bytes(a[0], a[1]) orelse return fail(error.FAULT);
    var offset: usize = 0;
    var rounds: u64 = 0;
    while (offset < buffer.len) : (rounds += 1) {
        assert(rounds <= buffer.len / constants.write_chunk_bytes_max + 1);
        const length = @min(buffer.len - offset, constants.write_chunk_bytes_max);
        const part = buffer[offset..][0..length];
        offset += io.random_fill(part) catch |e| return fail(e);
    }
    return @intCast(buffer.len);
}

/// exit and exit_group end the program (its one thread) with task.exit. The status is passed
/// whole: a value outside 0-255 gives the kernel's exit_status_out_of_range (said on the
/// console), never its low 8 bits, where 256 would read as success.
pub fn sys_exit(a: linux.Args) i64 {
    const status: u32 = @bitCast(uk.int(a[0]));
    uk.table.task_exit(status);
}

/// clone, clone3, fork, vfork, execve, execveat: one process, one thread. ENOSYS: musl's
/// pthread_create fails, and CPython raises RuntimeError("can't start new thread"); os.fork
/// and subprocess raise OSError(ENOSYS).
pub fn sys_no_process(a: linux.Args) i64 {
    _ = a;
    return fail(error.NOSYS);
}

/// wait4, waitid: there is never a child.
pub fn sys_wait(a: linux.Args) i64 {
    _ = a;
    return fail(error.CHILD);
}

const futex_wait: u64 = 0;
const futex_wake: u64 = 1;
const futex_requeue: u64 = 3;
const futex_cmp_requeue: u64 = 4;
const futex_wake_op: u64 = 5;
const futex_wait_bitset: u64 = 9;
const futex_wake_bitset: u64 = 10;
const futex_command_mask: u64 = 0x7f;
const futex_clock_realtime: u64 = 0x100;

/// futex, single-threaded: nobody else can change the word or wake a waiter. WAIT returns
/// EAGAIN when the word differs; with a timeout it sleeps the timeout then says ETIMEDOUT;
/// without one it would wait for ever (a deadlock), so it says ETIMEDOUT at once and reports
/// it once. WAKE and REQUEUE wake nobody (0). The PI operations are not served.
pub fn sys_futex(a: linux.Args) i64 {
    const command = a[1] & futex_command_mask;
    switch (command) {
        futex_wake, futex_wake_bitset, futex_requeue, futex_cmp_requeue, futex_wake_op => return 0,
        futex_wait, futex_wait_bitset => {},
        else => return report.unserved(@intFromEnum(linux.SYS.futex)),
    }
    const word = uk.object(u32, a[0]) orelse return fail(error.FAULT);
    if (word.* != @as(u32, @truncate(a[2]))) return fail(error.AGAIN);
    const timeout = uk.object(linux.timespec, a[3]) orelse {
        report.once_text("posix: futex wait that no thread can wake (a deadlock); ETIMEDOUT");
        return fail(error.TIMEDOUT);
    };
    const nsec_valid = timeout.nsec >= 0 and timeout.nsec < std.time.ns_per_s;
    if (timeout.sec < 0 or !nsec_valid) return fail(error.INVAL);
    const seconds: u64 = @intCast(timeout.sec);
    var duration_ns = seconds *| std.time.ns_per_s +| @as(u64, @intCast(timeout.nsec));
    if (command == futex_wait_bitset) {
        // An absolute deadline, on CLOCK_REALTIME with FUTEX_CLOCK_REALTIME (measured against
        // the monotonic clock it lay decades ahead: a wait without end).
        const realtime = a[1] & futex_clock_realtime != 0;
        duration_ns -|= if (realtime) time.realtime_ns() else uk.table.clock_now_ns();
    }
    const bound = signals.wait_bound(duration_ns);
    if (bound.wait_ns > 0) uk.sleep(bound.wait_ns);
    if (bound.cut) return fail(signals.interrupted());
    return fail(error.TIMEDOUT);
}
