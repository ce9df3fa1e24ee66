//! The physical memory map, from PVH's hvm_start_info memmap or the zero page's e820 table.
//! VMMs hand it over unsorted (Firecracker) and with empty trailing entries (QEMU), so entries
//! are filtered and sorted here. Pure code, host-tested.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");

pub const Kind = enum(u32) {
    ram = 1,
    reserved = 2,
    acpi_reclaimable = 3,
    acpi_nvs = 4,
    unusable = 5,
    _,

    pub fn name(kind: Kind) []const u8 {
        return switch (kind) {
            .ram => "ram",
            .reserved => "reserved",
            .acpi_reclaimable => "acpi",
            .acpi_nvs => "acpi-nvs",
            .unusable => "unusable",
            _ => "other",
        };
    }
};

pub const Region = struct {
    base: u64,
    size: u64,
    kind: Kind,

    pub fn end(region: Region) u64 {
        return region.base + region.size;
    }
};

pub const Range = struct { base: u64, end: u64 };

pub const MemoryMap = struct {
    regions: [constants.memory_map_entries_max]Region = undefined,
    count: u32 = 0,
    /// Entries that did not fit or were malformed (overflowing the address space).
    dropped: u32 = 0,

    /// Adds one raw entry; empty entries (size 0 or type 0) are skipped.
    pub fn add(map: *MemoryMap, base: u64, size: u64, kind: u32) void {
        if (size == 0 or kind == 0) return;
        if (base > std.math.maxInt(u64) - size) {
            map.dropped += 1;
            return;
        }
        if (map.count == map.regions.len) {
            map.dropped += 1;
            return;
        }
        map.regions[map.count] = .{ .base = base, .size = size, .kind = @enumFromInt(kind) };
        map.count += 1;
    }

    /// Sorts by base address (insertion sort: the map is short and bounded).
    pub fn sort(map: *MemoryMap) void {
        const regions = map.regions[0..map.count];
        var index: usize = 1;
        while (index < regions.len) : (index += 1) {
            const region = regions[index];
            var position = index;
            while (position > 0 and regions[position - 1].base > region.base) : (position -= 1) {
                regions[position] = regions[position - 1];
            }
            regions[position] = region;
        }
        assert(map.is_sorted());
    }

    pub fn is_sorted(map: *const MemoryMap) bool {
        const regions = map.slice();
        if (regions.len < 2) return true;
        for (regions[0 .. regions.len - 1], regions[1..]) |left, right| {
            if (left.base > right.base) return false;
        }
        return true;
    }

    pub fn slice(map: *const MemoryMap) []const Region {
        return map.regions[0..map.count];
    }

    pub fn ram_bytes(map: *const MemoryMap) u64 {
        var total: u64 = 0;
        for (map.slice()) |region| {
            if (region.kind == .ram) total += region.size;
        }
        return total;
    }

    /// The largest RAM range inside [floor, ceiling) that does not overlap `exclude`: where the
    /// kernel may place its heap. Null when there is none.
    pub fn largest_free_range(
        map: *const MemoryMap,
        floor: u64,
        ceiling: u64,
        exclude: Range,
    ) ?Range {
        assert(floor < ceiling);
        assert(exclude.base <= exclude.end);
        var best: ?Range = null;
        for (map.slice()) |region| {
            if (region.kind != .ram) continue;
            const base = @max(region.base, floor);
            const end = @min(region.end(), ceiling);
            if (base >= end) continue;
            // Up to two pieces remain once `exclude` is cut out.
            const pieces = [2]Range{
                .{ .base = base, .end = @min(end, exclude.base) },
                .{ .base = @max(base, exclude.end), .end = end },
            };
            for (pieces) |piece| {
                if (piece.base >= piece.end) continue;
                if (best == null or piece.end - piece.base > best.?.end - best.?.base) best = piece;
            }
        }
        return best;
    }
};

const testing = std.testing;

test "firecracker e820: unsorted, reserved gap, RAM from 1 MiB" {
    var map: MemoryMap = .{};
    map.add(0, 0x9fc00, 1);
    map.add(0x9fc00, 0x40400, 2);
    map.add(0xeec0_0000, 256 << 20, 2);
    map.add(0x10_0000, (128 << 20) - 0x10_0000, 1);
    map.sort();
    try testing.expectEqual(@as(u32, 4), map.count);
    try testing.expectEqual(@as(u64, 0x10_0000), map.slice()[2].base);
    try testing.expectEqual(@as(u64, 0x9fc00 + (128 << 20) - 0x10_0000), map.ram_bytes());
}

test "qemu memmap: trailing empty entries are skipped" {
    var map: MemoryMap = .{};
    map.add(0, 0x9fc00, 1);
    map.add(0x9fc00, 0x400, 2);
    map.add(0xf0000, 0x10000, 2);
    map.add(0x10_0000, 0x7f0_0000, 1);
    map.add(0, 0, 0);
    map.add(0x1000, 0, 1);
    map.add(0x2000, 0x1000, 0);
    map.sort();
    try testing.expectEqual(@as(u32, 4), map.count);
    try testing.expectEqual(Kind.reserved, map.slice()[2].kind);
}

test "overflowing and excess entries are dropped and counted" {
    var map: MemoryMap = .{};
    map.add(std.math.maxInt(u64) - 10, 100, 1);
    try testing.expectEqual(@as(u32, 1), map.dropped);
    for (0..constants.memory_map_entries_max + 3) |index| map.add(index * 0x1000, 0x1000, 1);
    try testing.expectEqual(constants.memory_map_entries_max, map.count);
    try testing.expectEqual(@as(u32, 4), map.dropped);
}

test "largest free range skips the kernel image and honours floor and ceiling" {
    var map: MemoryMap = .{};
    map.add(0, 0x9fc00, 1);
    map.add(0x10_0000, 0x7f0_0000, 1);
    map.sort();
    const kernel: Range = .{ .base = 0x10_0000, .end = 0x14_0000 };
    const range = map.largest_free_range(0x10_0000, 3 << 30, kernel).?;
    try testing.expectEqual(@as(u64, 0x14_0000), range.base);
    try testing.expectEqual(@as(u64, 0x800_0000), range.end);
    const capped = map.largest_free_range(0x10_0000, 0x400_0000, kernel).?;
    try testing.expectEqual(@as(u64, 0x400_0000), capped.end);
    try testing.expect(map.largest_free_range(0x900_0000, 0xa00_0000, kernel) == null);
}

test "kind names" {
    try testing.expectEqualStrings("ram", Kind.ram.name());
    try testing.expectEqualStrings("other", @as(Kind, @enumFromInt(17)).name());
}
