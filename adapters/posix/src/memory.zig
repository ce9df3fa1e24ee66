//! Memory: mmap (anonymous, and private read-only file mappings, which are a copy) over
//! mem.alloc, munmap over mem.free, mremap, brk (refuses to grow, so musl's mallocng takes its
//! memory from mmap), madvise/mprotect (no-ops: every page stays readable and writable).
//! mem.free needs each allocation's exact size, so the layer tracks its regions (`Regions`,
//! pure and host-tested). A partial munmap is kept as a hole in its region (merged, so pages
//! unmapped twice count once); the region is freed when its holes cover it.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const files = @import("files.zig");
const linux = @import("linux.zig");
const tmpfs = @import("tmpfs.zig");
const uk = @import("uk.zig");

const Error = errno.Error;
const fail = errno.fail;

const page_bytes = constants.page_bytes;

/// A part of a region the program unmapped: [start, end), bytes from the region's address.
pub const Hole = struct { start: u64, end: u64 };

pub const Region = struct {
    address: u64,
    bytes: u64,
    /// The parts unmapped so far: disjoint and not touching, so that pages unmapped twice count
    /// once (a count let a region be freed while some of it was still in use).
    holes: [constants.region_holes_max]Hole = undefined,
    hole_count: u32 = 0,

    pub fn unmapped_bytes(region: *const Region) u64 {
        var total: u64 = 0;
        for (region.holes[0..region.hole_count]) |hole| total += hole.end - hole.start;
        assert(total <= region.bytes);
        return total;
    }

    /// Adds [start, end) to the holes, merged with every hole it overlaps or touches.
    fn punch(region: *Region, start: u64, end: u64) error{Fragmented}!void {
        assert(start < end and end <= region.bytes);
        var merged: Hole = .{ .start = start, .end = end };
        var kept: [constants.region_holes_max]Hole = undefined;
        var count: u32 = 0;
        for (region.holes[0..region.hole_count]) |hole| {
            if (hole.end < merged.start or hole.start > merged.end) {
                kept[count] = hole;
                count += 1;
                continue;
            }
            merged.start = @min(merged.start, hole.start);
            merged.end = @max(merged.end, hole.end);
        }
        if (count == kept.len) return error.Fragmented;
        kept[count] = merged;
        region.holes = kept;
        region.hole_count = count + 1;
    }

    /// Takes [start, end) out of the holes: MAP_FIXED mapped it again.
    fn fill(region: *Region, start: u64, end: u64) error{Fragmented}!void {
        assert(start < end and end <= region.bytes);
        var kept: [constants.region_holes_max]Hole = undefined;
        var count: u32 = 0;
        for (region.holes[0..region.hole_count]) |hole| {
            const parts = [2]Hole{
                .{ .start = hole.start, .end = @min(hole.end, start) },
                .{ .start = @max(hole.start, end), .end = hole.end },
            };
            for (parts) |part| {
                if (part.start >= part.end) continue;
                if (count == kept.len) return error.Fragmented;
                kept[count] = part;
                count += 1;
            }
        }
        region.holes = kept;
        region.hole_count = count;
    }
};

pub const Regions = struct {
    list: [constants.regions_max]Region = undefined,
    count: u32 = 0,

    pub fn add(regions: *Regions, address: u64, bytes: u64) error{Full}!void {
        assert(bytes > 0 and bytes % page_bytes == 0);
        if (regions.count == regions.list.len) return error.Full;
        regions.list[regions.count] = .{ .address = address, .bytes = bytes };
        regions.count += 1;
    }

    /// The region holding `address`.
    pub fn find(regions: *Regions, address: u64) ?*Region {
        for (regions.list[0..regions.count]) |*region| {
            if (address >= region.address and address - region.address < region.bytes) {
                return region;
            }
        }
        return null;
    }

    pub fn remove(regions: *Regions, region: *Region) void {
        const index = (@intFromPtr(region) - @intFromPtr(&regions.list)) / @sizeOf(Region);
        assert(index < regions.count);
        regions.count -= 1;
        regions.list[index] = regions.list[regions.count];
    }

    /// Accounts munmap(address, bytes); calls `free(region)` for each region wholly unmapped
    /// now, and removes it. Fragmented: a region would need more than region_holes_max holes
    /// (the regions before it in the table are accounted already).
    pub fn unmap(
        regions: *Regions,
        address: u64,
        bytes: u64,
        free: *const fn (Region) void,
    ) error{Fragmented}!void {
        const end = address +| bytes;
        var index: u32 = 0;
        while (index < regions.count) {
            const region = &regions.list[index];
            const overlap_start = @max(region.address, address);
            const overlap_end = @min(region.address + region.bytes, end);
            if (overlap_start >= overlap_end) {
                index += 1;
                continue;
            }
            const offset = region.address;
            try region.punch(overlap_start - offset, overlap_end - offset);
            if (region.unmapped_bytes() < region.bytes) {
                index += 1;
                continue;
            }
            free(region.*);
            regions.remove(region); // The last entry moves to `index`: look at it next.
        }
    }
};

var mapped: Regions = .{};
/// What brk reports: a break that never moves.
var break_address: u64 = 0;

fn free_region(region: Region) void {
    _ = uk.table.mem_free(region.address, region.bytes);
}

/// Zeroed pages from mem.alloc, tracked; on no_memory the idle cached files go first.
fn allocate(bytes: u64) Error!u64 {
    var result = uk.table.mem_alloc(bytes, page_bytes);
    if (errno.is(result, .no_memory)) {
        files.evict_idle();
        result = uk.table.mem_alloc(bytes, page_bytes);
    }
    if (result < 0) return error.NOMEM;
    const address: u64 = @intCast(result);
    mapped.add(address, bytes) catch {
        _ = uk.table.mem_free(address, bytes);
        return error.NOMEM;
    };
    return address;
}

/// `length` rounded up to whole pages; null when that passes 2^64 (a C caller's (size_t)-1:
/// Linux's PAGE_ALIGN gives 0, then EINVAL or ENOMEM).
pub fn pages_of(length: u64) ?u64 {
    if (length > std.math.maxInt(u64) - (page_bytes - 1)) return null;
    return std.mem.alignForward(u64, length, page_bytes);
}

const map_shared: u32 = 0x1;
const map_fixed: u32 = 0x10;
const map_anonymous: u32 = 0x20;
const map_fixed_noreplace: u32 = 0x100000;
const prot_write: u32 = 0x2;
const mremap_maymove: u32 = 0x1;

/// A private file mapping's contents: the file from `offset`, the rest zero.
fn map_file(address: u64, bytes: u64, fd_number: i32, offset: u64) Error!void {
    const description = uk.fds.get(fd_number) catch return error.BADF;
    const slot = switch (description.object) {
        .file => |file| file.file,
        .memory => |file| {
            if (!file.readable) return error.ACCES; // opened O_WRONLY
            // A copy of the /tmp file (MAP_PRIVATE; a shared mapping would not see writes).
            const memory: [*]u8 = @ptrFromInt(address);
            _ = tmpfs.read_at(file.node, memory[0..bytes], offset);
            return;
        },
        else => return error.ACCES,
    };
    const memory: [*]u8 = @ptrFromInt(address);
    var filled: u64 = 0;
    var rounds: u64 = 0;
    while (filled < bytes) : (rounds += 1) {
        assert(rounds <= bytes);
        const count = try files.read_at(slot, memory[filled..bytes], offset + filled);
        if (count == 0) break;
        filled += count;
    }
}

fn map(
    address_hint: u64,
    length: u64,
    protection: u32,
    flags: u32,
    fd_number: i32,
    offset: u64,
) Error!u64 {
    if (length == 0 or offset % page_bytes != 0) return error.INVAL;
    const bytes = pages_of(length) orelse return error.NOMEM;
    const anonymous = flags & map_anonymous != 0;
    if (!anonymous and flags & map_shared != 0 and protection & prot_write != 0) {
        return error.ACCES; // A shared writable mapping of a read-only file.
    }
    if (flags & (map_fixed | map_fixed_noreplace) != 0) {
        // Only inside memory the program already mapped: the layer cannot place pages.
        if (address_hint % page_bytes != 0) return error.INVAL; // as Linux
        const region = mapped.find(address_hint) orelse return error.NOMEM;
        if (flags & map_fixed_noreplace != 0) return error.EXIST;
        if (bytes > region.address + region.bytes - address_hint) return error.NOMEM;
        const start = address_hint - region.address;
        region.fill(start, start + bytes) catch return error.NOMEM;
        const memory: [*]u8 = @ptrFromInt(address_hint);
        @memset(memory[0..bytes], 0);
        if (!anonymous) try map_file(address_hint, bytes, fd_number, offset);
        return address_hint;
    }
    const address = try allocate(bytes);
    if (!anonymous) {
        map_file(address, bytes, fd_number, offset) catch |e| {
            // A region just made has no holes: one covering it all frees it.
            mapped.unmap(address, bytes, &free_region) catch unreachable;
            return e;
        };
    }
    return address;
}

pub fn sys_mmap(a: linux.Args) i64 {
    const flags: u32 = @truncate(a[3]);
    const address = map(a[0], a[1], @truncate(a[2]), flags, uk.int(a[4]), a[5]) catch |e|
        return fail(e);
    return @intCast(address);
}

pub fn sys_munmap(a: linux.Args) i64 {
    if (a[0] % page_bytes != 0 or a[1] == 0) return fail(error.INVAL);
    const bytes = pages_of(a[1]) orelse return fail(error.INVAL);
    mapped.unmap(a[0], bytes, &free_region) catch return fail(error.NOMEM);
    return 0;
}

fn remap(old: u64, old_length: u64, new_length: u64, flags: u32) Error!u64 {
    if (old % page_bytes != 0 or new_length == 0 or flags & ~mremap_maymove != 0) {
        return error.INVAL;
    }
    const region = mapped.find(old) orelse return error.FAULT;
    const old_bytes = pages_of(old_length) orelse return error.INVAL;
    const new_bytes = pages_of(new_length) orelse return error.INVAL;
    if (old_bytes > region.address + region.bytes - old) return error.FAULT;
    if (new_bytes <= old_bytes) {
        // Shrinking in place: the tail counts as unmapped.
        if (new_bytes < old_bytes) {
            const tail = old_bytes - new_bytes;
            mapped.unmap(old + new_bytes, tail, &free_region) catch return error.NOMEM;
        }
        return old;
    }
    if (flags & mremap_maymove == 0) return error.NOMEM;
    const address = try allocate(new_bytes);
    const source: [*]const u8 = @ptrFromInt(old);
    const destination: [*]u8 = @ptrFromInt(address);
    @memcpy(destination[0..old_bytes], source[0..old_bytes]);
    mapped.unmap(old, old_bytes, &free_region) catch {
        mapped.unmap(address, new_bytes, &free_region) catch unreachable; // no holes yet
        return error.NOMEM;
    };
    return address;
}

pub fn sys_mremap(a: linux.Args) i64 {
    const address = remap(a[0], a[1], a[2], @truncate(a[3])) catch |e| return fail(e);
    return @intCast(address);
}

var break_anchor: u8 align(page_bytes) = 0;

/// brk: the break never moves (mallocng then maps its memory instead).
pub fn sys_brk(a: linux.Args) i64 {
    _ = a;
    if (break_address == 0) break_address = @intFromPtr(&break_anchor);
    return @intCast(break_address);
}

/// madvise, mprotect, msync, mlock, munlock: every mapped page stays readable and writable
/// and resident.
pub fn sys_nothing(a: linux.Args) i64 {
    _ = a;
    return 0;
}

var test_freed: u64 = 0;

fn test_free(region: Region) void {
    test_freed += region.bytes;
}

test "a region is freed once all of it has been unmapped, in one call or in parts" {
    var table: Regions = .{};
    try table.add(0x10000, 4 * page_bytes);
    try table.add(0x40000, 2 * page_bytes);
    test_freed = 0;
    try table.unmap(0x10000, page_bytes, &test_free);
    try std.testing.expectEqual(@as(u64, 0), test_freed);
    try std.testing.expectEqual(@as(u32, 2), table.count);
    try table.unmap(0x10000 + page_bytes, 3 * page_bytes, &test_free);
    try std.testing.expectEqual(4 * page_bytes, test_freed);
    try std.testing.expectEqual(@as(u32, 1), table.count);
    try std.testing.expect(table.find(0x40000 + page_bytes) != null);
    try std.testing.expect(table.find(0x40000 + 2 * page_bytes) == null);
    try table.unmap(0x0, 0x100000, &test_free); // spans everything
    try std.testing.expectEqual(6 * page_bytes, test_freed);
    try std.testing.expectEqual(@as(u32, 0), table.count);
}

test "pages unmapped twice count once: the region stays until all of it is unmapped" {
    var table: Regions = .{};
    try table.add(0x10000, 4 * page_bytes);
    test_freed = 0;
    try table.unmap(0x10000 + page_bytes, page_bytes, &test_free);
    try table.unmap(0x10000 + page_bytes, page_bytes, &test_free); // as Linux allows
    try table.unmap(0x10000 + 2 * page_bytes, 2 * page_bytes, &test_free);
    // Page 0 is still mapped (a count of 4 pages unmapped freed it here).
    try std.testing.expectEqual(@as(u64, 0), test_freed);
    try std.testing.expectEqual(@as(u64, 3 * page_bytes), table.list[0].unmapped_bytes());
    try table.unmap(0x10000, page_bytes, &test_free);
    try std.testing.expectEqual(4 * page_bytes, test_freed);
    try std.testing.expectEqual(@as(u32, 0), table.count);
}

test "a hole mapped again (MAP_FIXED) is no longer unmapped; holes are bounded" {
    var table: Regions = .{};
    try table.add(0x10000, 16 * page_bytes);
    test_freed = 0;
    try table.unmap(0x10000 + page_bytes, page_bytes, &test_free);
    try table.list[0].fill(page_bytes, 2 * page_bytes);
    try table.unmap(0x10000, page_bytes, &test_free);
    try table.unmap(0x10000 + 2 * page_bytes, 14 * page_bytes, &test_free);
    try std.testing.expectEqual(@as(u64, 0), test_freed);
    try std.testing.expectEqual(@as(u32, 2), table.list[0].hole_count);
    try table.list[0].fill(0, 16 * page_bytes);
    for ([_]u64{ 1, 3, 5, 7 }) |page| {
        try table.unmap(0x10000 + page * page_bytes, page_bytes, &test_free);
    }
    try std.testing.expectEqual(@as(u32, 4), table.list[0].hole_count);
    const fifth = table.unmap(0x10000 + 9 * page_bytes, page_bytes, &test_free);
    try std.testing.expectError(error.Fragmented, fifth);
    const split = table.list[0].fill(page_bytes + 1, page_bytes + 2); // a fifth hole
    try std.testing.expectError(error.Fragmented, split);
    try table.unmap(0x10000 + 2 * page_bytes, page_bytes, &test_free); // merges 1, 2 and 3
    try std.testing.expectEqual(@as(u32, 3), table.list[0].hole_count);
    try table.unmap(0x10000, 16 * page_bytes, &test_free);
    try std.testing.expectEqual(16 * page_bytes, test_freed);
}

test "lengths round up to pages; past 2^64 they are refused, not an overflow" {
    try std.testing.expectEqual(@as(?u64, page_bytes), pages_of(1));
    try std.testing.expectEqual(@as(?u64, 2 * page_bytes), pages_of(page_bytes + 1));
    try std.testing.expectEqual(@as(?u64, null), pages_of(std.math.maxInt(u64)));
    const last = std.math.maxInt(u64) - (page_bytes - 1);
    try std.testing.expectEqual(@as(?u64, last), pages_of(last));
    try std.testing.expectEqual(@as(?u64, null), pages_of(last + 1));
}

test "the region table is bounded" {
    var table: Regions = .{};
    var index: u64 = 0;
    while (index < constants.regions_max) : (index += 1) {
        try table.add(0x1000_0000 + index * page_bytes, page_bytes);
    }
    try std.testing.expectError(error.Full, table.add(0x9000_0000, page_bytes));
}
