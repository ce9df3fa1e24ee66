//! Physical page allocation: a bump allocator over the largest free RAM range (from the memory
//! map, minus the kernel image). Pages are identity-mapped, so an address is both what the CPU
//! and what a device (DMA) uses. Nothing is freed yet: the kernel allocates its queues, the
//! workload image and its stack once, at start.
//!
//! Pages come back zeroed without being written: both VMMs hand the guest zeroed RAM, nothing
//! but the VMM (below the kernel's end) has written the free range, and a bump allocator never
//! hands out a page twice. Not touching them matters: under shadow paging the first touch of
//! each page costs an exit, so a 1 MiB stack is only paid for as it is used.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const MemoryMap = @import("../lib/memory_map.zig").MemoryMap;
const Range = @import("../lib/memory_map.zig").Range;

pub const page_bytes: u64 = 4096;

extern const __kernel_start: u8;
extern const __kernel_end: u8;

var next: u64 = 0;
var end: u64 = 0;

/// Takes the largest free range at or above 1 MiB and below ram_limit_bytes.
pub fn init(map: *const MemoryMap) error{NoFreeMemory}!Range {
    const kernel: Range = .{ .base = @intFromPtr(&__kernel_start), .end = @intFromPtr(&__kernel_end) };
    const range = map.largest_free_range(0x10_0000, constants.ram_limit_bytes, kernel) orelse
        return error.NoFreeMemory;
    next = std.mem.alignForward(u64, range.base, page_bytes);
    end = std.mem.alignBackward(u64, range.end, page_bytes);
    if (next >= end) return error.NoFreeMemory;
    assert(next % page_bytes == 0);
    return .{ .base = next, .end = end };
}

/// `count` zeroed (see above), contiguous pages, or null when memory is exhausted.
pub fn allocate(count: u64) ?[*]align(4096) u8 {
    assert(count > 0);
    assert(next % page_bytes == 0);
    if (count > (end - next) / page_bytes) return null;
    const address = next;
    next += count * page_bytes;
    return @ptrFromInt(address);
}

/// Bytes still free.
pub fn free_bytes() u64 {
    return end - next;
}
