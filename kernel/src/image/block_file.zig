//! A rootfs file read block by block (UKFS 2, docs/image-format.md). Opening reads only the
//! file's block-hash list and verifies it against the entry's sha256 (the root); a read loads
//! each block it touches from the disk the first time, verifies it against its hash in the
//! list, and keeps it until close. So opening a large file costs its list (32 bytes per
//! rootfs_block_bytes block), and reading a little of it costs the blocks read, not the file.
//! Pure code over a Source (the disk, or bytes in a test) and a page allocator, host-tested.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const pages = @import("../memory/pages.zig");
const rootfs = @import("rootfs.zig");
const sha256 = @import("sha256.zig");

const page_bytes = pages.page_bytes;
const sector_bytes = rootfs.data_alignment_bytes;

/// Where the rootfs bytes come from.
pub const Source = struct {
    context: *anyopaque,
    /// Reads `destination.len` bytes (a multiple of 512) from `offset` bytes into the rootfs (a
    /// multiple of 512); false when the device failed.
    read: *const fn (context: *anyopaque, offset: u64, destination: []u8) bool,
};

pub const Error = error{ TooLarge, NoMemory, IoFailed, ListHashMismatch, BlockHashMismatch };

pub const BlockFile = struct {
    entry: rootfs.Entry,
    /// The verified block hashes, block_count × 32 bytes.
    list: []const u8,
    /// The address of each loaded block's pages; 0 until loaded.
    blocks: []u64,
    /// Pages holding the list and the table of blocks (0 for an empty file: nothing to hold).
    memory_pages: u64,
    /// The block that last failed verification (for the caller's message).
    failed_block: u64 = 0,

    /// Reads and verifies the list of `entry` (a file of at most `bytes_max` bytes); allocates
    /// pages for the list and the table of loaded blocks, nothing else.
    pub fn open(
        entry: rootfs.Entry,
        source: Source,
        allocator: *pages.Allocator,
        bytes_max: u64,
    ) Error!BlockFile {
        assert(entry.kind == .file);
        if (entry.size > bytes_max) return error.TooLarge;
        const count = entry.block_count();
        if (count == 0) {
            if (!root_matches(&.{}, &entry.sha256)) return error.ListHashMismatch;
            return .{ .entry = entry, .list = &.{}, .blocks = &.{}, .memory_pages = 0 };
        }
        const list_read_bytes = std.mem.alignForward(u64, entry.list_bytes(), sector_bytes);
        const table_bytes = count * @sizeOf(u64);
        const memory_pages = divide_up(list_read_bytes + table_bytes, page_bytes);
        const base = allocator.allocate(memory_pages) orelse return error.NoMemory;
        const memory: [*]align(page_bytes) u8 = @ptrFromInt(base);
        errdefer allocator.free(base, memory_pages);
        if (!source.read(source.context, entry.list_offset(), memory[0..list_read_bytes])) {
            return error.IoFailed;
        }
        const list = memory[0..entry.list_bytes()];
        if (!root_matches(list, &entry.sha256)) return error.ListHashMismatch;
        // The table follows the list (a multiple of 512 bytes, so 8-byte aligned); fresh pages
        // are zero: no block loaded.
        const table: [*]u64 = @ptrCast(@alignCast(memory + list_read_bytes));
        assert(table[0] == 0);
        return .{
            .entry = entry,
            .list = list,
            .blocks = table[0..count],
            .memory_pages = memory_pages,
        };
    }

    /// Copies from `offset`, loading and verifying each block it touches the first time; 0 at
    /// or past the end. A block that fails its hash: error.BlockHashMismatch (failed_block says
    /// which), and nothing of it is kept, so a later read tries again.
    pub fn read_at(
        file: *BlockFile,
        source: Source,
        allocator: *pages.Allocator,
        buffer: []u8,
        offset: u64,
    ) Error!u64 {
        const size_bytes = file.entry.size;
        if (offset >= size_bytes) return 0;
        const wanted_bytes = @min(size_bytes - offset, buffer.len);
        var copied_bytes: u64 = 0;
        // Each pass copies up to the end of one block: at most wanted / block + 2 passes.
        const passes_max = wanted_bytes / rootfs.block_bytes + 2;
        var passes: u64 = 0;
        while (copied_bytes < wanted_bytes) : (passes += 1) {
            assert(passes < passes_max);
            const at = offset + copied_bytes;
            const block = at / rootfs.block_bytes;
            const bytes = try file.block_bytes(source, allocator, block);
            const inside = at - block * rootfs.block_bytes;
            const piece_bytes = @min(bytes.len - inside, wanted_bytes - copied_bytes);
            @memcpy(buffer[copied_bytes..][0..piece_bytes], bytes[inside..][0..piece_bytes]);
            copied_bytes += piece_bytes;
        }
        assert(copied_bytes == wanted_bytes);
        return wanted_bytes;
    }

    /// Block `block`'s bytes, loaded (and verified) now if this is its first touch.
    fn block_bytes(
        file: *BlockFile,
        source: Source,
        allocator: *pages.Allocator,
        block: u64,
    ) Error![]const u8 {
        assert(block < file.blocks.len);
        const span = rootfs.block_span(file.entry.size, block);
        if (file.blocks[block] != 0) {
            const loaded: [*]const u8 = @ptrFromInt(file.blocks[block]);
            return loaded[0..span.bytes];
        }
        const read_bytes = std.mem.alignForward(u64, span.bytes, sector_bytes);
        const block_pages = divide_up(read_bytes, page_bytes);
        const base = allocator.allocate(block_pages) orelse return error.NoMemory;
        const memory: [*]u8 = @ptrFromInt(base);
        const offset = file.entry.data_offset + span.offset;
        if (!source.read(source.context, offset, memory[0..read_bytes])) {
            allocator.free(base, block_pages);
            return error.IoFailed;
        }
        if (!rootfs.block_matches(memory[0..span.bytes], file.list, block)) {
            allocator.free(base, block_pages);
            file.failed_block = block;
            return error.BlockHashMismatch;
        }
        file.blocks[block] = base;
        return memory[0..span.bytes];
    }

    /// Gives back every loaded block, then the list and the table.
    pub fn close(file: *BlockFile, allocator: *pages.Allocator) void {
        assert(file.blocks.len == file.entry.block_count());
        for (file.blocks, 0..) |address, block| {
            if (address == 0) continue;
            const span = rootfs.block_span(file.entry.size, block);
            const read_bytes = std.mem.alignForward(u64, span.bytes, sector_bytes);
            allocator.free(address, divide_up(read_bytes, page_bytes));
        }
        if (file.memory_pages > 0) allocator.free(@intFromPtr(file.list.ptr), file.memory_pages);
        file.* = undefined;
    }

    /// Bytes held for the file now (list, table and loaded blocks).
    pub fn held_bytes(file: *const BlockFile) u64 {
        var total = file.memory_pages * page_bytes;
        for (file.blocks, 0..) |address, block| {
            if (address == 0) continue;
            const span = rootfs.block_span(file.entry.size, block);
            total += divide_up(span.bytes, page_bytes) * page_bytes;
        }
        return total;
    }
};

fn root_matches(list: []const u8, root: *const [32]u8) bool {
    assert(list.len % rootfs.block_hash_bytes == 0);
    var digest: [32]u8 = undefined;
    sha256.hash(list, &digest);
    return std.mem.eql(u8, &digest, root);
}

fn divide_up(value: u64, divisor: u64) u64 {
    assert(divisor > 0);
    return std.math.divCeil(u64, value, divisor) catch unreachable;
}

/// Verifies `data`, a whole file read into memory, against `entry`'s root: hashes each block
/// and the list those hashes make, without storing the list (Disk.read_file: the workload ELF,
/// etc/ukernel.env).
pub fn whole_file_matches(entry: rootfs.Entry, data: []const u8) bool {
    assert(data.len == entry.size);
    var root: sha256.Hasher = .{};
    const count = entry.block_count();
    var block: u64 = 0;
    while (block < count) : (block += 1) {
        const span = rootfs.block_span(entry.size, block);
        var digest: [32]u8 = undefined;
        sha256.hash(data[span.offset..][0..span.bytes], &digest);
        root.update(&digest);
    }
    var digest: [32]u8 = undefined;
    root.final(&digest);
    return std.mem.eql(u8, &digest, &entry.sha256);
}

comptime {
    assert(rootfs.block_bytes == constants.rootfs_block_bytes);
    assert(rootfs.block_bytes % page_bytes == 0);
}

// ---- Tests: a UKFS 2 rootfs built as rootfs.zig's tests do, read through a fake disk. --------

const testing = std.testing;

const TestDisk = struct {
    image: []const u8,
    reads: u32 = 0,
    failing: bool = false,

    fn read(context: *anyopaque, offset: u64, destination: []u8) bool {
        const disk: *TestDisk = @ptrCast(@alignCast(context));
        assert(offset % sector_bytes == 0 and destination.len % sector_bytes == 0);
        assert(offset + destination.len <= disk.image.len);
        disk.reads += 1;
        if (disk.failing) return false;
        @memcpy(destination, disk.image[offset..][0..destination.len]);
        return true;
    }

    fn source(disk: *TestDisk) Source {
        return .{ .context = disk, .read = &TestDisk.read };
    }
};

const Fixture = struct {
    data: []u8,
    image: []u8,
    index: rootfs.Index,
    memory: []align(page_bytes) u8,
    allocator: pages.Allocator,
    disk: TestDisk,

    /// A file "big" of 2.5 blocks (bytes differ from block to block) and an empty file.
    fn init(fixture: *Fixture) !void {
        const size = 2 * rootfs.block_bytes + rootfs.block_bytes / 2;
        fixture.data = try testing.allocator.alloc(u8, size);
        for (fixture.data, 0..) |*byte, position| {
            byte.* = @truncate(position *% 13 +% position / rootfs.block_bytes);
        }
        const tree = [_]rootfs.TestFile{
            .{ .path = "big", .kind = .file, .data = fixture.data },
            .{ .path = "empty", .kind = .file, .data = "" },
        };
        fixture.image = try rootfs.build(testing.allocator, &tree);
        const hash = rootfs.index_hash(fixture.image);
        const prologue = try rootfs.parse_prologue(fixture.image, fixture.image.len);
        fixture.index = try rootfs.Index.init(
            fixture.image[0..prologue.index_bytes],
            &hash,
            fixture.image.len,
        );
        const alignment = comptime std.mem.Alignment.fromByteUnits(page_bytes);
        fixture.memory = try testing.allocator.alignedAlloc(u8, alignment, 64 * page_bytes);
        @memset(fixture.memory, 0);
        const base = @intFromPtr(fixture.memory.ptr);
        fixture.allocator = .{};
        fixture.allocator.init(.{ .base = base, .end = base + fixture.memory.len });
        fixture.disk = .{ .image = fixture.image };
    }

    fn deinit(fixture: *Fixture) void {
        testing.allocator.free(fixture.memory);
        testing.allocator.free(fixture.image);
        testing.allocator.free(fixture.data);
    }

    fn open(fixture: *Fixture, path: []const u8, bytes_max: u64) Error!BlockFile {
        const entry = fixture.index.lookup(path).?;
        return BlockFile.open(entry, fixture.disk.source(), &fixture.allocator, bytes_max);
    }

    fn read_at(fixture: *Fixture, file: *BlockFile, buffer: []u8, offset: u64) Error!u64 {
        return file.read_at(fixture.disk.source(), &fixture.allocator, buffer, offset);
    }

    /// Reads `bytes` at `offset` and checks they are the file's.
    fn expect_read(fixture: *Fixture, file: *BlockFile, offset: u64, bytes: u64) !void {
        var buffer: [4096]u8 = undefined;
        try testing.expectEqual(bytes, try fixture.read_at(file, buffer[0..bytes], offset));
        try testing.expectEqualSlices(u8, fixture.data[offset..][0..bytes], buffer[0..bytes]);
    }
};

test "open reads only the list; reads load the blocks they touch, across boundaries" {
    var fixture: Fixture = undefined;
    try fixture.init();
    defer fixture.deinit();
    const free_before = fixture.allocator.free_bytes();
    var file = try fixture.open("big", 1 << 20);
    try testing.expectEqual(@as(u32, 1), fixture.disk.reads);
    try testing.expectEqual(@as(u64, page_bytes), file.held_bytes()); // list + table: one page
    // Across the boundary between blocks 0 and 1, then the short last block's end.
    try fixture.expect_read(&file, rootfs.block_bytes - 1000, 3000);
    try testing.expectEqual(@as(u32, 3), fixture.disk.reads);
    try testing.expect(file.blocks[0] != 0 and file.blocks[1] != 0 and file.blocks[2] == 0);
    try fixture.expect_read(&file, file.entry.size - 100, 100);
    // Loaded blocks are not read again; the end reads 0.
    try fixture.expect_read(&file, 10, 10);
    try testing.expectEqual(@as(u32, 4), fixture.disk.reads);
    var buffer: [16]u8 = undefined;
    try testing.expectEqual(@as(u64, 0), try fixture.read_at(&file, &buffer, file.entry.size));
    file.close(&fixture.allocator);
    try testing.expectEqual(free_before, fixture.allocator.free_bytes());

    var empty = try fixture.open("empty", 1 << 20);
    try testing.expectEqual(@as(u64, 0), try fixture.read_at(&empty, &buffer, 0));
    empty.close(&fixture.allocator);
    try testing.expectEqual(free_before, fixture.allocator.free_bytes());
    try testing.expectError(error.TooLarge, fixture.open("big", 100));
}

test "a flipped byte in one block fails reads of that block only; in the list, the open" {
    var fixture: Fixture = undefined;
    try fixture.init();
    defer fixture.deinit();
    const free_before = fixture.allocator.free_bytes();
    const entry = fixture.index.lookup("big").?;
    const flip = entry.data_offset + rootfs.block_bytes + 77; // in block 1
    fixture.image[flip] ^= 0x20;
    var file = try fixture.open("big", 1 << 20);
    var buffer: [64]u8 = undefined;
    const in_block_1 = rootfs.block_bytes + 5;
    try testing.expectError(error.BlockHashMismatch, fixture.read_at(&file, &buffer, in_block_1));
    try testing.expectEqual(@as(u64, 1), file.failed_block);
    try testing.expectEqual(@as(u64, 0), file.blocks[1]); // Nothing of it kept.
    try fixture.expect_read(&file, 5, 64);
    try fixture.expect_read(&file, 2 * rootfs.block_bytes + 9, 64);
    // A read that spans into the bad block fails as a whole.
    const spanning = rootfs.block_bytes - 10;
    try testing.expectError(error.BlockHashMismatch, fixture.read_at(&file, &buffer, spanning));
    file.close(&fixture.allocator);
    try testing.expectEqual(free_before, fixture.allocator.free_bytes());
    const data = fixture.image[entry.data_offset..][0..entry.size];
    try testing.expect(!whole_file_matches(entry, data));
    fixture.image[flip] ^= 0x20;
    try testing.expect(whole_file_matches(entry, data));

    fixture.image[entry.list_offset() + 40] ^= 0x01;
    try testing.expectError(error.ListHashMismatch, fixture.open("big", 1 << 20));
    fixture.disk.failing = true;
    try testing.expectError(error.IoFailed, fixture.open("big", 1 << 20));
    try testing.expectEqual(free_before, fixture.allocator.free_bytes());
}
