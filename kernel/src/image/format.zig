//! The image header (docs/image-format.md): parsed and verified from its 4096 bytes. Pure code,
//! host-tested; the kernel feeds it what virtio-blk read.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const contracts = @import("../abi/contracts.zig");
const sha256 = @import("sha256.zig");

// The layout is shared with the CLI's writer: generated from abi/contracts.json.
const header_layout = contracts.image.header;
const section_layout = contracts.image.section;
pub const header_bytes: u64 = header_layout.bytes;
pub const section_alignment_bytes: u64 = contracts.image.section_alignment_bytes;
pub const magic = contracts.image.magic;
pub const format_version: u32 = contracts.image.format_version;
const section_table_offset: u64 = header_layout.section_table.offset;
const section_entry_bytes: u64 = section_layout.bytes;
const header_hash_offset: u64 = header_layout.header_sha256.offset;
const flag_readonly: u32 = contracts.image.flag_readonly;
comptime {
    assert(header_hash_offset + header_layout.header_sha256.bytes == header_bytes);
    assert(constants.image_sections_max * section_entry_bytes <= header_layout.section_table.bytes);
}

pub const SectionKind = contracts.image.SectionKind;

pub const Section = struct {
    kind: SectionKind,
    offset: u64,
    size: u64,
    sha256: [32]u8,
};

pub const Header = struct {
    abi_major: u16,
    abi_minor: u16,
    abi_patch: u16,
    read_only: bool,
    image_bytes: u64,
    adapter: []const u8,
    entry: []const u8,
    name: []const u8,
    rootfs_index_sha256: [32]u8,
    sections: [constants.image_sections_max]Section,
    section_count: u32,

    pub fn section(header: *const Header, kind: SectionKind) Section {
        for (header.sections[0..header.section_count]) |candidate| {
            if (candidate.kind == kind) return candidate;
        }
        unreachable; // parse() checks every kind is present.
    }
};

pub const Error = error{
    BadMagic,
    UnsupportedFormatVersion,
    HeaderHashMismatch,
    ImageTooLarge,
    ImageLargerThanDisk,
    BadSectionTable,
    BadString,
};

/// Parses and verifies a header; `disk_bytes` is the size of the device it was read from.
/// Strings in the result point into `bytes`.
pub fn parse(bytes: *const [header_bytes]u8, disk_bytes: u64) Error!Header {
    if (!std.mem.eql(u8, bytes[0..magic.len], magic)) return error.BadMagic;
    if (read_field(u32, bytes, 0, header_layout.format_version) != format_version) {
        return error.UnsupportedFormatVersion;
    }
    if (read_field(u32, bytes, 0, header_layout.header_bytes) != header_bytes) {
        return error.UnsupportedFormatVersion;
    }
    var digest: [32]u8 = undefined;
    sha256.hash(bytes[0..header_hash_offset], &digest);
    const stored = bytes[header_hash_offset..][0..32];
    if (!std.mem.eql(u8, &digest, stored)) return error.HeaderHashMismatch;

    var header: Header = .{
        .abi_major = read_field(u16, bytes, 0, header_layout.abi_major),
        .abi_minor = read_field(u16, bytes, 0, header_layout.abi_minor),
        .abi_patch = read_field(u16, bytes, 0, header_layout.abi_patch),
        .read_only = read_field(u32, bytes, 0, header_layout.flags) & flag_readonly != 0,
        .image_bytes = read_field(u64, bytes, 0, header_layout.image_bytes),
        .adapter = try string(slice(bytes, 0, header_layout.adapter)),
        .entry = try string(slice(bytes, 0, header_layout.entry)),
        .name = try string(slice(bytes, 0, header_layout.name)),
        .rootfs_index_sha256 = slice(bytes, 0, header_layout.rootfs_index_sha256)[0..32].*,
        .sections = undefined,
        .section_count = read_field(u32, bytes, 0, header_layout.section_count),
    };
    if (header.image_bytes > constants.image_bytes_max) return error.ImageTooLarge;
    if (header.image_bytes > disk_bytes) return error.ImageLargerThanDisk;
    try parse_sections(bytes, &header);
    return header;
}

fn parse_sections(bytes: *const [header_bytes]u8, header: *Header) Error!void {
    // Exactly kernel, rootfs, manifest, in that order, aligned, in bounds, not overlapping.
    const kinds = [_]SectionKind{ .kernel, .rootfs, .manifest };
    if (header.section_count != kinds.len) return error.BadSectionTable;
    var previous_end: u64 = header_bytes;
    for (kinds, 0..) |kind, index| {
        const entry = section_table_offset + index * section_entry_bytes;
        const section: Section = .{
            .kind = std.meta.intToEnum(
                SectionKind,
                read_field(u32, bytes, entry, section_layout.kind),
            ) catch return error.BadSectionTable,
            .offset = read_field(u64, bytes, entry, section_layout.offset),
            .size = read_field(u64, bytes, entry, section_layout.size),
            .sha256 = slice(bytes, entry, section_layout.sha256)[0..32].*,
        };
        if (section.kind != kind) return error.BadSectionTable;
        if (section.offset % section_alignment_bytes != 0) return error.BadSectionTable;
        if (section.offset < previous_end) return error.BadSectionTable;
        if (section.size > header.image_bytes or
            section.offset > header.image_bytes - section.size)
        {
            return error.BadSectionTable;
        }
        previous_end = section.offset + section.size;
        header.sections[index] = section;
    }
}

/// The integer in `field_at` of the structure at `base` (0: the header, else a section entry).
fn read_field(
    comptime T: type,
    bytes: *const [header_bytes]u8,
    base: u64,
    comptime field_at: contracts.Field,
) T {
    comptime assert(field_at.bytes == @sizeOf(T));
    assert(base + field_at.offset + @sizeOf(T) <= header_bytes);
    return std.mem.readInt(T, bytes[base + field_at.offset ..][0..@sizeOf(T)], .little);
}

fn slice(bytes: *const [header_bytes]u8, base: u64, comptime field_at: contracts.Field) []const u8 {
    assert(base + field_at.offset + field_at.bytes <= header_bytes);
    return bytes[base + field_at.offset ..][0..field_at.bytes];
}

/// A NUL-padded ASCII field: printable characters, then only NULs.
fn string(field: []const u8) Error![]const u8 {
    const length = std.mem.indexOfScalar(u8, field, 0) orelse field.len;
    for (field[0..length]) |character| {
        if (character < 0x20 or character > 0x7e) return error.BadString;
    }
    for (field[length..]) |character| {
        if (character != 0) return error.BadString;
    }
    return field[0..length];
}

// ---- Tests: build a header the way docs/image-format.md says, then break it. ----------------

const testing = std.testing;

pub fn test_header(image_bytes: u64) [header_bytes]u8 {
    var bytes = [_]u8{0} ** header_bytes;
    @memcpy(bytes[0..8], magic);
    std.mem.writeInt(u32, bytes[8..12], format_version, .little);
    std.mem.writeInt(u32, bytes[12..16], header_bytes, .little);
    std.mem.writeInt(u16, bytes[16..18], 0, .little);
    std.mem.writeInt(u16, bytes[18..20], 1, .little);
    std.mem.writeInt(u32, bytes[28..32], 3, .little);
    std.mem.writeInt(u64, bytes[32..40], image_bytes, .little);
    @memcpy(bytes[40..46], "native");
    @memcpy(bytes[72..80], "bin/main");
    @memcpy(bytes[200..204], "demo");
    const layout = [_][3]u64{ .{ 1, 4096, 5000 }, .{ 2, 12288, 8192 }, .{ 3, 20480, 100 } };
    for (layout, 0..) |section, index| {
        const entry = section_table_offset + index * section_entry_bytes;
        std.mem.writeInt(u32, bytes[entry..][0..4], @intCast(section[0]), .little);
        std.mem.writeInt(u64, bytes[entry + 8 ..][0..8], section[1], .little);
        std.mem.writeInt(u64, bytes[entry + 16 ..][0..8], section[2], .little);
    }
    seal(&bytes);
    return bytes;
}

pub fn seal(bytes: *[header_bytes]u8) void {
    sha256.hash(bytes[0..header_hash_offset], bytes[header_hash_offset..][0..32]);
}

test "a well-formed header parses" {
    const bytes = test_header(24576);
    const header = try parse(&bytes, 1 << 20);
    try testing.expectEqualStrings("native", header.adapter);
    try testing.expectEqualStrings("bin/main", header.entry);
    try testing.expectEqualStrings("demo", header.name);
    try testing.expectEqual(@as(u16, 1), header.abi_minor);
    try testing.expectEqual(@as(u64, 12288), header.section(.rootfs).offset);
    try testing.expect(!header.read_only);
}

test "every single-bit flip in the header is caught" {
    const good = test_header(24576);
    var index: usize = 0;
    while (index < header_bytes * 8) : (index += 97) {
        var bytes = good;
        bytes[index / 8] ^= @as(u8, 1) << @intCast(index % 8);
        try testing.expect(std.meta.isError(parse(&bytes, 1 << 20)));
    }
}

test "foreign data, bad versions, sizes and section tables are refused" {
    var bytes = test_header(24576);
    try testing.expectError(error.ImageLargerThanDisk, parse(&bytes, 4096));
    bytes[0] = 'X';
    try testing.expectError(error.BadMagic, parse(&bytes, 1 << 20));

    bytes = test_header(24576);
    std.mem.writeInt(u32, bytes[8..12], 2, .little);
    seal(&bytes);
    try testing.expectError(error.UnsupportedFormatVersion, parse(&bytes, 1 << 20));

    bytes = test_header(constants.image_bytes_max + 1);
    try testing.expectError(error.ImageTooLarge, parse(&bytes, std.math.maxInt(u64)));

    bytes = test_header(24576);
    // overlaps kernel
    std.mem.writeInt(u64, bytes[section_table_offset + 64 + 8 ..][0..8], 4096, .little);
    seal(&bytes);
    try testing.expectError(error.BadSectionTable, parse(&bytes, 1 << 20));

    bytes = test_header(20000); // manifest runs past the end
    try testing.expectError(error.BadSectionTable, parse(&bytes, 1 << 20));

    bytes = test_header(24576);
    bytes[41] = 0x01; // control character in the adapter
    seal(&bytes);
    try testing.expectError(error.BadString, parse(&bytes, 1 << 20));
}
