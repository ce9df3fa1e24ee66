//! Physical page allocation over the largest free RAM range (from the memory map, minus the
//! kernel image). Pages are identity-mapped, so an address is both what the CPU and what a
//! device (DMA) uses.
//!
//! A sorted list of free runs, first fit, coalescing on free, bounded in length. Invariant: free
//! pages are zero. Both VMMs hand the guest zeroed RAM, so the initial run needs no clearing
//! (not touching it matters: under shadow paging each page's first touch costs an exit), and
//! `free` clears what it takes back. So `allocate` never writes.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const MemoryMap = @import("../boot/memory_map.zig").MemoryMap;
const Range = @import("../boot/memory_map.zig").Range;
const address_space = @import("address_space.zig");

pub const page_bytes: u64 = 4096;

const Run = struct {
    base: u64,
    pages: u64,

    fn end(run: Run) u64 {
        return run.base + run.pages * page_bytes;
    }
};

pub const Allocator = struct {
    runs: [constants.page_runs_max]Run = undefined,
    run_count: u32 = 0,
    range: Range = .{ .base = 0, .end = 0 },

    pub fn init(allocator: *Allocator, range: Range) void {
        assert(range.base % page_bytes == 0);
        assert(range.end % page_bytes == 0);
        assert(range.base < range.end);
        allocator.range = range;
        const count = (range.end - range.base) / page_bytes;
        allocator.runs[0] = .{ .base = range.base, .pages = count };
        allocator.run_count = 1;
    }

    /// `count` zeroed, contiguous pages aligned to `alignment` bytes (a power of two, at least a
    /// page), or null.
    pub fn allocate_aligned(allocator: *Allocator, count: u64, alignment: u64) ?u64 {
        assert(count > 0);
        assert(std.math.isPowerOfTwo(alignment));
        assert(alignment >= page_bytes);
        assert(allocator.run_count <= allocator.runs.len);
        for (allocator.runs[0..allocator.run_count], 0..) |run, index| {
            const base = std.mem.alignForward(u64, run.base, alignment);
            const skipped = (base - run.base) / page_bytes;
            if (skipped > run.pages or run.pages - skipped < count) continue;
            const after = run.pages - skipped - count;
            // Take [base, base + count pages) out of the run: up to two pieces remain.
            if (skipped == 0) {
                allocator.runs[index] = .{ .base = base + count * page_bytes, .pages = after };
                if (after == 0) allocator.remove(index);
            } else {
                allocator.runs[index].pages = skipped;
                const rest: Run = .{ .base = base + count * page_bytes, .pages = after };
                if (after > 0 and !allocator.insert(index + 1, rest)) {
                    allocator.runs[index].pages = run.pages; // No room to split: leave it whole.
                    continue;
                }
            }
            assert(base % alignment == 0);
            assert(base + count * page_bytes <= allocator.range.end);
            return base;
        }
        return null;
    }

    pub fn allocate(allocator: *Allocator, count: u64) ?u64 {
        return allocator.allocate_aligned(count, page_bytes);
    }

    /// Returns pages, clearing them. The pages must have come from this allocator.
    pub fn free(allocator: *Allocator, base: u64, count: u64) void {
        assert(count > 0);
        assert(allocator.owns(base, count * page_bytes));
        const bytes: [*]u8 = @ptrFromInt(base);
        @memset(bytes[0 .. count * page_bytes], 0);
        allocator.free_clean(base, count);
    }

    /// Returns pages the caller has already cleared (or never wrote).
    pub fn free_clean(allocator: *Allocator, base: u64, count: u64) void {
        assert(base % page_bytes == 0);
        assert(count > 0);
        const end = base + count * page_bytes;
        assert(base >= allocator.range.base);
        assert(end <= allocator.range.end);
        var index: usize = 0;
        while (index < allocator.run_count and allocator.runs[index].base < base) : (index += 1) {}
        // No double free: the pages overlap neither neighbouring free run.
        if (index < allocator.run_count) assert(end <= allocator.runs[index].base);
        if (index > 0) assert(allocator.runs[index - 1].end() <= base);
        const merges_before = index > 0 and allocator.runs[index - 1].end() == base;
        const merges_after = index < allocator.run_count and end == allocator.runs[index].base;
        if (merges_before and merges_after) {
            allocator.runs[index - 1].pages += count + allocator.runs[index].pages;
            allocator.remove(index);
        } else if (merges_before) {
            allocator.runs[index - 1].pages += count;
        } else if (merges_after) {
            allocator.runs[index].base = base;
            allocator.runs[index].pages += count;
        } else if (!allocator.insert(index, .{ .base = base, .pages = count })) {
            // The list is full: the pages leak rather than corrupt it. Bounded, and visible in
            // free_bytes().
            return;
        }
    }

    pub fn free_bytes(allocator: *const Allocator) u64 {
        var total: u64 = 0;
        for (allocator.runs[0..allocator.run_count]) |run| total += run.pages * page_bytes;
        return total;
    }

    /// Whether [address, address + bytes) lies in the memory this allocator manages.
    pub fn owns(allocator: *const Allocator, address: u64, bytes: u64) bool {
        if (address < allocator.range.base or address >= allocator.range.end) return false;
        return bytes <= allocator.range.end - address;
    }

    fn remove(allocator: *Allocator, index: usize) void {
        assert(allocator.run_count > 0);
        assert(index < allocator.run_count);
        const runs = allocator.runs[0..allocator.run_count];
        std.mem.copyForwards(Run, runs[index .. runs.len - 1], runs[index + 1 ..]);
        allocator.run_count -= 1;
    }

    fn insert(allocator: *Allocator, index: usize, run: Run) bool {
        assert(index <= allocator.run_count);
        assert(run.pages > 0);
        if (allocator.run_count == allocator.runs.len) return false;
        const runs = allocator.runs[0 .. allocator.run_count + 1];
        std.mem.copyBackwards(Run, runs[index + 1 ..], runs[index .. runs.len - 1]);
        allocator.runs[index] = run;
        allocator.run_count += 1;
        return true;
    }
};

extern const __kernel_start: u8;
extern const __kernel_end: u8;

/// The kernel's page allocator.
pub var global: Allocator = .{};

/// Takes the largest free range at or above 1 MiB and below ram_limit_bytes; sets up the checks
/// of ABI pointers against the same map (address_space.zig).
pub fn init(map: *const MemoryMap) error{NoFreeMemory}!Range {
    address_space.init(map);
    const kernel: Range = .{
        .base = @intFromPtr(&__kernel_start),
        .end = @intFromPtr(&__kernel_end),
    };
    const range = map.largest_free_range(0x10_0000, constants.ram_limit_bytes, kernel) orelse
        return error.NoFreeMemory;
    const base = std.mem.alignForward(u64, range.base, page_bytes);
    const end = std.mem.alignBackward(u64, range.end, page_bytes);
    if (base >= end) return error.NoFreeMemory;
    assert(base >= 0x10_0000);
    global.init(.{ .base = base, .end = end });
    return .{ .base = base, .end = end };
}

/// `count` zeroed, contiguous pages from the kernel's allocator, or null.
pub fn allocate(count: u64) ?[*]align(4096) u8 {
    const address = global.allocate(count) orelse return null;
    return @ptrFromInt(address);
}

pub fn free_bytes() u64 {
    return global.free_bytes();
}

const testing = std.testing;

test "allocate, free, coalesce, align" {
    const memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(4096), 64 * page_bytes);
    defer testing.allocator.free(memory);
    @memset(memory, 0);
    const base = @intFromPtr(memory.ptr);
    var allocator: Allocator = .{};
    allocator.init(.{ .base = base, .end = base + 64 * page_bytes });
    const a = allocator.allocate(3).?;
    const b = allocator.allocate(5).?;
    try testing.expectEqual(base, a);
    try testing.expectEqual(base + 3 * page_bytes, b);
    const bytes: [*]u8 = @ptrFromInt(a);
    bytes[100] = 7; // Dirty: free must clear it.
    allocator.free(a, 3);
    try testing.expectEqual(@as(u8, 0), bytes[100]);
    try testing.expectEqual(@as(u64, 59 * page_bytes), allocator.free_bytes());
    allocator.free(b, 5);
    try testing.expectEqual(@as(u32, 1), allocator.run_count); // Coalesced back into one run.
    const aligned = allocator.allocate_aligned(2, 8 * page_bytes).?;
    try testing.expectEqual(@as(u64, 0), aligned % (8 * page_bytes));
    try testing.expect(allocator.allocate(64) == null);
    allocator.free(aligned, 2);
    try testing.expectEqual(@as(u64, 64 * page_bytes), allocator.free_bytes());
    try testing.expect(allocator.owns(base, 64 * page_bytes));
    try testing.expect(!allocator.owns(base + 64 * page_bytes, 1));
    // No overflow on foreign addresses.
    try testing.expect(!allocator.owns(0xffff_ffff_ffff_0000, 8));
}
