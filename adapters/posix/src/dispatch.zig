//! __uk_syscall: the one entry musl's __syscall0..6 call (adapters/python's musl overlay) in
//! place of the `syscall` instruction. `served` is the whole list of Linux calls the layer
//! serves, by x86-64 number; a comptime table indexes it, so a call costs one load and one
//! indirect call. Any other number returns ENOSYS and is reported once (report.zig).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");
const files = @import("files.zig");
const io = @import("io.zig");
const linux = @import("linux.zig");
const memory = @import("memory.zig");
const poll = @import("poll.zig");
const process = @import("process.zig");
const report = @import("report.zig");
const signals = @import("signals.zig");
const sockets = @import("sockets.zig");
const streams = @import("streams.zig");
const time = @import("time.zig");

const Handler = *const fn (args: linux.Args) i64;
const Served = struct { linux.SYS, Handler };

/// Every call served, grouped as docs/posix-layer.md lists them.
pub const served = [_]Served{
    // Files and directories (files.zig, io.zig).
    .{ .read, io.sys_read },
    .{ .write, io.sys_write },
    .{ .readv, io.sys_readv },
    .{ .writev, io.sys_writev },
    .{ .pread64, io.sys_pread64 },
    .{ .preadv, io.sys_preadv },
    .{ .pwrite64, io.sys_pwrite },
    .{ .pwritev, io.sys_pwritev },
    .{ .fallocate, io.sys_fallocate },
    .{ .open, files.sys_open },
    .{ .openat, files.sys_openat },
    .{ .creat, files.sys_creat },
    .{ .close, io.sys_close },
    .{ .stat, files.sys_stat },
    .{ .lstat, files.sys_stat },
    .{ .fstat, io.sys_fstat },
    .{ .fstatat64, files.sys_newfstatat },
    .{ .statx, files.sys_statx },
    .{ .lseek, io.sys_lseek },
    .{ .getdents64, io.sys_getdents64 },
    .{ .readlink, files.sys_readlink },
    .{ .readlinkat, files.sys_readlinkat },
    .{ .access, files.sys_access },
    .{ .faccessat, files.sys_faccessat },
    .{ .faccessat2, files.sys_faccessat },
    .{ .getcwd, files.sys_getcwd },
    .{ .chdir, files.sys_chdir },
    .{ .fchdir, files.sys_fchdir },
    .{ .fsync, io.sys_fsync },
    .{ .fdatasync, io.sys_fsync },
    .{ .dup, io.sys_dup },
    .{ .dup2, io.sys_dup2 },
    .{ .dup3, io.sys_dup3 },
    .{ .fcntl, io.sys_fcntl },
    .{ .sendfile, io.sys_sendfile },
    .{ .flock, io.sys_advice },
    .{ .fadvise64, io.sys_advice },
    .{ .ioctl, io.sys_ioctl },
    // The image is read-only (EROFS); /tmp is a writable file system in memory (tmpfs.zig).
    .{ .mkdir, files.sys_mkdir },
    .{ .mkdirat, files.sys_mkdirat },
    .{ .rmdir, files.sys_rmdir },
    .{ .unlink, files.sys_unlink },
    .{ .unlinkat, files.sys_unlinkat },
    .{ .rename, files.sys_rename },
    .{ .renameat, files.sys_renameat },
    .{ .renameat2, files.sys_renameat },
    .{ .truncate, files.sys_truncate },
    .{ .ftruncate, files.sys_ftruncate },
    .{ .chmod, files.sys_chmod },
    .{ .chown, files.sys_chown },
    .{ .lchown, files.sys_chown },
    .{ .fchmodat, files.sys_fchmodat },
    .{ .fchownat, files.sys_change_at },
    .{ .utimensat, files.sys_change_at },
    .{ .fchmod, files.sys_fchmod },
    .{ .fchown, files.sys_fchown },
    .{ .mknod, files.sys_mknod },
    .{ .statfs, files.sys_statfs },
    .{ .fstatfs, files.sys_fstatfs },
    .{ .mknodat, files.sys_mknod },
    .{ .link, files.sys_read_only },
    .{ .linkat, files.sys_read_only },
    .{ .symlink, files.sys_read_only },
    .{ .symlinkat, files.sys_read_only },
    // Memory (memory.zig).
    .{ .mmap, memory.sys_mmap },
    .{ .munmap, memory.sys_munmap },
    .{ .mremap, memory.sys_mremap },
    .{ .brk, memory.sys_brk },
    .{ .madvise, memory.sys_nothing },
    .{ .mprotect, memory.sys_nothing },
    .{ .msync, memory.sys_nothing },
    .{ .mlock, memory.sys_nothing },
    .{ .munlock, memory.sys_nothing },
    // Time (time.zig).
    .{ .clock_gettime, time.sys_clock_gettime },
    .{ .clock_getres, time.sys_clock_getres },
    .{ .gettimeofday, time.sys_gettimeofday },
    .{ .time, time.sys_time },
    .{ .nanosleep, time.sys_nanosleep },
    .{ .clock_nanosleep, time.sys_clock_nanosleep },
    // Readiness (poll.zig).
    .{ .poll, poll.sys_poll },
    .{ .ppoll, poll.sys_ppoll },
    .{ .select, poll.sys_select },
    .{ .pselect6, poll.sys_pselect6 },
    // Sockets (sockets.zig) and channel-backed streams (streams.zig).
    .{ .socket, sockets.sys_socket },
    .{ .bind, sockets.sys_bind },
    .{ .listen, sockets.sys_listen },
    .{ .accept, sockets.sys_accept },
    .{ .accept4, sockets.sys_accept4 },
    .{ .connect, sockets.sys_connect },
    .{ .getsockname, sockets.sys_getsockname },
    .{ .getpeername, sockets.sys_getpeername },
    .{ .getsockopt, sockets.sys_getsockopt },
    .{ .setsockopt, sockets.sys_setsockopt },
    .{ .sendto, sockets.sys_sendto },
    .{ .recvfrom, sockets.sys_recvfrom },
    .{ .sendmsg, sockets.sys_sendmsg },
    .{ .recvmsg, sockets.sys_recvmsg },
    .{ .shutdown, sockets.sys_shutdown },
    .{ .socketpair, streams.sys_socketpair },
    .{ .pipe, streams.sys_pipe },
    .{ .pipe2, streams.sys_pipe2 },
    .{ .eventfd, streams.sys_eventfd },
    .{ .eventfd2, streams.sys_eventfd2 },
    // Signals (signals.zig).
    .{ .rt_sigaction, signals.sys_rt_sigaction },
    .{ .rt_sigprocmask, signals.sys_rt_sigprocmask },
    .{ .rt_sigpending, signals.sys_rt_sigpending },
    .{ .sigaltstack, signals.sys_sigaltstack },
    .{ .setitimer, signals.sys_setitimer },
    .{ .getitimer, signals.sys_getitimer },
    .{ .alarm, signals.sys_alarm },
    .{ .pause, signals.sys_pause },
    .{ .rt_sigsuspend, signals.sys_rt_sigsuspend },
    .{ .kill, signals.sys_kill },
    .{ .tkill, signals.sys_tkill },
    .{ .tgkill, signals.sys_tgkill },
    // The process (process.zig).
    .{ .getpid, process.sys_process_id },
    .{ .gettid, process.sys_process_id },
    .{ .getpgrp, process.sys_process_id },
    .{ .getpgid, process.sys_process_id },
    .{ .getsid, process.sys_process_id },
    .{ .set_tid_address, process.sys_process_id },
    .{ .getppid, process.sys_getppid },
    .{ .getuid, process.sys_user_id },
    .{ .geteuid, process.sys_user_id },
    .{ .getgid, process.sys_user_id },
    .{ .getegid, process.sys_user_id },
    .{ .getgroups, process.sys_getgroups },
    .{ .getresuid, process.sys_getresuid },
    .{ .getresgid, process.sys_getresuid },
    .{ .setuid, process.sys_not_permitted },
    .{ .setgid, process.sys_not_permitted },
    .{ .setsid, process.sys_not_permitted },
    .{ .setpgid, process.sys_not_permitted },
    .{ .clock_settime, process.sys_not_permitted },
    .{ .settimeofday, process.sys_not_permitted },
    .{ .umask, process.sys_umask },
    .{ .arch_prctl, process.sys_arch_prctl },
    .{ .uname, process.sys_uname },
    .{ .prctl, process.sys_prctl },
    .{ .sched_getaffinity, process.sys_sched_getaffinity },
    .{ .sched_yield, process.sys_sched_yield },
    .{ .getcpu, process.sys_getcpu },
    .{ .prlimit64, process.sys_prlimit64 },
    .{ .getrlimit, process.sys_getrlimit },
    .{ .setrlimit, process.sys_setrlimit },
    .{ .getrusage, process.sys_getrusage },
    .{ .times, process.sys_times },
    .{ .getrandom, process.sys_getrandom },
    .{ .futex, process.sys_futex },
    .{ .exit, process.sys_exit },
    .{ .exit_group, process.sys_exit },
    .{ .clone, process.sys_no_process },
    .{ .clone3, process.sys_no_process },
    .{ .fork, process.sys_no_process },
    .{ .vfork, process.sys_no_process },
    .{ .execve, process.sys_no_process },
    .{ .execveat, process.sys_no_process },
    .{ .wait4, process.sys_wait },
    .{ .waitid, process.sys_wait },
};

const handlers: [constants.syscall_numbers_max]?Handler = build: {
    var table = [_]?Handler{null} ** constants.syscall_numbers_max;
    for (served) |entry| {
        const number = @intFromEnum(entry[0]);
        if (number >= table.len) @compileError("syscall number past the table");
        if (table[number] != null) @compileError("served twice: " ++ @tagName(entry[0]));
        table[number] = entry[1];
    }
    break :build table;
};

/// What musl's __syscallN call with (n, a1..a6): the result, or -errno.
pub fn syscall(number: i64, args: linux.Args) i64 {
    if (number < 0 or number >= constants.syscall_numbers_max) {
        return report.unserved(@bitCast(number));
    }
    const handler = handlers[@intCast(number)] orelse return report.unserved(@intCast(number));
    signals.timer_check();
    const result = handler(args);
    assert(result >= -4095);
    return result;
}

test "the table holds every served call once, at its x86-64 number" {
    try std.testing.expect(handlers[0] != null); // read
    try std.testing.expect(handlers[@intFromEnum(linux.SYS.clock_gettime)] != null);
    try std.testing.expect(handlers[@intFromEnum(linux.SYS.epoll_create1)] == null);
    try std.testing.expect(served.len > 140);
}
