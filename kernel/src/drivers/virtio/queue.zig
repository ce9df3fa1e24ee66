//! A split virtqueue (virtio 1.x §2.7) in identity-mapped pages: descriptor table, available
//! ring (driver → device) and used ring (device → driver). The driver here is synchronous: it
//! posts one descriptor chain, notifies, and polls the used ring with a deadline, so it needs
//! no interrupts (and asks the device not to send any).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const pages = @import("../../memory/pages.zig");

pub const Descriptor = extern struct {
    address: u64,
    length: u32,
    flags: u16,
    next: u16,
};

pub const descriptor_next: u16 = 1;
pub const descriptor_write: u16 = 2; // Device writes this buffer.
const available_no_interrupt: u16 = 1;

pub const Buffer = struct { address: u64, length: u32, device_writes: bool };

pub const Queue = struct {
    size: u16,
    descriptors: [*]volatile Descriptor,
    /// flags, idx, ring[size], used_event
    available: [*]volatile u16,
    /// flags, idx, then size x {id: u32, len: u32}, avail_event
    used: [*]volatile u16,
    available_index: u16 = 0,
    used_index_seen: u16 = 0,

    /// Lays out a queue of `size` entries (a power of two) in fresh pages.
    pub fn create(size: u16) ?Queue {
        assert(std.math.isPowerOfTwo(size));
        assert(size <= constants.virtqueue_size_max);
        const descriptor_bytes = @as(u64, size) * @sizeOf(Descriptor);
        const available_bytes = 6 + 2 * @as(u64, size);
        const used_offset = std.mem.alignForward(u64, descriptor_bytes + available_bytes, 4);
        const used_bytes = 6 + 8 * @as(u64, size);
        const total = used_offset + used_bytes;
        const memory = pages.allocate(std.math.divCeil(u64, total, pages.page_bytes) catch
            unreachable) orelse return null;
        const base = @intFromPtr(memory);
        var queue: Queue = .{
            .size = size,
            .descriptors = @ptrFromInt(base),
            .available = @ptrFromInt(base + descriptor_bytes),
            .used = @ptrFromInt(base + used_offset),
        };
        queue.available[0] = available_no_interrupt;
        return queue;
    }

    pub fn descriptors_address(queue: *const Queue) u64 {
        return @intFromPtr(queue.descriptors);
    }
    pub fn available_address(queue: *const Queue) u64 {
        return @intFromPtr(queue.available);
    }
    pub fn used_address(queue: *const Queue) u64 {
        return @intFromPtr(queue.used);
    }

    /// Posts `buffers` as one chain starting at descriptor 0 (one request in flight at a time).
    pub fn post(queue: *Queue, buffers: []const Buffer) void {
        assert(buffers.len > 0 and buffers.len <= queue.size);
        for (buffers, 0..) |buffer, index| {
            const last = index + 1 == buffers.len;
            const flag_write: u16 = if (buffer.device_writes) descriptor_write else 0;
            queue.descriptors[index] = .{
                .address = buffer.address,
                .length = buffer.length,
                .flags = (if (last) 0 else descriptor_next) | flag_write,
                .next = if (last) 0 else @intCast(index + 1),
            };
        }
        queue.available[2 + queue.available_index % queue.size] = 0; // Chain head.
        queue.available_index +%= 1;
        // The ring entry and descriptors must be visible before the index moves.
        @atomicStore(u16, @volatileCast(&queue.available[1]), queue.available_index, .release);
    }

    /// Waits until the device has used the posted chain, until `deadline_tsc`. Returns the
    /// number of bytes the device wrote, or null on timeout.
    pub fn wait_used(queue: *Queue, deadline_tsc: u64, now_tsc: *const fn () u64) ?u32 {
        var polls: u64 = 0;
        while (true) : (polls += 1) {
            const index = @atomicLoad(u16, @volatileCast(&queue.used[1]), .acquire);
            if (index != queue.used_index_seen) {
                const slot = queue.used_index_seen % queue.size;
                // The used ring is 4-byte aligned (create), so its elements are too.
                const element: [*]volatile u32 = @ptrCast(@alignCast(&queue.used[2]));
                const written = element[slot * 2 + 1];
                queue.used_index_seen +%= 1;
                return written;
            }
            // Check the clock every 1024 polls: reading the TSC is cheap but not free.
            if (polls % 1024 == 0 and now_tsc() > deadline_tsc) return null;
            std.atomic.spinLoopHint();
        }
    }
};
