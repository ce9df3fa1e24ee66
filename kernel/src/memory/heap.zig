//! A general-purpose allocator on top of the page allocator: power-of-two size classes of 16 B
//! to 2 KiB carved from whole pages, and page runs for anything larger. Memory comes back zeroed
//! (free clears it). Two instances exist: one for the workload (`mem.alloc`), one for the
//! kernel's own structures, so misuse by a workload can never corrupt kernel data.
//!
//! A page's role is recorded in a byte per page (`page_class`), so `free` can check that an
//! address is a block of the size it claims before touching anything.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const pages = @import("pages.zig");

const class_bytes_min: u64 = 16;
const class_count = 8; // 16, 32, ..., 2048
const page_unused: u8 = 0;
const page_large_first: u8 = 0xf0;
const page_large_rest: u8 = 0xf1;

pub const Error = error{ OutOfRange, NoMemory, BadPointer };

const FreeBlock = struct { next: ?*FreeBlock };

pub const Heap = struct {
    pages: *pages.Allocator,
    free_lists: [class_count]?*FreeBlock = .{null} ** class_count,
    /// One byte per page of the page allocator's range: 0 unused, 1 + class for small blocks,
    /// page_large_first / page_large_rest for large allocations.
    page_class: []u8,
    range_base: u64,

    pub fn init(page_allocator: *pages.Allocator) ?Heap {
        const range = page_allocator.range;
        const page_count = (range.end - range.base) / pages.page_bytes;
        const metadata_pages = std.math.divCeil(u64, page_count, pages.page_bytes) catch
            unreachable;
        assert(page_count > 0);
        const metadata = page_allocator.allocate(metadata_pages) orelse return null;
        const bytes: [*]u8 = @ptrFromInt(metadata);
        return .{
            .pages = page_allocator,
            .page_class = bytes[0..page_count],
            .range_base = range.base,
        };
    }

    pub fn alloc(heap: *Heap, bytes: u64, alignment: u64) Error!u64 {
        if (bytes == 0 or bytes > constants.heap_allocation_bytes_max) return error.OutOfRange;
        if (alignment == 0 or !std.math.isPowerOfTwo(alignment)) return error.OutOfRange;
        if (alignment > pages.page_bytes) return error.OutOfRange;
        const size = @max(bytes, alignment, class_bytes_min);
        if (size > class_bytes_max) return heap.alloc_large(bytes);
        const class = class_of(size);
        if (heap.free_lists[class] == null) try heap.refill(class);
        const block = heap.free_lists[class].?;
        heap.free_lists[class] = block.next;
        block.next = null; // The block's memory is zero again.
        const address = @intFromPtr(block);
        assert(address % class_size(class) == 0);
        return address;
    }

    pub fn free(heap: *Heap, address: u64, bytes: u64) Error!void {
        if (bytes == 0 or bytes > constants.heap_allocation_bytes_max) return error.OutOfRange;
        if (!heap.pages.owns(address, @max(bytes, 1))) return error.BadPointer;
        const page = (address - heap.range_base) / pages.page_bytes;
        const role = heap.page_class[page];
        // Large: also small sizes whose 4 KiB alignment forced a page of their own.
        if (bytes > class_bytes_max or role == page_large_first) {
            if (role != page_large_first) return error.BadPointer;
            if (address % pages.page_bytes != 0) return error.BadPointer;
            const count = std.math.divCeil(u64, bytes, pages.page_bytes) catch unreachable;
            if (page + count > heap.page_class.len) return error.BadPointer;
            for (heap.page_class[page + 1 ..][0 .. count - 1]) |rest| {
                if (rest != page_large_rest) return error.BadPointer;
            }
            // The run must end where `bytes` says: freeing part of it would corrupt the rest.
            const run_end = page + count;
            if (run_end < heap.page_class.len and heap.page_class[run_end] == page_large_rest) {
                return error.BadPointer;
            }
            @memset(heap.page_class[page..][0..count], page_unused);
            heap.pages.free(address, count);
            return;
        }
        // Small: the page must hold blocks of exactly the class this size maps to (alignment
        // may have raised it: accept the class the address is aligned for).
        if (role == page_unused or role >= page_large_first) return error.BadPointer;
        const class = role - 1;
        if (class_size(class) < bytes or address % class_size(class) != 0) return error.BadPointer;
        // A double free would loop the free list: the block must not be on it already. Freed
        // blocks are zero but for their link, so only a zero-looking block needs the search.
        if (heap.on_free_list(class, address)) return error.BadPointer;
        const block: *FreeBlock = @ptrFromInt(address);
        @memset(@as([*]u8, @ptrFromInt(address))[0..class_size(class)], 0);
        block.next = heap.free_lists[class];
        heap.free_lists[class] = block;
    }

    /// Whether the block at `address` is on its class's free list (bounded by the blocks that
    /// exist: the list never holds more than the pages of the range could).
    fn on_free_list(heap: *const Heap, class: u8, address: u64) bool {
        const rest: [*]const u8 = @ptrFromInt(address + 8);
        // A live block that is not all zero past its first word cannot be a freed one.
        for (rest[0 .. class_size(class) - 8]) |byte| {
            if (byte != 0) return false;
        }
        var block = heap.free_lists[class];
        var steps: u64 = 0;
        const steps_max = heap.page_class.len * (pages.page_bytes / class_size(class));
        while (block) |free_block| : (steps += 1) {
            if (@intFromPtr(free_block) == address) return true;
            if (steps > steps_max) return false;
            block = free_block.next;
        }
        return false;
    }

    fn refill(heap: *Heap, class: u8) Error!void {
        assert(heap.free_lists[class] == null);
        const address = heap.pages.allocate(1) orelse return error.NoMemory;
        const page = (address - heap.range_base) / pages.page_bytes;
        assert(heap.page_class[page] == page_unused);
        heap.page_class[page] = class + 1;
        const size = class_size(class);
        assert(pages.page_bytes % size == 0);
        var offset: u64 = pages.page_bytes;
        // Thread the page's blocks onto the free list, last first, so the list runs upward
        // (page_bytes / size rounds).
        while (offset >= size) {
            offset -= size;
            const block: *FreeBlock = @ptrFromInt(address + offset);
            block.next = heap.free_lists[class];
            heap.free_lists[class] = block;
        }
    }

    fn alloc_large(heap: *Heap, bytes: u64) Error!u64 {
        const count = std.math.divCeil(u64, bytes, pages.page_bytes) catch unreachable;
        const address = heap.pages.allocate(count) orelse return error.NoMemory;
        assert(count > 0);
        const page = (address - heap.range_base) / pages.page_bytes;
        assert(heap.page_class[page] == page_unused);
        heap.page_class[page] = page_large_first;
        @memset(heap.page_class[page + 1 ..][0 .. count - 1], page_large_rest);
        return address;
    }
};

const class_bytes_max: u64 = class_bytes_min << (class_count - 1);

fn class_of(size: u64) u8 {
    assert(size >= class_bytes_min);
    assert(size <= class_bytes_max);
    const rounded = std.math.ceilPowerOfTwoAssert(u64, size);
    return @intCast(std.math.log2_int(u64, rounded) - std.math.log2_int(u64, class_bytes_min));
}

fn class_size(class: u8) u64 {
    assert(class < class_count);
    return class_bytes_min << @intCast(class);
}

const testing = std.testing;

test "small and large allocations round-trip, zeroed, and bad frees are refused" {
    const alignment = comptime std.mem.Alignment.fromByteUnits(4096);
    const memory = try testing.allocator.alignedAlloc(u8, alignment, 64 * pages.page_bytes);
    defer testing.allocator.free(memory);
    @memset(memory, 0);
    const base = @intFromPtr(memory.ptr);
    var page_allocator: pages.Allocator = .{};
    page_allocator.init(.{ .base = base, .end = base + 64 * pages.page_bytes });
    var heap = Heap.init(&page_allocator).?;

    const a = try heap.alloc(24, 8);
    const b = try heap.alloc(24, 8);
    try testing.expect(a != b);
    try testing.expectEqual(@as(u64, 0), a % 32);
    const bytes: [*]u8 = @ptrFromInt(a);
    bytes[5] = 9;
    try heap.free(a, 24);
    const again = try heap.alloc(20, 4);
    try testing.expectEqual(a, again); // Reused, and cleared.
    try testing.expectEqual(@as(u8, 0), @as([*]u8, @ptrFromInt(again))[5]);

    const big = try heap.alloc(10000, 16);
    try testing.expectEqual(@as(u64, 0), big % pages.page_bytes);
    try testing.expectError(error.BadPointer, heap.free(big + 8, 10000));
    try testing.expectError(error.BadPointer, heap.free(a + 4, 24)); // Misaligned.
    try testing.expectError(error.BadPointer, heap.free(0x10, 24)); // Not ours.
    try testing.expectError(error.BadPointer, heap.free(big, 24)); // Large page freed as small.
    try heap.free(big, 10000);
    const paged = try heap.alloc(100, 4096); // Small, but page-aligned: a page of its own.
    try heap.free(paged, 100);
    const twice = try heap.alloc(64, 8);
    try heap.free(twice, 64);
    try testing.expectError(error.BadPointer, heap.free(twice, 64)); // Double free refused.
    try testing.expectError(error.OutOfRange, heap.alloc(0, 8));
    try testing.expectError(error.OutOfRange, heap.alloc(8, 3));
    try testing.expectError(error.OutOfRange, heap.alloc(8, 8192));
    // 64 pages minus the metadata page.
    try testing.expectError(error.NoMemory, heap.alloc(63 * pages.page_bytes, 8));
    try testing.expectEqual(@as(u8, 0), class_of(16));
    try testing.expectEqual(@as(u8, 7), class_of(2048));
    try testing.expectEqual(@as(u8, 2), class_of(33));
}
