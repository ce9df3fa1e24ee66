//! What the VMM tells the kernel at entry, gathered into one BootInfo whatever the boot path:
//!   PVH:     EBX -> hvm_start_info {magic, cmdline_paddr, memmap_paddr, memmap_entries, ...}
//!   Linux64: RSI -> zero page (boot_params) {e820_table, hdr.cmd_line_ptr, ...}
//! The command line is copied into kernel memory, because the VMM's copy sits in low memory
//! (Firecracker: 0x20000; QEMU: option-ROM space) that the kernel does not own.

const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const MemoryMap = @import("memory_map.zig").MemoryMap;

pub const Protocol = enum(u32) {
    pvh = 1,
    linux64 = 2,
};

pub const BootInfo = struct {
    protocol: Protocol,
    cmdline: []const u8,
    /// True when the command line was longer than cmdline_bytes_max and was cut.
    cmdline_cut: bool,
    memory_map: MemoryMap,
    /// ACPI RSDP when the VMM says where it is (QEMU with ACPI); 0 otherwise.
    rsdp_address: u64,
};

pub const ParseError = error{ UnknownProtocol, BadStartInfoMagic, BadZeroPage, BadAddress };

// ---- PVH ------------------------------------------------------------------------------------

const start_info_magic: u32 = 0x336ec578;

const StartInfo = extern struct {
    magic: u32,
    version: u32,
    flags: u32,
    modules_count: u32,
    modules_address: u64,
    cmdline_address: u64,
    rsdp_address: u64,
    memory_map_address: u64,
    memory_map_entries: u32,
    reserved: u32,
};

const StartInfoMemoryMapEntry = extern struct {
    base: u64,
    size: u64,
    kind: u32,
    reserved: u32,
};

// ---- Linux zero page (struct boot_params) ---------------------------------------------------

const zero_page_bytes: u64 = 4096;
const zero_page_e820_entries_offset: u64 = 0x1e8;
const zero_page_boot_flag_offset: u64 = 0x1fe;
const zero_page_header_magic_offset: u64 = 0x202;
const zero_page_cmdline_pointer_offset: u64 = 0x228;
const zero_page_cmdline_size_offset: u64 = 0x238;
const zero_page_e820_table_offset: u64 = 0x2d0;
const zero_page_e820_entries_max: u32 = 128;
const e820_entry_bytes: u64 = 20;

comptime {
    assert(@sizeOf(StartInfo) == 56);
    assert(@sizeOf(StartInfoMemoryMapEntry) == 24);
    assert(zero_page_e820_table_offset + zero_page_e820_entries_max * e820_entry_bytes <=
        zero_page_bytes);
}

/// Pointers from the VMM must lie in the identity map. Host tests use host addresses instead.
const address_limit: u64 =
    if (builtin.is_test) std.math.maxInt(u64) else constants.identity_map_bytes;

var cmdline_buffer: [constants.cmdline_bytes_max]u8 = undefined;

/// Fills `info` in place (it is large: no copies on the boot path, where every instruction may be
/// emulated).
pub fn parse(protocol_raw: u32, address: u64, info: *BootInfo) ParseError!void {
    if (address == 0 or address >= address_limit) return error.BadAddress;
    const protocol = std.meta.intToEnum(Protocol, protocol_raw) catch return error.UnknownProtocol;
    info.cmdline = "";
    info.cmdline_cut = false;
    info.memory_map.count = 0;
    info.memory_map.dropped = 0;
    info.rsdp_address = 0;
    info.protocol = protocol;
    return switch (protocol) {
        .pvh => parse_pvh(address, info),
        .linux64 => parse_zero_page(address, info),
    };
}

fn parse_pvh(address: u64, info: *BootInfo) ParseError!void {
    const start_info: *align(1) const StartInfo = @ptrFromInt(address);
    if (start_info.magic != start_info_magic) return error.BadStartInfoMagic;
    info.rsdp_address = start_info.rsdp_address;
    copy_cmdline(info, start_info.cmdline_address, constants.cmdline_bytes_max);
    if (start_info.memory_map_address != 0) {
        const entries: [*]align(1) const StartInfoMemoryMapEntry =
            @ptrFromInt(start_info.memory_map_address);
        const count = @min(start_info.memory_map_entries, constants.memory_map_entries_max);
        for (entries[0..count]) |entry| info.memory_map.add(entry.base, entry.size, entry.kind);
        info.memory_map.dropped += start_info.memory_map_entries - count;
    }
    info.memory_map.sort();
}

fn parse_zero_page(address: u64, info: *BootInfo) ParseError!void {
    const page: [*]const u8 = @ptrFromInt(address);
    if (read(u16, page, zero_page_boot_flag_offset) != 0xaa55) return error.BadZeroPage;
    // "HdrS"
    if (read(u32, page, zero_page_header_magic_offset) != 0x53726448) return error.BadZeroPage;
    // cmdline_size counts the terminating NUL.
    const cmdline_size = read(u32, page, zero_page_cmdline_size_offset);
    copy_cmdline(info, read(u32, page, zero_page_cmdline_pointer_offset), cmdline_size);
    const count = @min(page[zero_page_e820_entries_offset], zero_page_e820_entries_max);
    var index: u32 = 0;
    while (index < count) : (index += 1) {
        const entry = zero_page_e820_table_offset + index * e820_entry_bytes;
        info.memory_map.add(
            read(u64, page, entry),
            read(u64, page, entry + 8),
            read(u32, page, entry + 16),
        );
    }
    info.memory_map.sort();
}

fn read(comptime T: type, page: [*]const u8, offset: u64) T {
    assert(offset + @sizeOf(T) <= zero_page_bytes);
    return std.mem.readInt(T, page[offset..][0..@sizeOf(T)], .little);
}

fn copy_cmdline(info: *BootInfo, address: u64, bytes_max: u64) void {
    if (address == 0 or address >= address_limit) return;
    const source: [*]const u8 = @ptrFromInt(address);
    const limit = @min(bytes_max, cmdline_buffer.len);
    var length: usize = 0;
    while (length < limit and source[length] != 0) : (length += 1) {
        cmdline_buffer[length] = source[length];
    }
    info.cmdline_cut = length == cmdline_buffer.len and source[length] != 0;
    info.cmdline = cmdline_buffer[0..length];
    assert(info.cmdline.len <= constants.cmdline_bytes_max);
}

const testing = std.testing;

test "pvh start info: command line and memory map" {
    const cmdline = "uk.verbose virtio_mmio.device=512@0xfeb00e00:12";
    const memmap = [_]StartInfoMemoryMapEntry{
        .{ .base = 0x10_0000, .size = 0x7f0_0000, .kind = 1, .reserved = 0 },
        .{ .base = 0, .size = 0x9fc00, .kind = 1, .reserved = 0 },
        .{ .base = 0, .size = 0, .kind = 0, .reserved = 0 },
    };
    var start_info: StartInfo = .{
        .magic = start_info_magic,
        .version = 1,
        .flags = 0,
        .modules_count = 0,
        .modules_address = 0,
        .cmdline_address = @intFromPtr(cmdline.ptr),
        .rsdp_address = 0,
        .memory_map_address = @intFromPtr(&memmap),
        .memory_map_entries = memmap.len,
        .reserved = 0,
    };
    var info: BootInfo = undefined;
    try parse(1, @intFromPtr(&start_info), &info);
    try testing.expectEqual(Protocol.pvh, info.protocol);
    try testing.expectEqualStrings(cmdline, info.cmdline);
    try testing.expectEqual(@as(u32, 2), info.memory_map.count);
    try testing.expectEqual(@as(u64, 0), info.memory_map.slice()[0].base);
    start_info.magic = 0;
    try testing.expectError(error.BadStartInfoMagic, parse(1, @intFromPtr(&start_info), &info));
    try testing.expectError(error.UnknownProtocol, parse(7, @intFromPtr(&start_info), &info));
    try testing.expectError(error.BadAddress, parse(1, 0, &info));
}

test "linux zero page: e820 and command line size" {
    var page: [zero_page_bytes]u8 align(8) = .{0} ** zero_page_bytes;
    const cmdline = "console=ttyS0 uk.test=exit:3\x00garbage";
    std.mem.writeInt(u16, page[zero_page_boot_flag_offset..][0..2], 0xaa55, .little);
    std.mem.writeInt(u32, page[zero_page_header_magic_offset..][0..4], 0x53726448, .little);
    std.mem.writeInt(u32, page[zero_page_cmdline_size_offset..][0..4], 29, .little);
    page[zero_page_e820_entries_offset] = 2;
    const entries = [_][3]u64{ .{ 0x10_0000, 0x7f0_0000, 1 }, .{ 0, 0x9fc00, 1 } };
    for (entries, 0..) |entry, index| {
        const offset = zero_page_e820_table_offset + index * e820_entry_bytes;
        std.mem.writeInt(u64, page[offset..][0..8], entry[0], .little);
        std.mem.writeInt(u64, page[offset + 8 ..][0..8], entry[1], .little);
        std.mem.writeInt(u32, page[offset + 16 ..][0..4], @intCast(entry[2]), .little);
    }
    var info: BootInfo = undefined;
    try parse(2, @intFromPtr(&page), &info);
    try testing.expectEqual(Protocol.linux64, info.protocol);
    try testing.expectEqual(@as(u32, 2), info.memory_map.count);
    try testing.expectEqual(@as(u64, 0), info.memory_map.slice()[0].base);
    info = .{
        .protocol = .linux64,
        .cmdline = "",
        .cmdline_cut = false,
        .memory_map = .{},
        .rsdp_address = 0,
    };
    copy_cmdline(&info, @intFromPtr(cmdline.ptr), 29);
    try testing.expectEqualStrings("console=ttyS0 uk.test=exit:3", info.cmdline);
    page[zero_page_boot_flag_offset] = 0;
    try testing.expectError(error.BadZeroPage, parse(2, @intFromPtr(&page), &info));
}

test "command line copy is bounded" {
    const long = "x" ** (constants.cmdline_bytes_max + 10);
    var info: BootInfo = .{
        .protocol = .pvh,
        .cmdline = "",
        .cmdline_cut = false,
        .memory_map = .{},
        .rsdp_address = 0,
    };
    copy_cmdline(&info, @intFromPtr(long.ptr), constants.cmdline_bytes_max);
    try testing.expectEqual(@as(usize, constants.cmdline_bytes_max), info.cmdline.len);
    try testing.expect(info.cmdline_cut);
}
