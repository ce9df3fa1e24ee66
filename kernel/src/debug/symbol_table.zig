//! The embedded symbol table format, shared by the kernel (lookup) and tools/symtab.zig (encode).
//!
//!   header   magic "UKSYMS01", count: u32, strings_bytes: u32
//!   entries  count x { address: u64, size: u32, name_offset: u32 }, sorted by address
//!   strings  NUL-terminated names
//!
//! Pure code, host-tested.

const std = @import("std");
const assert = std.debug.assert;

pub const magic = "UKSYMS01";

pub const Header = extern struct {
    magic: [8]u8,
    count: u32,
    strings_bytes: u32,
};

pub const Entry = extern struct {
    address: u64,
    size: u32,
    name_offset: u32,
};

comptime {
    assert(@sizeOf(Header) == 16);
    assert(@sizeOf(Entry) == 16);
}

pub const Symbol = struct { name: []const u8, offset: u64 };

pub const SymbolTable = struct {
    entries: []align(1) const Entry,
    strings: []const u8,

    /// Null when the blob is not a well-formed table (e.g. the first-pass placeholder).
    pub fn init(blob: []const u8) ?SymbolTable {
        if (blob.len < @sizeOf(Header)) return null;
        const header: *align(1) const Header = @ptrCast(blob.ptr);
        if (!std.mem.eql(u8, &header.magic, magic)) return null;
        const entries_bytes = @as(u64, header.count) * @sizeOf(Entry);
        if (@sizeOf(Header) + entries_bytes + header.strings_bytes > blob.len) return null;
        const entries_start = @sizeOf(Header);
        const strings_start = entries_start + entries_bytes;
        const entries: [*]align(1) const Entry = @ptrCast(blob[entries_start..].ptr);
        return .{
            .entries = entries[0..header.count],
            .strings = blob[strings_start..][0..header.strings_bytes],
        };
    }

    /// The symbol containing `address`: the last entry at or below it, if `address` falls within
    /// its size. Binary search, so at most log2(count) + 1 steps.
    pub fn lookup(table: SymbolTable, address: u64) ?Symbol {
        var low: usize = 0;
        var high: usize = table.entries.len;
        while (low < high) {
            const middle = low + (high - low) / 2;
            if (table.entries[middle].address <= address) low = middle + 1 else high = middle;
        }
        if (low == 0) return null;
        const entry = table.entries[low - 1];
        assert(entry.address <= address);
        if (address - entry.address >= @max(entry.size, 1)) return null;
        if (entry.name_offset >= table.strings.len) return null;
        const name = std.mem.sliceTo(table.strings[entry.name_offset..], 0);
        return .{ .name = name, .offset = address - entry.address };
    }
};

pub const InputSymbol = struct { address: u64, size: u64, name: []const u8 };

/// Encodes symbols (any order; duplicates by address keep the first) into a table blob.
pub fn encode(allocator: std.mem.Allocator, input: []InputSymbol) ![]u8 {
    std.mem.sort(InputSymbol, input, {}, struct {
        fn less(_: void, a: InputSymbol, b: InputSymbol) bool {
            if (a.address != b.address) return a.address < b.address;
            return std.mem.order(u8, a.name, b.name) == .lt;
        }
    }.less);
    var entries: std.ArrayList(Entry) = .empty;
    defer entries.deinit(allocator);
    var strings: std.ArrayList(u8) = .empty;
    defer strings.deinit(allocator);
    for (input, 0..) |symbol, index| {
        if (index > 0 and input[index - 1].address == symbol.address) continue;
        try entries.append(allocator, .{
            .address = symbol.address,
            .size = @intCast(@min(symbol.size, std.math.maxInt(u32))),
            .name_offset = @intCast(strings.items.len),
        });
        try strings.appendSlice(allocator, symbol.name);
        try strings.append(allocator, 0);
    }
    const header: Header = .{
        .magic = magic.*,
        .count = @intCast(entries.items.len),
        .strings_bytes = @intCast(strings.items.len),
    };
    var blob: std.ArrayList(u8) = .empty;
    errdefer blob.deinit(allocator);
    try blob.appendSlice(allocator, std.mem.asBytes(&header));
    try blob.appendSlice(allocator, std.mem.sliceAsBytes(entries.items));
    try blob.appendSlice(allocator, strings.items);
    return blob.toOwnedSlice(allocator);
}

const testing = std.testing;

test "encode then look up" {
    var input = [_]InputSymbol{
        .{ .address = 0x2000, .size = 0x10, .name = "second" },
        .{ .address = 0x1000, .size = 0x100, .name = "first" },
        .{ .address = 0x1000, .size = 0x100, .name = "first_alias" },
    };
    const blob = try encode(testing.allocator, &input);
    defer testing.allocator.free(blob);
    const table = SymbolTable.init(blob).?;
    try testing.expectEqual(@as(usize, 2), table.entries.len);
    const hit = table.lookup(0x1042).?;
    try testing.expectEqualStrings("first", hit.name);
    try testing.expectEqual(@as(u64, 0x42), hit.offset);
    try testing.expectEqualStrings("second", table.lookup(0x200f).?.name);
    try testing.expect(table.lookup(0x2010) == null);
    try testing.expect(table.lookup(0x0fff) == null);
    try testing.expect(table.lookup(0x1100) == null);
}

test "placeholders and truncated blobs are not tables" {
    try testing.expect(SymbolTable.init("") == null);
    try testing.expect(SymbolTable.init("UKSYMS00" ++ "\x00" ** 8) == null);
    try testing.expect(SymbolTable.init("UKSYMS01" ++ "\x05\x00\x00\x00" ++ "\x00" ** 4) == null);
    const empty = SymbolTable.init("UKSYMS01" ++ "\x00" ** 8).?;
    try testing.expect(empty.lookup(0x1234) == null);
}
