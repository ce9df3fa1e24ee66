//! What the kernel may touch on a workload's behalf: the checks behind every ABI pointer.
//!
//! A range [address, address + bytes) is readable when it lies inside one usable RAM range of
//! the memory map (not page 0, not device memory, not the unbacked space past the end of RAM)
//! and every page of it is mapped present and user-accessible at every level of the live page
//! tables (so the task stacks' guard pages, or any page unmapped later, are refused), and none
//! of it is in a range the kernel keeps to itself: the kernel image (code, data, its stacks and
//! boot page tables) and the task stacks' page tables, so a workload cannot make the kernel read
//! or write kernel data for it. Writable adds the write bit at every level. The kernel proper
//! runs in ring 3, so it reads and writes with user rights: the bits checked are those its own
//! access would need. (The kernel's heap shares the page allocator with the workload's memory
//! and is not told apart: a workload can name it, as it can read and write it directly.)
//!
//! Cost: the pages (4 KiB or 2 MiB) found allowed are remembered in a small cache, so a range
//! inside one of them (the usual case: a buffer on a task's stack or in the workload's data,
//! checked again and again) costs a few compares. Otherwise, one walk of the page tables per
//! mapping the range touches (RAM is mapped with 2 MiB pages; only the first 2 MiB and the
//! task-stack region use 4 KiB pages), bounded by the range's pages. Mappings change only at
//! start (task_stacks.zig), which calls `protect` after, and that empties the cache. Pure code
//! apart from `init`: host-tested with page tables built in a test buffer.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const MemoryMap = @import("../boot/memory_map.zig").MemoryMap;
const Range = @import("../boot/memory_map.zig").Range;

pub const page_bytes: u64 = 4096;

const entry_present: u64 = 1 << 0;
const entry_write: u64 = 1 << 1;
const entry_user: u64 = 1 << 2;
const entry_large: u64 = 1 << 7;
const entry_address_mask: u64 = 0x000f_ffff_ffff_f000;
const protected_max = 8;
const cache_entries = 8;

pub const Access = enum { read, write };

/// A whole page (4 KiB, 2 MiB or 1 GiB) as the page tables map it.
const Mapping = struct { bytes: u64, writable: bool };

/// A page found allowed: in RAM, outside every protected range, mapped present and user.
const Granule = struct { base: u64 = 0, end: u64 = 0, writable: bool = false };

pub const AddressSpace = struct {
    /// The PML4's address (identity-mapped, so also where it can be read).
    root: u64 = 0,
    /// Usable RAM, clipped to [page_bytes, ram_limit_bytes), sorted and merged.
    ram: [constants.memory_map_entries_max]Range = undefined,
    ram_count: u32 = 0,
    /// Ranges the kernel never reads or writes for a workload.
    protected: [protected_max]Range = undefined,
    protected_count: u32 = 0,
    /// Recently allowed pages, most recently used first; empty ones have base == end.
    cache: [cache_entries]Granule = [_]Granule{.{}} ** cache_entries,

    /// Takes the RAM ranges of a sorted memory map.
    pub fn init(space: *AddressSpace, root: u64, map: *const MemoryMap) void {
        assert(map.is_sorted());
        assert(root != 0);
        assert(root % page_bytes == 0);
        space.* = .{ .root = root };
        for (map.slice()) |region| {
            if (region.kind != .ram) continue;
            const base = @max(region.base, page_bytes);
            const end = @min(region.end(), constants.ram_limit_bytes);
            if (base >= end) continue;
            if (space.ram_count > 0 and base <= space.ram[space.ram_count - 1].end) {
                const last = &space.ram[space.ram_count - 1];
                last.end = @max(last.end, end);
                continue;
            }
            assert(space.ram_count < space.ram.len);
            space.ram[space.ram_count] = .{ .base = base, .end = end };
            space.ram_count += 1;
        }
        assert(space.ram_count <= space.ram.len);
    }

    /// Keeps the kernel from reading or writing [range.base, range.end) for a workload from now
    /// on. Also empties the cache: call it after changing a mapping.
    pub fn protect(space: *AddressSpace, range: Range) void {
        assert(range.base < range.end);
        assert(space.protected_count < space.protected.len);
        space.protected[space.protected_count] = range;
        space.protected_count += 1;
        space.cache = [_]Granule{.{}} ** cache_entries;
    }

    /// Whether the kernel may access [address, address + bytes) for a workload. A zero-length
    /// range is never touched and always allowed.
    pub fn allows(space: *AddressSpace, address: u64, bytes: u64, access: Access) bool {
        if (bytes == 0) return true;
        if (address > std.math.maxInt(u64) - bytes) return false;
        const end = address + bytes;
        // By pointer: iterating by value copies the whole cache first. A hit moves to the
        // front, so two tasks calling in turn hit entries 0 and 1 in a pattern the branch
        // predictor keeps.
        for (&space.cache, 0..) |*granule, index| {
            if (address >= granule.base and end <= granule.end) {
                if (access == .write and !granule.writable) break;
                if (index > 0) std.mem.swap(Granule, granule, &space.cache[0]);
                return true;
            }
        }
        return space.allows_uncached(address, end, access);
    }

    /// Out of line, so the cached path stays a few instructions.
    noinline fn allows_uncached(space: *AddressSpace, address: u64, end: u64, access: Access) bool {
        assert(address < end);
        if (!space.in_ram(address, end)) return false;
        if (space.in_protected(address, end)) return false;
        return space.mapped(address, end, access);
    }

    fn in_protected(space: *const AddressSpace, address: u64, end: u64) bool {
        assert(address < end);
        for (space.protected[0..space.protected_count]) |range| {
            if (address < range.end and end > range.base) return true;
        }
        return false;
    }

    fn in_ram(space: *const AddressSpace, address: u64, end: u64) bool {
        assert(address < end);
        for (space.ram[0..space.ram_count]) |range| {
            if (address >= range.base and end <= range.end) return true;
        }
        return false;
    }

    /// Every page of [address, end) mapped with `access` (end ≤ ram_limit_bytes, checked first,
    /// bounds the walk).
    fn mapped(space: *AddressSpace, address: u64, end: u64, access: Access) bool {
        assert(address < end);
        assert(end <= constants.ram_limit_bytes);
        const steps_max = (end - address) / page_bytes + 2;
        var page = address & ~(page_bytes - 1);
        var steps: u64 = 0;
        while (page < end) : (steps += 1) {
            assert(steps < steps_max);
            const mapping = space.mapping_of(page) orelse return false;
            if (access == .write and !mapping.writable) return false;
            const base = std.mem.alignBackward(u64, page, mapping.bytes);
            space.remember(base, base + mapping.bytes, mapping.writable);
            page = base + mapping.bytes;
        }
        return true;
    }

    /// Caches [base, end) if the whole page is allowed (not only the part just checked).
    fn remember(space: *AddressSpace, base: u64, end: u64, writable: bool) void {
        assert(base < end);
        if (!space.in_ram(base, end) or space.in_protected(base, end)) return;
        // Newest first; the oldest (last) entry drops out.
        std.mem.copyBackwards(Granule, space.cache[1..], space.cache[0 .. cache_entries - 1]);
        space.cache[0] = .{ .base = base, .end = end, .writable = writable };
    }

    /// How the page holding `address` is mapped, if present and user-accessible at every level
    /// (writable: the write bit at every level too).
    fn mapping_of(space: *const AddressSpace, address: u64) ?Mapping {
        var table: u64 = space.root;
        var shift: u6 = 39;
        var writable = true;
        var level: u32 = 0;
        while (level < 4) : (level += 1) {
            assert(table % page_bytes == 0);
            assert(shift >= 12);
            const entries: *const [512]u64 = @ptrFromInt(table);
            const entry = entries[@intCast((address >> shift) & 511)];
            if (entry & entry_present == 0 or entry & entry_user == 0) return null;
            if (entry & entry_write == 0) writable = false;
            // A large page at the PDPT (1 GiB) or page-directory (2 MiB) level ends the walk.
            const large = (shift == 30 or shift == 21) and entry & entry_large != 0;
            if (shift == 12 or large) {
                return .{ .bytes = @as(u64, 1) << shift, .writable = writable };
            }
            table = entry & entry_address_mask;
            shift -= 9;
        }
        unreachable;
    }
};

extern const __kernel_start: u8;
extern const __kernel_end: u8;
extern var boot_pml4: [512]u64;

/// The kernel's view, set up once the memory map is known (pages.init).
pub var global: AddressSpace = .{};

pub fn init(map: *const MemoryMap) void {
    global.init(@intFromPtr(&boot_pml4), map);
    global.protect(.{ .base = @intFromPtr(&__kernel_start), .end = @intFromPtr(&__kernel_end) });
}

const testing = std.testing;

/// Four page-table pages: PML4 -> PDPT -> PD, where PD[0] is a 4 KiB table with page 0 and
/// page 5 unmapped and page 6 read-only, PD[1] a 2 MiB page, PD[2] a read-only 2 MiB page, and
/// PD[3] not present.
const TestTables = struct {
    pages: [4][512]u64 align(4096),

    fn build(tables: *TestTables) u64 {
        @memset(std.mem.sliceAsBytes(&tables.pages), 0);
        const base = @intFromPtr(&tables.pages);
        const rwu = entry_present | entry_write | entry_user;
        tables.pages[0][0] = (base + 1 * page_bytes) | rwu;
        tables.pages[1][0] = (base + 2 * page_bytes) | rwu;
        tables.pages[2][0] = (base + 3 * page_bytes) | rwu;
        tables.pages[2][1] = (2 << 20) | rwu | entry_large;
        tables.pages[2][2] = (4 << 20) | entry_present | entry_user | entry_large;
        for (&tables.pages[3], 0..) |*entry, index| entry.* = (index * page_bytes) | rwu;
        tables.pages[3][0] = 0;
        tables.pages[3][5] = 0;
        tables.pages[3][6] &= ~entry_write;
        return base;
    }
};

fn test_space(tables: *TestTables) AddressSpace {
    var map: MemoryMap = .{};
    map.add(0, 0x9fc00, 1);
    map.add(0x9fc00, 0x400, 2);
    map.add(0x10_0000, (7 << 20) - 0x10_0000, 1);
    map.sort();
    var space: AddressSpace = .{};
    space.init(tables.build(), &map);
    return space;
}

test "guard pages, page 0 and ranges straddling into them are refused" {
    var tables: TestTables = undefined;
    var space = test_space(&tables);
    try testing.expect(space.allows(4 * page_bytes, page_bytes, .write));
    try testing.expect(space.allows(5 * page_bytes - 1, 1, .write)); // Last byte before the hole.
    try testing.expect(!space.allows(5 * page_bytes - 1, 2, .read)); // Straddles into it.
    try testing.expect(!space.allows(5 * page_bytes, 1, .read));
    try testing.expect(!space.allows(6 * page_bytes - 1, 1, .read)); // Last byte of the hole.
    try testing.expect(!space.allows(4 * page_bytes, 3 * page_bytes, .read)); // Spans it.
    try testing.expect(!space.allows(0, 1, .read));
    try testing.expect(!space.allows(page_bytes - 1, 2, .read));
    try testing.expect(space.allows(page_bytes, 1, .read)); // First byte after page 0.
    try testing.expect(space.allows(0, 0, .write)); // Nothing to touch.
}

test "write access needs the write bit; read-only mappings stay readable" {
    var tables: TestTables = undefined;
    var space = test_space(&tables);
    try testing.expect(space.allows(6 * page_bytes, 8, .read));
    try testing.expect(!space.allows(6 * page_bytes, 8, .write));
    try testing.expect(space.allows(4 << 20, 64, .read));
    try testing.expect(!space.allows((4 << 20) - 8, 16, .write));
    try testing.expect(space.allows(0x10_0000, (3 << 20), .write)); // 4 KiB then 2 MiB pages.
}

test "device memory, unbacked space, unmapped tables and overflow are refused" {
    var tables: TestTables = undefined;
    var space = test_space(&tables);
    try testing.expect(!space.allows(0x9fc00, 16, .read)); // Reserved, not RAM.
    try testing.expect(!space.allows(0x9fb00, 0x200, .read)); // RAM running into it.
    try testing.expect(!space.allows(6 << 20, 16, .read)); // RAM, but PD[3] is not present.
    try testing.expect(!space.allows(7 << 20, 16, .read)); // Past the end of RAM.
    try testing.expect(!space.allows(3 << 30, 16, .read)); // Device memory.
    try testing.expect(!space.allows(0x10_0000, std.math.maxInt(u64), .read));
    try testing.expect(!space.allows(std.math.maxInt(u64) - 15, 32, .read));
    try testing.expect(!space.allows(0xffff_8000_0000_0000, 8, .read));
    space.protect(.{ .base = 0x20_0000, .end = 0x21_0000 });
    try testing.expect(!space.allows(0x20_ff00, 0x200, .read)); // Out of the protected range.
    try testing.expect(!space.allows(0x20_ff00, 0x200, .write));
    try testing.expect(!space.allows(0x1f_ff00, 0x101, .read)); // Into its first byte.
    try testing.expect(space.allows(0x1f_ff00, 0x100, .write)); // Just below it.
    try testing.expect(space.allows(0x21_0000, 0x200, .write)); // Just past it.
}

test "the cache answers only for whole allowed pages, and is emptied by protect" {
    var tables: TestTables = undefined;
    var space = test_space(&tables);
    try testing.expect(space.allows(4 * page_bytes + 8, 8, .write)); // Caches page 4.
    try testing.expect(space.allows(4 * page_bytes + 100, 8, .write)); // A hit.
    try testing.expect(!space.allows(5 * page_bytes - 1, 2, .read)); // Still not the hole.
    try testing.expect(space.allows(6 * page_bytes, 8, .read)); // Caches read-only page 6.
    try testing.expect(!space.allows(6 * page_bytes + 8, 8, .write)); // Not as writable.
    try testing.expect(space.allows(0x9f000, 8, .read)); // Page 0x9f: not all RAM, not cached.
    for (space.cache) |granule| try testing.expect(granule.base != 0x9f000);
    try testing.expect(!space.allows(0x9fb00, 0x200, .read));
    try testing.expect(space.allows(3 << 20, 8, .write)); // Caches the 2 MiB page.
    space.protect(.{ .base = 3 << 20, .end = (3 << 20) + page_bytes });
    try testing.expect(!space.allows(3 << 20, 8, .write));
    try testing.expect(space.allows((3 << 20) + page_bytes, 8, .write)); // Not cached: walked.
}
