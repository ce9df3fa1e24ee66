//! Byte-stream semantics over message channels: a channel carries whole messages, a read(2)
//! may ask for fewer bytes than a message holds. The receive buffer keeps the rest of the last
//! message for the next read, so a reader sees every byte once and in order, whatever sizes
//! both sides use. Writes are cut into messages of at most constants.stream_message_bytes_max
//! (`chunks`). Pure code.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");

pub const message_bytes_max = constants.stream_message_bytes_max;

pub const Buffer = struct {
    storage: [message_bytes_max]u8 = undefined,
    start: u32 = 0,
    end: u32 = 0,

    /// Bytes received but not yet read.
    pub fn pending(buffer: *const Buffer) u32 {
        assert(buffer.start <= buffer.end);
        assert(buffer.end <= message_bytes_max);
        return buffer.end - buffer.start;
    }

    /// Where the next message goes; call `filled` with its length. Only when nothing is pending.
    pub fn space(buffer: *Buffer) []u8 {
        assert(buffer.pending() == 0);
        buffer.start = 0;
        buffer.end = 0;
        return buffer.storage[0..];
    }

    pub fn filled(buffer: *Buffer, length: u64) void {
        assert(buffer.start == 0 and buffer.end == 0);
        assert(length <= message_bytes_max);
        buffer.end = @intCast(length);
    }

    /// Copies pending bytes into `destination`; returns how many.
    pub fn take(buffer: *Buffer, destination: []u8) u32 {
        const count: u32 = @intCast(@min(destination.len, buffer.pending()));
        @memcpy(destination[0..count], buffer.storage[buffer.start..][0..count]);
        buffer.start += count;
        if (buffer.start == buffer.end) {
            buffer.start = 0;
            buffer.end = 0;
        }
        assert(buffer.start <= buffer.end);
        return count;
    }

    /// Copies pending bytes without consuming them (MSG_PEEK).
    pub fn peek(buffer: *const Buffer, destination: []u8) u32 {
        const count: u32 = @intCast(@min(destination.len, buffer.pending()));
        @memcpy(destination[0..count], buffer.storage[buffer.start..][0..count]);
        return count;
    }
};

/// How many messages a write of `length` bytes is cut into (0 for an empty write).
pub fn chunks(length: u64) u64 {
    return std.math.divCeil(u64, length, message_bytes_max) catch unreachable;
}

/// The `index`th message of a write of `data`.
pub fn chunk(data: []const u8, index: u64) []const u8 {
    const start = index * message_bytes_max;
    assert(start < data.len);
    return data[start..][0..@min(message_bytes_max, data.len - start)];
}

test "a message larger than the read is delivered across reads, in order, once" {
    var buffer: Buffer = .{};
    const message = "hello, byte stream";
    @memcpy(buffer.space()[0..message.len], message);
    buffer.filled(message.len);
    var out: [5]u8 = undefined;
    var collected: [64]u8 = undefined;
    var total: usize = 0;
    var reads: u32 = 0;
    while (buffer.pending() > 0) : (reads += 1) {
        try std.testing.expect(reads < 10);
        const count = buffer.take(&out);
        @memcpy(collected[total..][0..count], out[0..count]);
        total += count;
    }
    try std.testing.expectEqual(@as(u32, 4), reads);
    try std.testing.expectEqualStrings(message, collected[0..total]);
    try std.testing.expectEqual(@as(u32, 0), buffer.pending());
}

test "peek leaves the bytes; take after peek returns them" {
    var buffer: Buffer = .{};
    @memcpy(buffer.space()[0..3], "abc");
    buffer.filled(3);
    var out: [2]u8 = undefined;
    try std.testing.expectEqual(@as(u32, 2), buffer.peek(&out));
    try std.testing.expectEqual(@as(u32, 3), buffer.pending());
    try std.testing.expectEqual(@as(u32, 2), buffer.take(&out));
    try std.testing.expectEqualStrings("ab", &out);
    try std.testing.expectEqual(@as(u32, 1), buffer.take(&out));
    try std.testing.expectEqual(@as(u8, 'c'), out[0]);
}

test "writes are cut into messages of at most message_bytes_max" {
    try std.testing.expectEqual(@as(u64, 0), chunks(0));
    try std.testing.expectEqual(@as(u64, 1), chunks(1));
    try std.testing.expectEqual(@as(u64, 1), chunks(message_bytes_max));
    try std.testing.expectEqual(@as(u64, 3), chunks(2 * message_bytes_max + 1));
    var data: [2 * message_bytes_max + 1]u8 = undefined;
    for (&data, 0..) |*byte, index| byte.* = @truncate(index);
    try std.testing.expectEqual(@as(usize, message_bytes_max), chunk(&data, 0).len);
    try std.testing.expectEqual(@as(usize, 1), chunk(&data, 2).len);
    try std.testing.expectEqual(data[2 * message_bytes_max], chunk(&data, 2)[0]);
}
