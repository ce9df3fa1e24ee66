//! A split virtqueue (virtio 1.x §2.7) in identity-mapped pages: descriptor table, available
//! ring (driver → device) and used ring (device → driver).
//!
//! Two ways to drive one:
//!   - synchronous (virtio-blk): `post` one descriptor chain from descriptor 0, notify, and
//!     `wait_used` with a deadline; the device is asked never to interrupt (avail flags bit 0).
//!   - streaming with VIRTIO_F_EVENT_IDX (virtio-net): descriptors set once (`descriptor_set`),
//!     heads made available one by one (`available_push`), the device kicked once per batch and
//!     only when it asked to be (`kick_needed`: its `avail_event`), completions taken with
//!     `used_pop`, and interrupts requested only before the CPU halts (`interrupt_arm`: our
//!     `used_event`) and pushed 2^16 completions away otherwise (`interrupt_defer`).
//!
//! The rings always have room for `used_event` (after the available ring) and `avail_event`
//! (after the used ring): 2 bytes each, unused without EVENT_IDX.

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
/// avail.flags VIRTQ_AVAIL_F_NO_INTERRUPT and used.flags VIRTQ_USED_F_NO_NOTIFY (§2.7.7).
const available_no_interrupt: u16 = 1;
const used_no_notify: u16 = 1;

pub const Buffer = struct { address: u64, length: u32, device_writes: bool };

/// One used-ring element: the head descriptor of a chain and the bytes the device wrote.
pub const Used = struct { id: u32, length: u32 };

/// How notifications are suppressed (virtio 1.2 §2.7.7, §2.7.10).
pub const Suppression = enum {
    /// Without EVENT_IDX: the flags. The device is asked not to interrupt (avail flags =
    /// NO_INTERRUPT) until interrupt_arm; it says NO_NOTIFY in the used flags.
    flags,
    /// VIRTIO_F_EVENT_IDX negotiated: flags stay 0, `used_event`/`avail_event` decide.
    event_index,
};

/// vring_need_event (virtio 1.2 §2.7.10 and its virtio_queue.h): whether an index moving from
/// `old` to `new` (mod 2^16) passed `event`, i.e. `event + 1` lies in (old, new]. The driver
/// kicks when the available index passes the device's `avail_event`; the device interrupts when
/// the used index passes the driver's `used_event`.
pub fn need_event(event: u16, new: u16, old: u16) bool {
    return new -% event -% 1 < new -% old;
}

/// Bytes a queue of `size` entries takes: descriptors, available ring (flags, idx, ring,
/// used_event), padding to 4, used ring (flags, idx, ring of 8-byte elements, avail_event).
pub fn bytes_for(size: u16) u64 {
    return used_offset(size) + 6 + 8 * @as(u64, size);
}

fn used_offset(size: u16) u64 {
    const descriptor_bytes = @as(u64, size) * @sizeOf(Descriptor);
    const available_bytes = 6 + 2 * @as(u64, size);
    return std.mem.alignForward(u64, descriptor_bytes + available_bytes, 4);
}

pub const Queue = struct {
    size: u16,
    descriptors: [*]volatile Descriptor,
    /// flags, idx, ring[size], used_event
    available: [*]volatile u16,
    /// flags, idx, then size x {id: u32, len: u32}, avail_event
    used: [*]volatile u16,
    available_index: u16 = 0,
    used_index_seen: u16 = 0,
    /// The available index when kick_needed last looked: the batch since is [kicked, index).
    available_index_kicked: u16 = 0,
    suppression: Suppression = .flags,

    /// Lays out a queue of `size` entries (a power of two) in fresh pages, asking the device not
    /// to interrupt (a polled queue).
    pub fn create(size: u16) ?Queue {
        return create_for(size, .flags);
    }

    pub fn create_for(size: u16, suppression: Suppression) ?Queue {
        assert(std.math.isPowerOfTwo(size));
        assert(size <= constants.virtqueue_size_max);
        const page_count = std.math.divCeil(u64, bytes_for(size), pages.page_bytes) catch
            unreachable;
        const memory = pages.allocate(page_count) orelse return null;
        return layout(@intFromPtr(memory), size, suppression);
    }

    /// A queue in the zeroed, page-aligned memory at `base` (bytes_for(size) bytes).
    pub fn layout(base: u64, size: u16, suppression: Suppression) Queue {
        assert(base % 4096 == 0);
        assert(std.math.isPowerOfTwo(size));
        const descriptor_bytes = @as(u64, size) * @sizeOf(Descriptor);
        var queue: Queue = .{
            .size = size,
            .descriptors = @ptrFromInt(base),
            .available = @ptrFromInt(base + descriptor_bytes),
            .used = @ptrFromInt(base + used_offset(size)),
            .suppression = suppression,
        };
        queue.available[0] = if (suppression == .flags) available_no_interrupt else 0;
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
        queue.available_push(0); // Chain head.
    }

    /// Waits until the device has used the posted chain, until `deadline_tsc`. Returns the
    /// number of bytes the device wrote, or null on timeout.
    pub fn wait_used(queue: *Queue, deadline_tsc: u64, now_tsc: *const fn () u64) ?u32 {
        var polls: u64 = 0;
        while (true) : (polls += 1) {
            if (queue.used_pop()) |used| return used.length;
            // Check the clock every 1024 polls: reading the TSC is cheap but not free.
            if (polls % 1024 == 0 and now_tsc() > deadline_tsc) return null;
            std.atomic.spinLoopHint();
        }
    }

    /// Sets descriptor `index` to one buffer, no chain.
    pub fn descriptor_set(queue: *Queue, index: u16, buffer: Buffer) void {
        assert(index < queue.size);
        queue.descriptors[index] = .{
            .address = buffer.address,
            .length = buffer.length,
            .flags = if (buffer.device_writes) descriptor_write else 0,
            .next = 0,
        };
    }

    pub fn descriptor_length_set(queue: *Queue, index: u16, length: u32) void {
        assert(index < queue.size);
        queue.descriptors[index].length = length;
    }

    /// Makes the chain at `head` available and publishes the index (a kick may follow, per
    /// batch: kick_needed). The caller keeps at most `size` chains outstanding.
    pub fn available_push(queue: *Queue, head: u16) void {
        assert(head < queue.size);
        queue.available[2 + queue.available_index % queue.size] = head;
        queue.available_index +%= 1;
        // The ring entry and descriptors must be visible before the index moves.
        @atomicStore(u16, @volatileCast(&queue.available[1]), queue.available_index, .release);
    }

    /// Whether the device must be notified of the chains made available since the last call:
    /// with EVENT_IDX when the batch passed its `avail_event`, else unless it set NO_NOTIFY.
    /// The index was stored before, and the device's field is read after a full fence (x86
    /// may let that load pass the store; virtio 1.2 §2.7.13.4 requires the barrier).
    pub fn kick_needed(queue: *Queue) bool {
        const new = queue.available_index;
        const old = queue.available_index_kicked;
        if (new == old) return false;
        queue.available_index_kicked = new;
        memory_fence();
        if (queue.suppression == .flags) return queue.used[0] & used_no_notify == 0;
        const event = queue.used[2 + 4 * @as(u64, queue.size)];
        return need_event(event, new, old);
    }

    /// The next completion, or null when the device has used nothing new.
    pub fn used_pop(queue: *Queue) ?Used {
        const index = @atomicLoad(u16, @volatileCast(&queue.used[1]), .acquire);
        if (index == queue.used_index_seen) return null;
        const slot = queue.used_index_seen % queue.size;
        // The used ring is 4-byte aligned (layout), so its elements are too.
        const element: [*]volatile u32 = @ptrCast(@alignCast(&queue.used[2]));
        queue.used_index_seen +%= 1;
        return .{ .id = element[slot * 2], .length = element[slot * 2 + 1] };
    }

    /// Asks for an interrupt at the next completion; true when one is already there (then the
    /// interrupt may never come: do not wait for it). With EVENT_IDX `used_event` = the next
    /// index we have not seen; the used index is read again after a full fence, or a completion
    /// that raced the store would be missed (virtio 1.2 §2.7.14, note after the driver rules).
    pub fn interrupt_arm(queue: *Queue) bool {
        if (queue.suppression == .event_index) {
            queue.available[2 + @as(u64, queue.size)] = queue.used_index_seen;
        } else {
            queue.available[0] = 0;
        }
        memory_fence();
        return @atomicLoad(u16, @volatileCast(&queue.used[1]), .acquire) != queue.used_index_seen;
    }

    /// Asks for no interrupt: with EVENT_IDX `used_event` one behind what we have seen, which the
    /// used index passes again only 2^16 completions later (an early wake-up then, harmless).
    pub fn interrupt_defer(queue: *Queue) void {
        if (queue.suppression == .event_index) {
            queue.available[2 + @as(u64, queue.size)] = queue.used_index_seen -% 1;
        } else {
            queue.available[0] = available_no_interrupt;
        }
    }
};

/// A full fence: orders our earlier stores before our later loads (x86 reorders those).
inline fn memory_fence() void {
    asm volatile ("mfence" ::: .{ .memory = true });
}

const testing = std.testing;

test "need_event: the event index is passed when event + 1 lies in (old, new], mod 2^16" {
    try testing.expect(need_event(0, 1, 0));
    try testing.expect(!need_event(1, 1, 0));
    try testing.expect(need_event(4, 8, 0));
    try testing.expect(!need_event(8, 8, 0));
    try testing.expect(need_event(7, 8, 0));
    // No movement never needs an event.
    try testing.expect(!need_event(5, 5, 5));
    // Wrapping: 0xffff + 1 = 0 lies in (0xfffe, 2].
    try testing.expect(need_event(0xffff, 2, 0xfffe));
    try testing.expect(!need_event(0xfffd, 2, 0xfffe));
    // An event one behind `old` is passed again only after 2^16 - 1 more.
    try testing.expect(!need_event(9, 10 +% 0xfff0, 10));
}

/// Host stand-in for a device: takes available heads in order, completes them.
const FakeDevice = struct {
    queue: *Queue,
    available_seen: u16 = 0,
    used_index: u16 = 0,
    /// Interrupts the device would have raised (the used_event rule).
    interrupts: u32 = 0,

    fn avail_event_set(device: *FakeDevice, value: u16) void {
        device.queue.used[2 + 4 * @as(u64, device.queue.size)] = value;
    }

    /// Completes every available chain, writing `length` bytes each; counts the interrupt the
    /// spec's rule would raise.
    fn complete_all(device: *FakeDevice, length: u32) void {
        const queue = device.queue;
        const old = device.used_index;
        var count: u32 = 0;
        while (device.available_seen != queue.available[1]) : (count += 1) {
            assert(count <= queue.size);
            const head = queue.available[2 + device.available_seen % queue.size];
            const element: [*]volatile u32 = @ptrCast(@alignCast(&queue.used[2]));
            element[(device.used_index % queue.size) * 2] = head;
            element[(device.used_index % queue.size) * 2 + 1] = length;
            device.used_index +%= 1;
            device.available_seen +%= 1;
        }
        queue.used[1] = device.used_index;
        const used_event = queue.available[2 + @as(u64, queue.size)];
        if (need_event(used_event, device.used_index, old)) device.interrupts += 1;
    }
};

test "queue: a batch is kicked once, and only when the device asked; interrupts only when armed" {
    const size: u16 = 8;
    const memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(4096), 4096);
    defer testing.allocator.free(memory);
    @memset(memory, 0);
    try testing.expect(bytes_for(size) <= memory.len);
    var queue = Queue.layout(@intFromPtr(memory.ptr), size, .event_index);
    try testing.expectEqual(@as(u16, 0), queue.available[0]); // flags 0 with EVENT_IDX
    var device: FakeDevice = .{ .queue = &queue };
    for (0..size) |index| {
        const buffer: Buffer = .{ .address = 0x1000, .length = 64, .device_writes = true };
        queue.descriptor_set(@intCast(index), buffer);
    }
    // Three buffers; the device's avail_event is 0 (kick when index passes 1): one kick.
    for (0..3) |head| queue.available_push(@intCast(head));
    try testing.expect(queue.kick_needed());
    try testing.expect(!queue.kick_needed()); // Nothing new.
    // The device is busy and says "kick me past 5": two more do not, a third does.
    device.avail_event_set(5);
    queue.available_push(3);
    queue.available_push(4);
    try testing.expect(!queue.kick_needed());
    queue.available_push(5);
    queue.available_push(6);
    try testing.expect(queue.kick_needed());
    // Deferred: completions raise no interrupt.
    queue.interrupt_defer();
    device.complete_all(100);
    try testing.expectEqual(@as(u32, 0), device.interrupts);
    // Armed while completions wait: arm says so (no halt), and they are all popped.
    try testing.expect(queue.interrupt_arm());
    var popped: u32 = 0;
    while (queue.used_pop()) |used| : (popped += 1) {
        try testing.expectEqual(popped, used.id);
        try testing.expectEqual(@as(u32, 100), used.length);
    }
    try testing.expectEqual(@as(u32, 7), popped);
    // Armed with nothing pending: the next completion interrupts, once.
    try testing.expect(!queue.interrupt_arm());
    queue.available_push(7);
    device.complete_all(60);
    try testing.expectEqual(@as(u32, 1), device.interrupts);
    queue.available_push(0);
    device.complete_all(60);
    try testing.expectEqual(@as(u32, 1), device.interrupts);
}

test "queue: a polled queue asks for no interrupt and kicks unless the device says NO_NOTIFY" {
    const memory = try testing.allocator.alignedAlloc(u8, .fromByteUnits(4096), 4096);
    defer testing.allocator.free(memory);
    @memset(memory, 0);
    var queue = Queue.layout(@intFromPtr(memory.ptr), 4, .flags);
    try testing.expectEqual(available_no_interrupt, queue.available[0]);
    queue.post(&.{.{ .address = 0x2000, .length = 16, .device_writes = false }});
    try testing.expect(queue.kick_needed());
    queue.used[0] = used_no_notify;
    queue.post(&.{.{ .address = 0x2000, .length = 16, .device_writes = false }});
    try testing.expect(!queue.kick_needed());
}
