//! virtio-net (device id 1) over virtio-mmio v2: one receive queue (0) and one transmit queue
//! (1), Ethernet frames in and out. Portable across Firecracker and QEMU (slirp or tap): the
//! driver accepts VERSION_1, MAC (when offered) and EVENT_IDX (when offered) and nothing else
//! (no checksum or segmentation offload, no merged RX buffers, no control queue), so every frame
//! has a 12-byte header that is zero on TX and carries nothing on RX (networking.md §1).
//!
//! Every MMIO access and every interrupt is a VM exit (~15 µs under KVM here, ~41 µs for MMIO
//! from ring 3 under nested KVM), so the rings do the talking:
//!   - RX: net_queue_size buffers of 1526 bytes, all posted at set-up and re-posted as soon as a
//!     frame is consumed: the ring stays full. `receive` hands out one frame at a time.
//!   - TX: a frame is copied into a free TX buffer behind a zero header; completed buffers are
//!     reclaimed on the next transmit.
//!   - Buffers made available are published at once (a memory write); the device is notified in
//!     `flush`, at most once per queue per batch and only when it asked to be (EVENT_IDX's
//!     `avail_event`).
//!   - The device interrupts only when the CPU is about to halt: `interrupt_arm` asks for an
//!     interrupt at the next received frame (and the next TX completion when a transmit found the
//!     ring full) and tells the caller not to halt when work already waits.
//!
//! Used-ring entries are checked before use (a descriptor the device returns must be one we
//! posted, its length within the buffer): a broken device costs frames, never memory.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../../constants.zig");
const pages = @import("../../../memory/pages.zig");
const device_interrupts = @import("../../../arch/x86_64/device_interrupts.zig");
const mmio = @import("../mmio.zig");
const queue_module = @import("../queue.zig");
const Queue = queue_module.Queue;
const Announced = @import("../mmio_token.zig").Device;

/// Feature bits (virtio 1.2 §5.1.3, §6): VIRTIO_NET_F_MAC, VIRTIO_F_EVENT_IDX.
pub const feature_mac: u64 = 1 << 5;
pub const feature_event_index: u64 = 1 << 29;

const queue_receive: u32 = 0;
const queue_transmit: u32 = 1;
const queue_size = constants.net_queue_size;
const header_bytes = constants.net_header_bytes;
const stride_bytes = constants.net_buffer_stride_bytes;
const buffers_pages: u64 = @as(u64, queue_size) * stride_bytes / pages.page_bytes;

pub const Error = error{ NotNetwork, SetupFailed, OutOfMemory, InterruptRouting };
pub const TransmitError = error{
    /// Every TX buffer is in flight: try again after the device completes some (interrupt_arm
    /// then asks for an interrupt at the next TX completion).
    Busy,
    /// More than net_frame_bytes_max bytes, or none.
    BadLength,
};

/// Counters since set-up.
pub const Stats = struct {
    rx_frames: u64 = 0,
    /// Frames dropped: empty (header only) or longer than the buffer.
    rx_dropped: u64 = 0,
    tx_frames: u64 = 0,
    /// Transmits refused because the TX ring was full.
    tx_busy: u64 = 0,
    /// QueueNotify writes (each a VM exit).
    notifies: u64 = 0,
    /// Used-ring entries naming a descriptor we did not post (a device bug): ignored.
    device_errors: u64 = 0,
};

pub const Device = struct {
    transport: mmio.Transport,
    rx: Queue,
    tx: Queue,
    /// net_queue_size buffers each, net_buffer_stride_bytes apart; descriptor i is buffer i.
    rx_buffers: u64,
    tx_buffers: u64,
    mac_address: [6]u8,
    /// The device's interrupt line (device_interrupts.zig).
    line: u32,
    /// The RX descriptor whose frame `receive` handed out, until receive_done.
    rx_held: ?u16 = null,
    /// RX descriptors the device owns (posted, not yet returned).
    rx_posted: [queue_size]bool = @splat(true),
    /// TX descriptors the device owns, and the free ones (a stack).
    tx_in_flight: [queue_size]bool = @splat(false),
    tx_free: [queue_size]u16 = undefined,
    tx_free_count: u32 = queue_size,
    /// A transmit found the TX ring full: interrupt_arm asks for TX completions too.
    tx_waiting: bool = false,
    stats: Stats = .{},

    /// Sets up the virtio-net device `announced` on the command line: features, both queues,
    /// the RX ring filled, the interrupt line routed (its interrupts arrive only in a halt:
    /// they are off in ring 3), DRIVER_OK, and one notify for the posted RX buffers. About 45
    /// MMIO accesses and one supervisor call: 1.4–1.9 ms under nested KVM, where each access
    /// from ring 3 costs ~30 µs. Error.NotNetwork when the device there is something else.
    pub fn init(announced: Announced) Error!Device {
        const transport: mmio.Transport = .{ .base = announced.base };
        const id = transport.probe() catch return error.NotNetwork;
        if (id != .network) return error.NotNetwork;
        const accepted = transport.begin(feature_mac | feature_event_index) catch
            return error.SetupFailed;
        const suppression: queue_module.Suppression =
            if (accepted & feature_event_index != 0) .event_index else .flags;
        var device: Device = .{
            .transport = transport,
            .rx = Queue.create_for(queue_size, suppression) orelse return error.OutOfMemory,
            .tx = Queue.create_for(queue_size, suppression) orelse return error.OutOfMemory,
            .rx_buffers = @intFromPtr(pages.allocate(buffers_pages) orelse
                return error.OutOfMemory),
            .tx_buffers = @intFromPtr(pages.allocate(buffers_pages) orelse
                return error.OutOfMemory),
            .mac_address = undefined,
            .line = undefined,
        };
        device.buffers_post();
        transport.setup_queue(queue_receive, &device.rx) catch return error.SetupFailed;
        transport.setup_queue(queue_transmit, &device.tx) catch return error.SetupFailed;
        device.mac_address = if (accepted & feature_mac != 0)
            mac_read(transport)
        else
            derived_mac(announced.base);
        device.line = transport.route_interrupt(announced) catch return error.InterruptRouting;
        transport.finish();
        device.flush();
        assert(device.tx_free_count == queue_size);
        return device;
    }

    /// Descriptor i ↔ buffer i, for good: RX descriptors device-writable and all made available,
    /// TX descriptors read-only and free. Neither queue interrupts until interrupt_arm.
    fn buffers_post(device: *Device) void {
        for (0..queue_size) |index| {
            const id: u16 = @intCast(index);
            device.rx.descriptor_set(id, .{
                .address = device.rx_buffers + index * stride_bytes,
                .length = constants.net_rx_buffer_bytes,
                .device_writes = true,
            });
            device.rx.available_push(id);
            device.tx.descriptor_set(id, .{
                .address = device.tx_buffers + index * stride_bytes,
                .length = 0,
                .device_writes = false,
            });
            device.tx_free[index] = @intCast(queue_size - 1 - index);
        }
        device.rx.interrupt_defer();
        device.tx.interrupt_defer();
    }

    pub fn mac(device: *const Device) [6]u8 {
        return device.mac_address;
    }

    /// The IP MTU: 1500 (VIRTIO_NET_F_MTU is not negotiated; slirp's and a default tap's).
    pub fn mtu(device: *const Device) u32 {
        _ = device;
        return constants.net_mtu_bytes;
    }

    /// The next received Ethernet frame (the virtio header stripped), or null when none waits.
    /// The bytes stay valid until receive_done, which must come before the next receive.
    pub fn receive(device: *Device) ?[]const u8 {
        assert(device.rx_held == null);
        // Each round consumes one used entry; the device cannot have returned more than the
        // ring holds without our reposting.
        var rounds: u32 = 0;
        while (rounds < queue_size) : (rounds += 1) {
            const used = device.rx.used_pop() orelse return null;
            if (used.id >= queue_size or !device.rx_posted[used.id]) {
                device.stats.device_errors += 1;
                continue;
            }
            const id: u16 = @intCast(used.id);
            device.rx_posted[id] = false;
            if (used.length <= header_bytes or used.length > constants.net_rx_buffer_bytes) {
                device.stats.rx_dropped += 1;
                device.rx_repost(id);
                continue;
            }
            device.rx_held = id;
            device.stats.rx_frames += 1;
            const address = device.rx_buffers + @as(u64, id) * stride_bytes;
            const buffer: [*]const u8 = @ptrFromInt(address);
            return buffer[header_bytes..used.length];
        }
        return null;
    }

    /// The frame `receive` returned is consumed: its buffer goes back to the device (notified
    /// in the next flush, if the device asks).
    pub fn receive_done(device: *Device) void {
        const id = device.rx_held.?;
        device.rx_held = null;
        device.rx_repost(id);
    }

    fn rx_repost(device: *Device, id: u16) void {
        assert(!device.rx_posted[id]);
        device.rx_posted[id] = true;
        device.rx.available_push(id);
    }

    /// Copies one Ethernet frame, given in pieces (an lwIP pbuf chain), into a free TX buffer
    /// behind a zero virtio header and makes it available; the device hears of it in the next
    /// flush. Reclaims completed TX buffers first. error.Busy when all are in flight.
    pub fn transmit(device: *Device, parts: []const []const u8) TransmitError!void {
        var length: u64 = 0;
        for (parts) |part| length += part.len;
        if (length == 0 or length > constants.net_frame_bytes_max) return error.BadLength;
        device.tx_reclaim();
        if (device.tx_free_count == 0) {
            device.tx_waiting = true;
            device.stats.tx_busy += 1;
            return error.Busy;
        }
        device.tx_waiting = false;
        device.tx_free_count -= 1;
        const id = device.tx_free[device.tx_free_count];
        assert(!device.tx_in_flight[id]);
        const buffer: [*]u8 = @ptrFromInt(device.tx_buffers + @as(u64, id) * stride_bytes);
        @memset(buffer[0..header_bytes], 0);
        var offset: u64 = header_bytes;
        for (parts) |part| {
            @memcpy(buffer[offset..][0..part.len], part);
            offset += part.len;
        }
        assert(offset == header_bytes + length);
        device.tx.descriptor_length_set(id, @intCast(offset));
        device.tx_in_flight[id] = true;
        device.tx.available_push(id);
        device.stats.tx_frames += 1;
    }

    /// Whether the device has finished every queued transmit (reclaiming what it has): before
    /// the VM stops, frames still in the ring would be lost.
    pub fn transmit_idle(device: *Device) bool {
        device.tx_reclaim();
        assert(device.tx_free_count <= queue_size);
        return device.tx_free_count == queue_size;
    }

    /// Takes the TX buffers the device has finished with back into the free stack.
    fn tx_reclaim(device: *Device) void {
        var rounds: u32 = 0;
        while (rounds < queue_size) : (rounds += 1) {
            const used = device.tx.used_pop() orelse return;
            if (used.id >= queue_size or !device.tx_in_flight[used.id]) {
                device.stats.device_errors += 1;
                continue;
            }
            device.tx_in_flight[used.id] = false;
            assert(device.tx_free_count < queue_size);
            device.tx_free[device.tx_free_count] = @intCast(used.id);
            device.tx_free_count += 1;
        }
    }

    /// Tells the device about the RX buffers re-posted and the frames queued since the last
    /// flush: at most one QueueNotify per queue, and none when the device did not ask for one
    /// (EVENT_IDX: the batch did not pass its avail_event; it is still working through the
    /// ring). Call it once per batch, never per frame.
    pub fn flush(device: *Device) void {
        // Without EVENT_IDX the flag interrupt_arm cleared stays clear until set again: the
        // CPU is busy now (interrupts only end halts), so frames need not interrupt.
        if (device.rx.suppression == .flags) device.rx.interrupt_defer();
        if (device.rx.kick_needed()) {
            device.transport.notify(queue_receive);
            device.stats.notifies += 1;
        }
        if (device.tx.kick_needed()) {
            device.transport.notify(queue_transmit);
            device.stats.notifies += 1;
        }
    }

    /// Before the CPU halts: flushes (a frame queued but not notified would wait for the halt
    /// to end), then asks for an interrupt at the next received frame (and at the next TX
    /// completion when a transmit found the ring full; otherwise TX completions stay silent).
    /// Returns true when work is already waiting (a frame, or TX space for a waiting transmit):
    /// then do not halt, its interrupt may never come. Memory only (no VM exit) unless the
    /// flush notifies.
    pub fn interrupt_arm(device: *Device) bool {
        device.flush();
        const received = device.rx.interrupt_arm();
        // Completions are taken here, so a finished transmit is not "work" again and again
        // (nothing else pops them while no transmit comes): room for a waiting transmit is.
        device.tx_reclaim();
        if (device.tx_waiting and device.tx_free_count > 0) return true;
        if (!device.tx_waiting) {
            device.tx.interrupt_defer();
            return received;
        }
        const transmitted = device.tx.interrupt_arm();
        if (transmitted) device.tx_reclaim();
        return received or (device.tx_free_count > 0);
    }

    /// After a transmit found the ring full: true once, when room came back (the caller has
    /// lwIP send again what it held), clearing the wait. Reclaims finished transmits.
    pub fn transmit_room_returned(device: *Device) bool {
        if (!device.tx_waiting) return false;
        device.tx_reclaim();
        if (device.tx_free_count == 0) return false;
        device.tx_waiting = false;
        return true;
    }

    /// Whether the device's interrupt fired since the last call (its InterruptStatus bits were
    /// seen by the handler). Cheap: a memory read.
    pub fn interrupted(device: *Device) bool {
        return device_interrupts.pending_take(device.line) != 0;
    }

    /// Interrupts taken on the device's line since set-up.
    pub fn interrupts(device: *const Device) u64 {
        return device_interrupts.count(device.line);
    }

    /// Interrupts taken that found the device's InterruptStatus clear (nothing to acknowledge).
    pub fn interrupts_empty(device: *const Device) u64 {
        return device_interrupts.count_empty(device.line);
    }
};

/// The MAC in config space (offset 0, six bytes), valid with VIRTIO_NET_F_MAC. Byte accesses:
/// virtio-mmio config fields are read at their own width (virtio 1.2 §4.2.2.2).
fn mac_read(transport: mmio.Transport) [6]u8 {
    var address: [6]u8 = undefined;
    for (&address, 0..) |*byte, offset| byte.* = transport.config_read(u8, offset);
    return address;
}

/// A MAC for a device that offers none (Firecracker without `guest_mac`): locally administered
/// and unicast (first octet 0x02, IEEE 802 §8.2), "uk" (0x75 0x6b), then the low 24 bits of the
/// device's page number: the same on every boot of one VM configuration, different per device.
pub fn derived_mac(base: u64) [6]u8 {
    const page: u64 = base >> 12;
    return .{ 0x02, 0x75, 0x6b, @truncate(page >> 16), @truncate(page >> 8), @truncate(page) };
}

test "derived MAC: locally administered, unicast, stable, per device" {
    const first = derived_mac(0xc000_2000);
    try std.testing.expectEqualSlices(u8, &.{ 0x02, 0x75, 0x6b, 0x0c, 0x00, 0x02 }, &first);
    try std.testing.expect(first[0] & 0x02 != 0); // locally administered
    try std.testing.expect(first[0] & 0x01 == 0); // unicast
    const second = derived_mac(0xc000_3000);
    try std.testing.expect(!std.mem.eql(u8, &first, &second));
}

/// Host stand-in for the device's side of both rings.
const FakeDevice = struct {
    device: *Device,
    rx_used: u16 = 0,
    tx_used: u16 = 0,

    fn used_push(queue: *Queue, index: *u16, id: u32, length: u32) void {
        const element: [*]volatile u32 = @ptrCast(@alignCast(&queue.used[2]));
        element[(index.* % queue.size) * 2] = id;
        element[(index.* % queue.size) * 2 + 1] = length;
        index.* +%= 1;
        queue.used[1] = index.*;
    }

    /// The device writes `frame` into RX buffer `id` (behind a zero header), or claims it did.
    fn receive(fake: *FakeDevice, id: u32, frame: []const u8, length: u32) void {
        if (id < queue_size) {
            const buffer: [*]u8 = @ptrFromInt(fake.device.rx_buffers + id * stride_bytes);
            @memset(buffer[0..header_bytes], 0);
            @memcpy(buffer[header_bytes..][0..frame.len], frame);
        }
        used_push(&fake.device.rx, &fake.rx_used, id, length);
    }

    /// The device has sent the next `count` frames made available on TX.
    fn transmitted(fake: *FakeDevice, count: u16) void {
        for (0..count) |_| {
            const tx = &fake.device.tx;
            const head = tx.available[2 + fake.tx_used % tx.size];
            used_push(tx, &fake.tx_used, head, 0);
        }
    }
};

const TestMemory = struct {
    rx_ring: []align(4096) u8,
    tx_ring: []align(4096) u8,
    rx_buffers: []align(4096) u8,
    tx_buffers: []align(4096) u8,
    registers: []align(4096) u8,

    fn create() !TestMemory {
        const allocator = std.testing.allocator;
        const ring_bytes = queue_module.bytes_for(queue_size);
        const buffer_bytes = buffers_pages * pages.page_bytes;
        var memory: TestMemory = undefined;
        inline for (.{ "rx_ring", "tx_ring", "rx_buffers", "tx_buffers", "registers" }) |name| {
            const bytes = if (comptime std.mem.endsWith(u8, name, "ring"))
                ring_bytes
            else if (comptime std.mem.eql(u8, name, "registers")) 4096 else buffer_bytes;
            @field(memory, name) = try allocator.alignedAlloc(u8, .fromByteUnits(4096), bytes);
            @memset(@field(memory, name), 0);
        }
        return memory;
    }

    fn destroy(memory: *TestMemory) void {
        inline for (.{ "rx_ring", "tx_ring", "rx_buffers", "tx_buffers", "registers" }) |name| {
            std.testing.allocator.free(@field(memory, name));
        }
    }

    /// A device over this memory, as init leaves it (without the MMIO set-up).
    fn device(memory: *TestMemory) Device {
        var result: Device = .{
            .transport = .{ .base = @intFromPtr(memory.registers.ptr) },
            .rx = Queue.layout(@intFromPtr(memory.rx_ring.ptr), queue_size, .event_index),
            .tx = Queue.layout(@intFromPtr(memory.tx_ring.ptr), queue_size, .event_index),
            .rx_buffers = @intFromPtr(memory.rx_buffers.ptr),
            .tx_buffers = @intFromPtr(memory.tx_buffers.ptr),
            .mac_address = derived_mac(0xc000_1000),
            .line = 0,
        };
        result.buffers_post();
        return result;
    }
};

test "receive: frames in order, header stripped, bad entries dropped and counted, ring kept full" {
    var memory = try TestMemory.create();
    defer memory.destroy();
    var device = memory.device();
    var fake: FakeDevice = .{ .device = &device };
    // Every RX buffer is posted; the first flush kicks RX once (avail_event 0), then nothing.
    try std.testing.expectEqual(queue_size, device.rx.available[1]);
    device.flush();
    device.flush();
    try std.testing.expectEqual(@as(u64, 1), device.stats.notifies);
    try std.testing.expect(device.receive() == null);

    const frame = [_]u8{0xab} ** 60;
    fake.receive(5, &frame, header_bytes + frame.len);
    fake.receive(6, &frame, header_bytes); // header only: dropped
    fake.receive(7, &frame, constants.net_rx_buffer_bytes + 1); // longer than the buffer
    fake.receive(queue_size + 3, &frame, 100); // a descriptor we never posted
    fake.receive(8, frame[0..14], header_bytes + 14);
    const first = device.receive().?;
    try std.testing.expectEqualSlices(u8, &frame, first);
    const first_address = device.rx_buffers + 5 * stride_bytes + header_bytes;
    try std.testing.expectEqual(first_address, @intFromPtr(first.ptr));
    device.receive_done();
    const second = device.receive().?;
    try std.testing.expectEqual(@as(usize, 14), second.len);
    device.receive_done();
    try std.testing.expect(device.receive() == null);
    try std.testing.expectEqual(@as(u64, 2), device.stats.rx_frames);
    try std.testing.expectEqual(@as(u64, 2), device.stats.rx_dropped);
    try std.testing.expectEqual(@as(u64, 1), device.stats.device_errors);
    // The four real buffers went back: the ring is full again.
    try std.testing.expectEqual(queue_size + 4, device.rx.available[1]);
    for (device.rx_posted) |posted| try std.testing.expect(posted);
}

test "transmit: copied behind a zero header, Busy when every buffer is in flight, reclaimed" {
    var memory = try TestMemory.create();
    defer memory.destroy();
    var device = memory.device();
    var fake: FakeDevice = .{ .device = &device };
    try std.testing.expectError(error.BadLength, device.transmit(&.{}));
    const too_long = [_]u8{0} ** (constants.net_frame_bytes_max + 1);
    try std.testing.expectError(error.BadLength, device.transmit(&.{&too_long}));

    try device.transmit(&.{ "dst-mac", "src-mac+type", "payload" });
    const head = device.tx.available[2];
    const buffer: [*]const u8 = @ptrFromInt(device.tx_buffers + @as(u64, head) * stride_bytes);
    try std.testing.expectEqualSlices(u8, &([_]u8{0} ** header_bytes), buffer[0..header_bytes]);
    const sent = buffer[header_bytes..][0..26];
    try std.testing.expectEqualSlices(u8, "dst-macsrc-mac+typepayload", sent);
    try std.testing.expectEqual(@as(u32, header_bytes + 26), device.tx.descriptors[head].length);
    // Fill the ring: the 257th transmit finds no free buffer.
    for (1..queue_size) |_| try device.transmit(&.{"frame"});
    try std.testing.expectError(error.Busy, device.transmit(&.{"frame"}));
    try std.testing.expect(device.tx_waiting);
    // Waiting: arming asks for the next TX completion; none is there yet.
    try std.testing.expect(!device.interrupt_arm());
    fake.transmitted(2);
    try std.testing.expect(device.interrupt_arm()); // Completions wait: do not halt.
    try device.transmit(&.{"frame"});
    try std.testing.expect(!device.tx_waiting);
    try std.testing.expectEqual(@as(u32, 1), device.tx_free_count);
    try std.testing.expectEqual(@as(u64, queue_size + 1), device.stats.tx_frames);
    try std.testing.expectEqual(@as(u64, 1), device.stats.tx_busy);
    // One flush, one TX notify for the whole batch (and the RX kick of the posted buffers).
    device.flush();
    try std.testing.expectEqual(@as(u64, 2), device.stats.notifies);
}
