//! UKFS, the image's read-only root filesystem (docs/image-format.md): a sorted index of
//! entries, then each file's data and its block-hash list on 512-byte boundaries. The index is
//! verified as a whole (its sha256 is in the image header) and every entry checked for bounds
//! once, so lookups trust it. A file's entry holds the sha256 of its block-hash list (the root);
//! the list holds the sha256 of each rootfs_block_bytes block, so any block can be verified
//! alone (block_file.zig). Pure code, host-tested.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const sha256 = @import("sha256.zig");

// The layout is shared with the CLI's writer: generated from abi/contracts.json.
const contract = @import("../abi/contracts.zig").image;
pub const magic = contract.rootfs_magic;
pub const version: u32 = contract.rootfs_version;
pub const header_bytes: u64 = contract.rootfs_header.bytes;
pub const entry_bytes: u64 = contract.rootfs_entry.bytes;
pub const data_alignment_bytes: u64 = contract.rootfs_alignment_bytes;
pub const block_bytes: u64 = constants.rootfs_block_bytes;
pub const block_hash_bytes: u64 = sha256.digest_bytes;
comptime {
    assert(block_bytes % data_alignment_bytes == 0);
}

pub const Kind = contract.RootfsEntryKind;

pub const Entry = struct {
    path: []const u8,
    kind: Kind,
    mode: u32,
    data_offset: u64,
    size: u64,
    /// Files: the sha256 of the block-hash list (the root); directories: zero.
    sha256: [32]u8,

    /// Where the block-hash list starts, in bytes from the start of the rootfs: after the
    /// data, on the next 512-byte boundary.
    pub fn list_offset(entry: Entry) u64 {
        assert(entry.kind == .file);
        return entry.data_offset + std.mem.alignForward(u64, entry.size, data_alignment_bytes);
    }

    pub fn block_count(entry: Entry) u64 {
        return blocks_in(entry.size);
    }

    /// Bytes of the block-hash list, without its padding.
    pub fn list_bytes(entry: Entry) u64 {
        return entry.block_count() * block_hash_bytes;
    }
};

/// Blocks in a file of `size_bytes` (0 for an empty file; the last one may be short).
pub fn blocks_in(size_bytes: u64) u64 {
    return std.math.divCeil(u64, size_bytes, block_bytes) catch unreachable;
}

/// Block `index` of a file of `size_bytes`: its offset inside the file and its length.
pub const Span = struct { offset: u64, bytes: u64 };

pub fn block_span(size_bytes: u64, index: u64) Span {
    assert(index < blocks_in(size_bytes));
    const offset = index * block_bytes;
    const span: Span = .{ .offset = offset, .bytes = @min(block_bytes, size_bytes - offset) };
    assert(span.bytes > 0);
    return span;
}

/// Whether `bytes` are block `index` of the file whose (verified) block-hash list is `list`.
pub fn block_matches(bytes: []const u8, list: []const u8, index: u64) bool {
    assert(list.len % block_hash_bytes == 0);
    assert(index < list.len / block_hash_bytes);
    var digest: [block_hash_bytes]u8 = undefined;
    sha256.hash(bytes, &digest);
    return std.mem.eql(u8, &digest, list[index * block_hash_bytes ..][0..block_hash_bytes]);
}

pub const Error = error{
    BadMagic,
    UnsupportedRootfsVersion,
    IndexTooLarge,
    IndexHashMismatch,
    BadEntry,
    NotSorted,
};

/// What the first 32 bytes say: how large the index block is.
pub const Prologue = struct { entry_count: u32, index_bytes: u32, total_bytes: u64 };

pub fn parse_prologue(bytes: []const u8, section_bytes: u64) Error!Prologue {
    if (bytes.len < header_bytes) return error.BadEntry;
    if (!std.mem.eql(u8, bytes[0..8], magic)) return error.BadMagic;
    if (read(u32, bytes, 8) != version) return error.UnsupportedRootfsVersion;
    const prologue: Prologue = .{
        .entry_count = read(u32, bytes, 12),
        .index_bytes = read(u32, bytes, 16),
        .total_bytes = read(u64, bytes, 24),
    };
    if (prologue.entry_count > constants.rootfs_entries_max) return error.IndexTooLarge;
    if (prologue.index_bytes > constants.rootfs_index_bytes_max) return error.IndexTooLarge;
    if (prologue.index_bytes % data_alignment_bytes != 0) return error.BadEntry;
    if (prologue.total_bytes != section_bytes or
        prologue.index_bytes > section_bytes) return error.BadEntry;
    if (header_bytes + @as(
        u64,
        prologue.entry_count,
    ) * entry_bytes > prologue.index_bytes) return error.BadEntry;
    return prologue;
}

pub const Index = struct {
    block: []const u8,
    prologue: Prologue,

    /// Verifies the whole index block against `expected_sha256` and every entry's bounds.
    pub fn init(block: []const u8, expected_sha256: *const [32]u8, section_bytes: u64) Error!Index {
        const prologue = try parse_prologue(block, section_bytes);
        if (block.len != prologue.index_bytes) return error.BadEntry;
        var digest: [32]u8 = undefined;
        sha256.hash(block, &digest);
        if (!std.mem.eql(u8, &digest, expected_sha256)) return error.IndexHashMismatch;
        const index: Index = .{ .block = block, .prologue = prologue };
        var previous: ?[]const u8 = null;
        var position: u32 = 0;
        while (position < prologue.entry_count) : (position += 1) {
            const checked = try index.entry(position);
            if (previous) |before| {
                if (std.mem.order(u8, before, checked.path) != .lt) return error.NotSorted;
            }
            previous = checked.path;
        }
        return index;
    }

    /// Entry `position`, bounds-checked against the index block and the section.
    pub fn entry(index: Index, position: u32) Error!Entry {
        assert(position < index.prologue.entry_count);
        const offset = header_bytes + @as(u64, position) * entry_bytes;
        const bytes = index.block;
        const path_offset = read(u32, bytes, offset);
        const path_bytes = read(u16, bytes, offset + 4);
        const kind = std.meta.intToEnum(Kind, bytes[offset + 6]) catch return error.BadEntry;
        if (path_bytes == 0 or path_bytes > constants.rootfs_path_bytes_max) return error.BadEntry;
        if (path_offset > bytes.len or path_bytes > bytes.len - path_offset) return error.BadEntry;
        const result: Entry = .{
            .path = bytes[path_offset..][0..path_bytes],
            .kind = kind,
            .mode = read(u32, bytes, offset + 8),
            .data_offset = read(u64, bytes, offset + 16),
            .size = read(u64, bytes, offset + 24),
            .sha256 = bytes[offset + 32 ..][0..32].*,
        };
        if (kind == .file) {
            if (result.data_offset % data_alignment_bytes != 0) return error.BadEntry;
            if (result.data_offset < index.prologue.index_bytes) return error.BadEntry;
            const total = index.prologue.total_bytes;
            if (result.data_offset > total or
                result.size > total - result.data_offset) return error.BadEntry;
            // Then the block-hash list, padded to a sector: all inside the rootfs (no overflow:
            // both terms are at most total_bytes, which fits an image).
            const list_end = std.mem.alignForward(
                u64,
                result.list_offset() + result.list_bytes(),
                data_alignment_bytes,
            );
            if (list_end > total) return error.BadEntry;
        }
        return result;
    }

    /// The entry at `path`, by binary search (entries are sorted bytewise).
    pub fn lookup(index: Index, path: []const u8) ?Entry {
        var low: u32 = 0;
        var high: u32 = index.prologue.entry_count;
        while (low < high) {
            const middle = low + (high - low) / 2;
            const candidate = index.entry(middle) catch return null; // Checked in init.
            switch (std.mem.order(u8, candidate.path, path)) {
                .eq => return candidate,
                .lt => low = middle + 1,
                .gt => high = middle,
            }
        }
        return null;
    }

    /// The next entry directly inside directory `directory` ("" for the root) at or after
    /// position `start`, and the position after it; null when there is none. Entries are
    /// sorted bytewise, so a directory's descendants are contiguous (its children among its
    /// grandchildren): the walk ends at the first entry past them.
    pub fn next_child(index: Index, directory: []const u8, start: u32) ?Child {
        var position = if (start == 0) index.first_inside(directory) else start;
        while (position < index.prologue.entry_count) : (position += 1) {
            const candidate = index.entry(position) catch return null; // Checked in init.
            switch (placement(candidate.path, directory)) {
                .before => continue,
                .after => return null,
                .inside => {},
            }
            const skip = if (directory.len == 0) 0 else directory.len + 1;
            const rest = candidate.path[skip..];
            assert(rest.len > 0 or directory.len > 0);
            if (rest.len == 0 or std.mem.indexOfScalar(u8, rest, '/') != null) continue;
            return .{ .entry = candidate, .name = rest, .next = position + 1 };
        }
        return null;
    }

    /// The first position whose path is not before `directory`'s descendants.
    fn first_inside(index: Index, directory: []const u8) u32 {
        var low: u32 = 0;
        var high: u32 = index.prologue.entry_count;
        while (low < high) {
            const middle = low + (high - low) / 2;
            const candidate = index.entry(middle) catch return high; // Checked in init.
            const before = placement(candidate.path, directory) == .before;
            if (before) low = middle + 1 else high = middle;
        }
        return low;
    }
};

pub const Child = struct { entry: Entry, name: []const u8, next: u32 };

/// Where `path` sorts relative to the descendants of `directory` (the paths that start with
/// `directory` and a '/'; every path for the root, "").
fn placement(path: []const u8, directory: []const u8) enum { before, inside, after } {
    if (directory.len == 0) return .inside;
    const common = @min(path.len, directory.len);
    switch (std.mem.order(u8, path[0..common], directory[0..common])) {
        .lt => return .before,
        .gt => return .after,
        .eq => {},
    }
    if (path.len <= directory.len) return .before; // A prefix of the directory, or itself.
    const separator = path[directory.len];
    if (separator < '/') return .before;
    if (separator > '/') return .after;
    return .inside;
}

fn read(comptime T: type, bytes: []const u8, offset: u64) T {
    assert(offset + @sizeOf(T) <= bytes.len);
    return std.mem.readInt(T, bytes[offset..][0..@sizeOf(T)], .little);
}

// ---- Tests ----------------------------------------------------------------------------------

const testing = std.testing;

pub const TestFile = struct { path: []const u8, kind: Kind, data: []const u8 };

/// Builds a rootfs the way docs/image-format.md describes (the CLI's writer does the same).
pub fn build(allocator: std.mem.Allocator, files: []const TestFile) ![]u8 {
    var paths_bytes: u64 = 0;
    for (files) |file| paths_bytes += file.path.len;
    const index_bytes = std.mem.alignForward(
        u64,
        header_bytes + files.len * entry_bytes + paths_bytes,
        512,
    );
    var total = index_bytes;
    for (files) |file| {
        if (file.kind != .file) continue;
        total += std.mem.alignForward(u64, file.data.len, 512);
        total += std.mem.alignForward(u64, blocks_in(file.data.len) * block_hash_bytes, 512);
    }
    const image = try allocator.alloc(u8, total);
    @memset(image, 0);
    @memcpy(image[0..8], magic);
    std.mem.writeInt(u32, image[8..12], version, .little);
    std.mem.writeInt(u32, image[12..16], @intCast(files.len), .little);
    std.mem.writeInt(u32, image[16..20], @intCast(index_bytes), .little);
    std.mem.writeInt(u64, image[24..32], total, .little);
    var path_cursor = header_bytes + files.len * entry_bytes;
    var data_cursor = index_bytes;
    for (files, 0..) |file, position| {
        const offset = header_bytes + position * entry_bytes;
        std.mem.writeInt(u32, image[offset..][0..4], @intCast(path_cursor), .little);
        std.mem.writeInt(u16, image[offset + 4 ..][0..2], @intCast(file.path.len), .little);
        image[offset + 6] = @intFromEnum(file.kind);
        std.mem.writeInt(u32, image[offset + 8 ..][0..4], 0o644, .little);
        @memcpy(image[path_cursor..][0..file.path.len], file.path);
        path_cursor += file.path.len;
        if (file.kind == .file) {
            std.mem.writeInt(u64, image[offset + 16 ..][0..8], data_cursor, .little);
            std.mem.writeInt(u64, image[offset + 24 ..][0..8], file.data.len, .little);
            @memcpy(image[data_cursor..][0..file.data.len], file.data);
            data_cursor += std.mem.alignForward(u64, file.data.len, 512);
            const list = write_block_hashes(file.data, image[data_cursor..]);
            sha256.hash(list, image[offset + 32 ..][0..32]);
            data_cursor += std.mem.alignForward(u64, list.len, 512);
        }
    }
    assert(data_cursor == total);
    return image;
}

/// The block-hash list of `data` into the start of `out`; returns it.
fn write_block_hashes(data: []const u8, out: []u8) []const u8 {
    const count = blocks_in(data.len);
    var block: u64 = 0;
    while (block < count) : (block += 1) {
        const span = block_span(data.len, block);
        const digest = out[block * block_hash_bytes ..][0..block_hash_bytes];
        sha256.hash(data[span.offset..][0..span.bytes], digest);
    }
    return out[0 .. count * block_hash_bytes];
}

pub fn index_hash(image: []const u8) [32]u8 {
    const prologue = parse_prologue(image, image.len) catch unreachable;
    var digest: [32]u8 = undefined;
    sha256.hash(image[0..prologue.index_bytes], &digest);
    return digest;
}

const sample = [_]TestFile{
    .{ .path = "bin", .kind = .directory, .data = "" },
    .{ .path = "bin/main", .kind = .file, .data = "\x7fELF pretend" },
    .{ .path = "etc", .kind = .directory, .data = "" },
    .{ .path = "etc/ukernel.env", .kind = .file, .data = "A=1\nB=two\n" },
};

test "build, verify, look up" {
    const image = try build(testing.allocator, &sample);
    defer testing.allocator.free(image);
    const hash = index_hash(image);
    const prologue = try parse_prologue(image, image.len);
    const index = try Index.init(image[0..prologue.index_bytes], &hash, image.len);
    const main = index.lookup("bin/main").?;
    try testing.expectEqual(Kind.file, main.kind);
    try testing.expectEqualStrings("\x7fELF pretend", image[main.data_offset..][0..main.size]);
    try testing.expectEqual(Kind.directory, index.lookup("etc").?.kind);
    try testing.expect(index.lookup("bin/mai") == null);
    try testing.expect(index.lookup("zzz") == null);
    try testing.expect(index.lookup("") == null);
}

test "a corrupted or reordered index is refused" {
    const image = try build(testing.allocator, &sample);
    defer testing.allocator.free(image);
    const hash = index_hash(image);
    const prologue = try parse_prologue(image, image.len);
    var bytes: usize = 0;
    while (bytes < prologue.index_bytes) : (bytes += 7) {
        image[bytes] ^= 0x10;
        try testing.expect(std.meta.isError(Index.init(
            image[0..prologue.index_bytes],
            &hash,
            image.len,
        )));
        image[bytes] ^= 0x10;
    }
    const unsorted = [_]TestFile{ sample[1], sample[0] };
    const bad = try build(testing.allocator, &unsorted);
    defer testing.allocator.free(bad);
    const bad_hash = index_hash(bad);
    const bad_prologue = try parse_prologue(bad, bad.len);
    try testing.expectError(
        error.NotSorted,
        Index.init(bad[0..bad_prologue.index_bytes], &bad_hash, bad.len),
    );
}

test "entries pointing outside the section are refused even with a matching hash" {
    const image = try build(testing.allocator, &sample);
    defer testing.allocator.free(image);
    const offset = header_bytes + 1 * entry_bytes; // bin/main
    std.mem.writeInt(u64, image[offset + 24 ..][0..8], image.len, .little);
    const hash = index_hash(image);
    const prologue = try parse_prologue(image, image.len);
    try testing.expectError(
        error.BadEntry,
        Index.init(image[0..prologue.index_bytes], &hash, image.len),
    );
}

test "block math: counts, spans, the list after the data; each block verifies alone" {
    try testing.expectEqual(@as(u64, 0), blocks_in(0));
    try testing.expectEqual(@as(u64, 1), blocks_in(1));
    try testing.expectEqual(@as(u64, 1), blocks_in(block_bytes));
    try testing.expectEqual(@as(u64, 2), blocks_in(block_bytes + 1));
    const size = 2 * block_bytes + 100;
    const second: Span = .{ .offset = block_bytes, .bytes = block_bytes };
    try testing.expectEqual(second, block_span(size, 1));
    const last: Span = .{ .offset = 2 * block_bytes, .bytes = 100 };
    try testing.expectEqual(last, block_span(size, 2));

    const data = try testing.allocator.alloc(u8, size);
    defer testing.allocator.free(data);
    for (data, 0..) |*byte, position| byte.* = @truncate(position *% 7 +% position / block_bytes);
    const tree = [_]TestFile{.{ .path = "big", .kind = .file, .data = data }};
    const image = try build(testing.allocator, &tree);
    defer testing.allocator.free(image);
    const hash = index_hash(image);
    const prologue = try parse_prologue(image, image.len);
    const index = try Index.init(image[0..prologue.index_bytes], &hash, image.len);
    const big = index.lookup("big").?;
    try testing.expectEqual(@as(u64, 3), big.block_count());
    try testing.expectEqual(big.data_offset + 2 * block_bytes + 512, big.list_offset());
    const list = image[big.list_offset()..][0..big.list_bytes()];
    var root: [32]u8 = undefined;
    sha256.hash(list, &root);
    try testing.expectEqualSlices(u8, &big.sha256, &root);
    var block: u64 = 0;
    while (block < 3) : (block += 1) {
        const span = block_span(big.size, block);
        const bytes = image[big.data_offset + span.offset ..][0..span.bytes];
        try testing.expect(block_matches(bytes, list, block));
        try testing.expect(!block_matches(bytes, list, (block + 1) % 3));
    }
}

test "a file whose block-hash list would run past the rootfs is refused" {
    const image = try build(testing.allocator, &sample);
    defer testing.allocator.free(image);
    // etc/ukernel.env is the last file: one more byte makes its list start past the rootfs.
    const offset = header_bytes + 3 * entry_bytes;
    const size = std.mem.readInt(u64, image[offset + 24 ..][0..8], .little);
    std.mem.writeInt(u64, image[offset + 24 ..][0..8], size + 512, .little);
    const hash = index_hash(image);
    const prologue = try parse_prologue(image, image.len);
    try testing.expectError(
        error.BadEntry,
        Index.init(image[0..prologue.index_bytes], &hash, image.len),
    );
}

/// Every name next_child gives for `directory`, joined by spaces.
fn list_names(index: Index, directory: []const u8, out: []u8) []const u8 {
    var length: usize = 0;
    var position: u32 = 0;
    var count: u32 = 0;
    while (index.next_child(directory, position)) |child| : (count += 1) {
        assert(count < index.prologue.entry_count);
        if (length > 0) {
            out[length] = ' ';
            length += 1;
        }
        @memcpy(out[length..][0..child.name.len], child.name);
        length += child.name.len;
        position = child.next;
    }
    return out[0..length];
}

test "next_child lists a directory's own entries, not its grandchildren or its neighbours" {
    const tree = [_]TestFile{
        .{ .path = "a", .kind = .directory, .data = "" },
        .{ .path = "a-b", .kind = .file, .data = "x" }, // '-' sorts before '/'
        .{ .path = "a/b", .kind = .directory, .data = "" },
        .{ .path = "a/b/c", .kind = .file, .data = "c" },
        .{ .path = "a/d", .kind = .file, .data = "d" },
        .{ .path = "a0", .kind = .file, .data = "y" }, // '0' sorts after '/'
        .{ .path = "b", .kind = .directory, .data = "" },
    };
    const image = try build(testing.allocator, &tree);
    defer testing.allocator.free(image);
    const hash = index_hash(image);
    const prologue = try parse_prologue(image, image.len);
    const index = try Index.init(image[0..prologue.index_bytes], &hash, image.len);
    var out: [256]u8 = undefined;
    try testing.expectEqualStrings("a a-b a0 b", list_names(index, "", &out));
    try testing.expectEqualStrings("b d", list_names(index, "a", &out));
    try testing.expectEqualStrings("c", list_names(index, "a/b", &out));
    try testing.expectEqualStrings("", list_names(index, "b", &out));
    try testing.expectEqualStrings("", list_names(index, "a/d", &out));
}
