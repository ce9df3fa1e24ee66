//! Every limit of the POSIX layer, in one place (TIGER_STYLE: explicit bounds). The layer keeps
//! only static tables: it allocates nothing of its own but what mmap asks for.

const std = @import("std");
const assert = std.debug.assert;

/// Open file descriptors at once (RLIMIT_NOFILE reports it). fds 0, 1 and 2 are the console.
pub const fds_max: u32 = 256;
/// Open file descriptions (what dup shares: the offset, O_NONBLOCK) at once.
pub const descriptions_max: u32 = 256;
/// Longest path a call accepts (Linux PATH_MAX, with its NUL).
pub const path_bytes_max: u32 = 4096;
/// Longest rootfs path after normalisation (the image's own limit, contracts.json
/// rootfs_path_bytes_max = 255), plus one byte for a NUL.
pub const rootfs_path_bytes_max: u32 = 256;
/// Rootfs files whose kernel handle stays open (shared by every fd on that path and kept after
/// the last close, so that a reopen costs no io.open: the kernel reads and hashes a whole file
/// at io.open, and zipimport reopens its archive for every module). Below the kernel's
/// files_open_max (32).
pub const files_cached_max: u32 = 24;
/// Directories open at once (each keeps its path for getdents64 and openat).
pub const directories_max: u32 = 32;
/// Channel-backed byte streams (socketpair ends, pipe ends) open at once; each has a receive
/// buffer of stream_message_bytes_max.
pub const streams_max: u32 = 32;
/// Largest message on a stream's channel: a write is cut into messages of at most this.
pub const stream_message_bytes_max: u32 = 4096;
/// Messages a stream's channel holds before a writer waits (or gets EAGAIN).
pub const stream_channel_capacity: u32 = 16;
/// Messages an eventfd's channel holds before writes are folded into one.
pub const eventfd_channel_capacity: u32 = 8;
/// Files and directories /tmp holds at once, and their bytes together (tmpfs.zig).
pub const tmp_nodes_max: u32 = 128;
pub const tmp_bytes_max: u64 = 64 << 20;
/// Live mmap regions tracked (address and size, which mem.free needs).
pub const regions_max: u32 = 4096;
/// Separate unmapped parts one region keeps (munmap inside a region; more: ENOMEM, as Linux's
/// map count limit).
pub const region_holes_max: u32 = 4;
/// Page size reported in AT_PAGESZ and used to round mmap lengths.
pub const page_bytes: u64 = 4096;
/// pollfds one poll accepts (and fds one select watches); io.poll items are bounded likewise,
/// two per channel-backed stream.
pub const poll_fds_max: u32 = 256;
pub const poll_items_max: u32 = 256;
/// Linux syscall numbers tracked for the once-per-run report of unserved calls; larger ones
/// share the last bit.
pub const syscall_numbers_max: u32 = 512;
/// Arguments and environment entries _start copies into the initial block (the kernel's
/// workload_args_max and workload_env_max).
pub const start_args_max: u32 = 256;
pub const start_env_max: u32 = 256;
/// The stack of the workload's first task, reported as RLIMIT_STACK: what the program's
/// PT_GNU_STACK asks for as the kernel grants it (kernel/src/loader/elf.zig stack_request):
/// the default for no request (contracts.json workload_stack_bytes_default), at least a
/// spawned task's stack (the kernel's task_stack_bytes), at most workload_stack_bytes_max.
pub const main_stack_bytes: u64 = 1 << 20;
pub const main_stack_bytes_min: u64 = 64 << 10;
pub const main_stack_bytes_max: u64 = 8 << 20;
/// Addresses one getaddrinfo answer holds (net.resolve is asked for at most this many), and
/// its entries: one per address and socket type (TCP and UDP when the hints name none).
pub const resolve_addresses_max: u32 = 8;
pub const resolve_entries_max: u32 = resolve_addresses_max * 2;
/// getaddrinfo answers held at once (until freeaddrinfo): the layer's static pool.
pub const resolve_lists_max: u32 = 16;
/// Largest single io.write / log.write (the ABI's write_bytes_max).
pub const write_chunk_bytes_max: u64 = 65536;
/// The pid, tid, uid and gid every id call reports (one process, one thread).
pub const process_id: u32 = 1;
pub const user_id: u32 = 0;

comptime {
    assert(fds_max >= 3);
    assert(descriptions_max >= 3);
    assert(files_cached_max < 32);
    assert(stream_message_bytes_max <= 64 * 1024);
    assert(poll_items_max >= poll_fds_max);
    assert(std.math.isPowerOfTwo(page_bytes));
    assert(rootfs_path_bytes_max <= path_bytes_max);
}
