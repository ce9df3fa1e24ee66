//! The golden files (tests/fixtures/, made by the CLI's writers; see docs/contracts.md) read by
//! the kernel's own readers and checked against its writer: the image through image/format.zig
//! and image/rootfs.zig, the events file through the generated layout and events.text_record.
//! A change to either side of a contract fails here or in cli/src/abi/golden.test.ts.

const std = @import("std");
const testing = std.testing;
const Sha256 = std.crypto.hash.sha2.Sha256;
const abi = @import("abi.zig");
const contracts = @import("contracts.zig");
const format = @import("../image/format.zig");
const rootfs = @import("../image/rootfs.zig");
const block_file = @import("../image/block_file.zig");
const events = @import("../observe/events.zig");

const golden_image: []const u8 = @embedFile("golden_image");
const golden_events: []const u8 = @embedFile("golden_events");

fn expect_sha256(expected: *const [32]u8, bytes: []const u8) !void {
    var digest: [32]u8 = undefined;
    Sha256.hash(bytes, &digest, .{});
    try testing.expectEqualSlices(u8, expected, &digest);
}

test "golden image: the kernel's header and rootfs readers accept what the CLI wrote" {
    const header = try format.parse(golden_image[0..format.header_bytes], golden_image.len);
    try testing.expectEqual(abi.version_major, header.abi_major);
    try testing.expectEqual(abi.version_minor, header.abi_minor);
    try testing.expectEqual(abi.version_patch, header.abi_patch);
    try testing.expectEqual(@as(u64, golden_image.len), header.image_bytes);
    try testing.expect(header.read_only);
    try testing.expectEqualStrings("native", header.adapter);
    try testing.expectEqualStrings("bin/main", header.entry);
    try testing.expectEqualStrings("golden", header.name);
    for (header.sections[0..header.section_count]) |section| {
        try expect_sha256(&section.sha256, golden_image[section.offset..][0..section.size]);
    }
    const kernel = header.section(.kernel);
    try testing.expectEqualStrings("\x7fELF", golden_image[kernel.offset..][0..4]);

    const section = header.section(.rootfs);
    const bytes = golden_image[section.offset..][0..section.size];
    const prologue = try rootfs.parse_prologue(bytes, section.size);
    try testing.expectEqual(@as(u32, 4), prologue.entry_count);
    const index = try rootfs.Index.init(
        bytes[0..prologue.index_bytes],
        &header.rootfs_index_sha256,
        section.size,
    );
    const env = index.lookup("etc/ukernel.env") orelse return error.TestUnexpectedResult;
    try testing.expectEqual(rootfs.Kind.file, env.kind);
    try testing.expectEqual(@as(u32, 0o644), env.mode);
    try testing.expectEqualStrings("GREETING=hello\n", bytes[env.data_offset..][0..env.size]);
    const main = index.lookup(header.entry) orelse return error.TestUnexpectedResult;
    try testing.expectEqual(@as(u32, 0o755), main.mode);
    // UKFS 2: the entry holds the sha256 of the block-hash list that follows the data.
    try expect_sha256(&main.sha256, bytes[main.list_offset()..][0..main.list_bytes()]);
    try testing.expect(main.block_count() > 0);
    for ([_]rootfs.Entry{ main, env }) |file| {
        const data = bytes[file.data_offset..][0..file.size];
        try testing.expect(block_file.whole_file_matches(file, data));
    }
    const bin = index.lookup("bin") orelse return error.TestUnexpectedResult;
    try testing.expectEqual(rootfs.Kind.directory, bin.kind);
}

const layout = contracts.events;

fn read(comptime T: type, bytes: []const u8, base: u64, comptime field: contracts.Field) T {
    comptime std.debug.assert(field.bytes == @sizeOf(T));
    return std.mem.readInt(T, bytes[base + field.offset ..][0..@sizeOf(T)], .little);
}

test "golden events: blocks and records as the kernel writes them, every kind" {
    const device = layout.device_header;
    try testing.expectEqualStrings(events.device_magic, golden_events[0..device.magic.bytes]);
    try testing.expectEqual(layout.device_version, read(u32, golden_events, 0, device.version));
    try testing.expectEqual(layout.sector_bytes, read(u32, golden_events, 0, device.sector_bytes));
    const capacity_bytes = read(u64, golden_events, 0, device.capacity_bytes);
    try testing.expectEqual(@as(u64, golden_events.len), capacity_bytes);

    const Kind = layout.RecordKind;
    const kinds_expected = [_]Kind{
        .log, .span_begin, .console, .event, .span_end, // block 0
        .console, .kernel, // block 1, final
    };
    var kinds: [kinds_expected.len]Kind = undefined;
    var kinds_count: u32 = 0;
    var text_records: u32 = 0;
    var offset: u64 = layout.sector_bytes;
    var sequence: u32 = 0;
    const blocks_max = golden_events.len / layout.sector_bytes;
    while (sequence < blocks_max) : (sequence += 1) {
        const block = layout.block_header;
        const magic = golden_events[offset..][0..block.magic.bytes];
        if (!std.mem.eql(u8, magic, layout.block_magic)) break;
        const version = read(u16, golden_events, offset, block.version);
        try testing.expectEqual(layout.block_version, version);
        try testing.expectEqual(sequence, read(u32, golden_events, offset, block.sequence));
        const payload_bytes = read(u32, golden_events, offset, block.payload_bytes);
        const payload = golden_events[offset + block.bytes ..][0..payload_bytes];
        const crc = read(u32, golden_events, offset, block.crc32);
        try testing.expectEqual(std.hash.Crc32.hash(payload), crc);
        const flags = read(u16, golden_events, offset, block.flags);

        var at: u64 = 0;
        while (at < payload.len) {
            const size = read(u32, payload, at, layout.record_header.size);
            try testing.expect(size >= layout.record_header.bytes and at + size <= payload.len);
            const kind: Kind = @enumFromInt(payload[at + layout.record_header.kind.offset]);
            if (kind == .console or kind == .kernel) {
                try expect_text_record_written(payload[at..][0..size], kind);
                text_records += 1;
            }
            try testing.expect(kinds_count < kinds.len);
            kinds[kinds_count] = kind;
            kinds_count += 1;
            at += size;
        }
        const used = block.bytes + payload_bytes;
        offset += std.mem.alignForward(u64, used, layout.sector_bytes);
        if (flags & layout.block_flag_final != 0) break;
    }
    try testing.expectEqual(@as(u32, 2), sequence + 1);
    try testing.expectEqualSlices(Kind, &kinds_expected, kinds[0..kinds_count]);
    try testing.expectEqual(@as(u32, 3), text_records);
}

/// The kernel's writer makes the same bytes from the record's fields.
fn expect_text_record_written(record: []const u8, kind: events.Kind) !void {
    const text_record = layout.text_record;
    const task = read(u32, record, 0, layout.record_header.task);
    const t_ns = read(u64, record, 0, layout.record_header.t_ns);
    const text_bytes = read(u32, record, 0, text_record.text_bytes);
    try testing.expectEqual(record.len, text_record.bytes + text_bytes);
    const text = record[text_record.bytes..];
    if (kind == .kernel) {
        const version = contracts.console.protocol_version;
        const prefix = std.fmt.comptimePrint("@uk:exit v={d} ", .{version});
        try testing.expect(std.mem.startsWith(u8, text, prefix));
    }
    var written: [256]u8 = undefined;
    try testing.expect(record.len <= written.len);
    events.text_record(written[0..record.len], kind, task, t_ns, text);
    try testing.expectEqualSlices(u8, record, written[0..record.len]);
}
