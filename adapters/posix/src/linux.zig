//! The x86-64 Linux constants and structure layouts the layer serves (from the kernel's UAPI
//! headers, as musl's bits/ headers spell them; std.os.linux where its layout matches).

const std = @import("std");
const linux = std.os.linux;

pub const SYS = linux.syscalls.X64;
pub const Stat = linux.Stat;
pub const Statx = linux.Statx;
pub const timespec = linux.timespec;
pub const utsname = linux.utsname;
pub const rlimit = linux.rlimit;

/// The system call's six arguments as the registers held them.
pub const Args = [6]u64;

pub const at_fdcwd: i32 = -100;
pub const at_symlink_nofollow: u32 = 0x100;
pub const at_empty_path: u32 = 0x1000;

pub const o_accmode: u32 = 3;
pub const o_creat: u32 = 0o100;
pub const o_excl: u32 = 0o200;
pub const o_trunc: u32 = 0o1000;
pub const o_append: u32 = 0o2000;
pub const o_nonblock: u32 = 0o4000;
pub const o_directory: u32 = 0o200000;
pub const o_cloexec: u32 = 0o2000000;
pub const o_tmpfile: u32 = 0o20000000;

pub const s_ifmt: u32 = 0o170000;
pub const s_ifsock: u32 = 0o140000;
pub const s_ifreg: u32 = 0o100000;
pub const s_ifdir: u32 = 0o040000;
pub const s_ifchr: u32 = 0o020000;
pub const s_ififo: u32 = 0o010000;

pub const dt_dir: u8 = 4;
pub const dt_reg: u8 = 8;

pub const seek_set: u32 = 0;
pub const seek_cur: u32 = 1;
pub const seek_end: u32 = 2;

pub const f_dupfd: u32 = 0;
pub const f_getfd: u32 = 1;
pub const f_setfd: u32 = 2;
pub const f_getfl: u32 = 3;
pub const f_setfl: u32 = 4;
pub const f_getlk: u32 = 5;
pub const f_setlk: u32 = 6;
pub const f_setlkw: u32 = 7;
pub const f_dupfd_cloexec: u32 = 1030;
pub const fd_cloexec: u32 = 1;

pub const fionbio: u32 = 0x5421;
pub const fioclex: u32 = 0x5451;
pub const fionclex: u32 = 0x5450;
pub const fionread: u32 = 0x541B;

pub const pollin: u16 = 0x001;
pub const pollpri: u16 = 0x002;
pub const pollout: u16 = 0x004;
pub const pollerr: u16 = 0x008;
pub const pollhup: u16 = 0x010;
pub const pollnval: u16 = 0x020;
pub const pollrdnorm: u16 = 0x040;
pub const pollwrnorm: u16 = 0x100;

pub const PollFd = extern struct { fd: i32, events: i16, revents: i16 };
pub const Iovec = extern struct { base: u64, length: u64 };
pub const Timeval = extern struct { sec: i64, usec: i64 };

pub const MsgHdr = extern struct {
    name: u64,
    name_length: u32,
    pad0: u32,
    iov: u64,
    iov_count: u64,
    control: u64,
    control_length: u64,
    flags: i32,
    pad1: u32,
};

comptime {
    std.debug.assert(@sizeOf(Stat) == 144);
    std.debug.assert(@sizeOf(Statx) == 256);
    std.debug.assert(@sizeOf(MsgHdr) == 56);
    std.debug.assert(@sizeOf(utsname) == 390);
}
