//! The image disk: the first virtio-blk device whose first sector holds the image magic. Opening
//! it verifies the header (its own sha256) and the whole rootfs index (against the header), so
//! every later lookup trusts the index; reading a whole file verifies each of its blocks and the
//! root they make (UKFS 2); io.open reads files block by block instead (block_file.zig).

const std = @import("std");
const assert = std.debug.assert;
const pages = @import("../memory/pages.zig");
const format = @import("format.zig");
const rootfs = @import("rootfs.zig");
const block = @import("../drivers/virtio/block/device.zig");
const block_file = @import("block_file.zig");

pub const Error = error{ OutOfMemory, NotAFile, FileTooLarge, FileHashMismatch } ||
    block.Error || format.Error || rootfs.Error;

pub const Disk = struct {
    device: *block.Device,
    header_bytes: *[format.header_bytes]u8,
    header: format.Header,
    index: rootfs.Index,
    rootfs_offset: u64,

    /// Verifies the header (already read into `header_bytes`) and reads and verifies the rootfs
    /// index. `header_bytes` must stay alive (the header's strings point into it).
    pub fn open(device: *block.Device, header_bytes: *[format.header_bytes]u8) Error!Disk {
        const header = try format.parse(header_bytes, device.capacity_sectors * block.sector_bytes);
        const section = header.section(.rootfs);
        assert(section.offset % block.sector_bytes == 0);
        var first: [block.sector_bytes]u8 align(8) = undefined;
        try device.read(section.offset / block.sector_bytes, &first);
        const prologue = try rootfs.parse_prologue(&first, section.size);
        const index_pages = std.math.divCeil(u64, prologue.index_bytes, pages.page_bytes) catch
            unreachable;
        const index_memory = pages.allocate(index_pages) orelse return error.OutOfMemory;
        const index_block = index_memory[0..prologue.index_bytes];
        try device.read(section.offset / block.sector_bytes, index_block);
        const index = try rootfs.Index.init(index_block, &header.rootfs_index_sha256, section.size);
        return .{
            .device = device,
            .header_bytes = header_bytes,
            .header = header,
            .index = index,
            .rootfs_offset = section.offset,
        };
    }

    /// Reads the file `entry` into fresh pages and checks it against its root (each block's
    /// sha256, then the sha256 of those); returns its bytes.
    pub fn read_file(disk: *Disk, entry: rootfs.Entry, bytes_max: u64) Error![]u8 {
        if (entry.kind != .file) return error.NotAFile;
        if (entry.size > bytes_max) return error.FileTooLarge;
        const padded = std.mem.alignForward(u64, @max(entry.size, 1), block.sector_bytes);
        const memory = pages.allocate(std.math.divCeil(u64, padded, pages.page_bytes) catch
            unreachable) orelse
            return error.OutOfMemory;
        const sector = (disk.rootfs_offset + entry.data_offset) / block.sector_bytes;
        try disk.device.read(sector, memory[0..padded]);
        const bytes = memory[0..entry.size];
        if (!block_file.whole_file_matches(entry, bytes)) return error.FileHashMismatch;
        return bytes;
    }

    /// The rootfs as block_file.zig reads it: sectors of this device from the rootfs section.
    pub fn source(disk: *Disk) block_file.Source {
        return .{ .context = disk, .read = &read_rootfs };
    }

    fn read_rootfs(context: *anyopaque, offset: u64, destination: []u8) bool {
        const disk: *Disk = @ptrCast(@alignCast(context));
        assert(offset % block.sector_bytes == 0);
        assert(destination.len % block.sector_bytes == 0);
        const sector = (disk.rootfs_offset + offset) / block.sector_bytes;
        disk.device.read(sector, destination) catch return false;
        return true;
    }
};

/// Whether a sector starts with the image magic (a quick check before the full parse).
pub fn looks_like_image(first_sector: []const u8) bool {
    return first_sector.len >= format.magic.len and std.mem.eql(
        u8,
        first_sector[0..format.magic.len],
        format.magic,
    );
}
