//! Channels: bounded message queues between tasks. A channel holds up to `capacity` messages of
//! up to `message_bytes_max` bytes each, in one ring buffer of fixed-size slots (a length word,
//! then the bytes). Sending to a full channel waits (backpressure) or fails with would_block;
//! receiving from an empty one waits or fails likewise. Closing stops sends at once; receivers
//! still get what is queued, then `closed`. Every state change wakes the tasks waiting on the
//! channel (including io.poll waiters).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const scheduler = @import("../sched/scheduler.zig");
const heap = @import("../memory/heap.zig");

pub const Error = error{ OutOfRange, LimitReached, NoMemory, WouldBlock, Closed, TooLarge };

const Channel = struct {
    in_use: bool = false,
    closed: bool = false,
    capacity: u32 = 0,
    message_bytes_max: u32 = 0,
    head: u32 = 0,
    count: u32 = 0,
    storage: u64 = 0,
    storage_bytes: u64 = 0,

    fn slot_bytes(channel: *const Channel) u64 {
        return 4 + @as(u64, channel.message_bytes_max);
    }

    fn slot(channel: *const Channel, index: u32) [*]u8 {
        assert(index < channel.capacity);
        return @ptrFromInt(channel.storage + index * channel.slot_bytes());
    }
};

var channels: [constants.channels_max]Channel = [_]Channel{.{}} ** constants.channels_max;
var storage_bytes_total: u64 = 0;
var kernel_heap: *heap.Heap = undefined;

/// Sets (or resets, for host tests) the channel table: every channel free.
pub fn init(kernel: *heap.Heap) void {
    kernel_heap = kernel;
    channels = [_]Channel{.{}} ** constants.channels_max;
    storage_bytes_total = 0;
}

pub fn create(capacity: u32, message_bytes_max: u32) Error!u32 {
    if (capacity == 0 or capacity > constants.channel_capacity_max) return error.OutOfRange;
    if (message_bytes_max == 0) return error.OutOfRange;
    if (message_bytes_max > constants.channel_message_bytes_max) return error.OutOfRange;
    const index = for (channels, 0..) |channel, index| {
        if (!channel.in_use) break index;
    } else return error.LimitReached;
    const bytes = @as(u64, capacity) * (4 + @as(u64, message_bytes_max));
    if (storage_bytes_total + bytes > constants.channel_storage_bytes_max) return error.NoMemory;
    const storage = kernel_heap.alloc(bytes, 8) catch return error.NoMemory;
    assert(storage % 8 == 0);
    storage_bytes_total += bytes;
    channels[index] = .{
        .in_use = true,
        .capacity = capacity,
        .message_bytes_max = message_bytes_max,
        .storage = storage,
        .storage_bytes = bytes,
    };
    return @intCast(index);
}

/// Queues `message`; a full channel waits for room (or fails with WouldBlock when
/// `nonblocking`). Each round follows a wake-up: a receive made room or a close ended the wait.
pub fn send(index: u32, message: []const u8, nonblocking: bool) Error!void {
    const channel = &channels[index];
    assert(channel.in_use);
    if (message.len > channel.message_bytes_max) return error.TooLarge;
    assert(channel.count <= channel.capacity);
    var waits: u64 = 0;
    while (true) : (waits += 1) {
        if (channel.closed) return error.Closed;
        if (channel.count < channel.capacity) break;
        if (nonblocking) return error.WouldBlock;
        if (waits == 0) {
            _ = scheduler.block(.channel_send, index, scheduler.deadline_none);
        } else {
            _ = scheduler.block_again(.channel_send, index, scheduler.deadline_none);
        }
    }
    assert(!channel.closed);
    assert(channel.count < channel.capacity);
    const slot = channel.slot((channel.head + channel.count) % channel.capacity);
    std.mem.writeInt(u32, slot[0..4], @intCast(message.len), .little);
    @memcpy(slot[4..][0..message.len], message);
    channel.count += 1;
    notify(index);
}

/// Receives one message; returns its length. An empty channel waits for one (or fails with
/// WouldBlock when `nonblocking`); an empty closed channel fails with Closed.
pub fn receive(index: u32, buffer: []u8, nonblocking: bool) Error!usize {
    const channel = &channels[index];
    assert(channel.in_use);
    var waits: u64 = 0;
    while (channel.count == 0) : (waits += 1) {
        if (channel.closed) return error.Closed;
        if (nonblocking) return error.WouldBlock;
        if (waits == 0) {
            _ = scheduler.block(.channel_receive, index, scheduler.deadline_none);
        } else {
            _ = scheduler.block_again(.channel_receive, index, scheduler.deadline_none);
        }
    }
    assert(channel.count > 0);
    assert(channel.count <= channel.capacity);
    const slot = channel.slot(channel.head);
    const length = std.mem.readInt(u32, slot[0..4], .little);
    assert(length <= channel.message_bytes_max);
    if (buffer.len < length) return error.TooLarge; // The message stays queued.
    @memcpy(buffer[0..length], slot[4..][0..length]);
    channel.head = (channel.head + 1) % channel.capacity;
    channel.count -= 1;
    notify(index);
    return length;
}

/// First close: no more sends; queued messages can still be received. The handle stays valid
/// so receivers see `closed`. Returns true when the channel was already closed: the caller then
/// releases the handle, and the channel's memory is freed here.
pub fn close(index: u32) bool {
    const channel = &channels[index];
    assert(channel.in_use);
    if (!channel.closed) {
        channel.closed = true;
        notify(index);
        return false;
    }
    assert(storage_bytes_total >= channel.storage_bytes);
    kernel_heap.free(channel.storage, channel.storage_bytes) catch unreachable; // Ours.
    storage_bytes_total -= channel.storage_bytes;
    channels[index] = .{};
    return true;
}

pub const Readiness = struct { readable: bool, writable: bool, closed: bool };

pub fn readiness(index: u32) Readiness {
    const channel = &channels[index];
    assert(channel.in_use);
    assert(channel.count <= channel.capacity);
    return .{
        .readable = channel.count > 0,
        .writable = !channel.closed and channel.count < channel.capacity,
        .closed = channel.closed and channel.count == 0,
    };
}

/// Called by send, receive and close, which assert the channel is in use (the hot path).
fn notify(index: u32) void {
    scheduler.wake_all(.channel_send, index);
    scheduler.wake_all(.channel_receive, index);
    scheduler.wake_all(.poll, 0);
}
