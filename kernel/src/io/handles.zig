//! The handle table: the small integers the ABI hands out for open things (files, channels,
//! arenas, tasks, sockets), each with its kind, so a call given the wrong kind of handle gets
//! bad_handle.
//! Handle 1 is the console, always open.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const abi = @import("../abi/abi.zig");

/// `reserved`: taken for an object that does not exist yet (net.accept holds one while it
/// waits), so no call can reach a half-made object through it.
pub const Kind = enum(u8) { free, console, file, channel, arena, task, socket, reserved };

const Entry = struct { kind: Kind = .free, object: u32 = 0 };

var entries: [constants.handles_max]Entry = [_]Entry{.{}} ** constants.handles_max;

/// Sets (or resets, for host tests) the table: only the console is open.
pub fn init() void {
    entries = [_]Entry{.{}} ** constants.handles_max;
    entries[abi.handle_console] = .{ .kind = .console };
}

/// A free handle, now of `kind` and bound to `object`; never 0 or the console.
pub fn open(kind: Kind, object: u32) error{LimitReached}!u32 {
    assert(kind != .free);
    assert(kind != .console);
    // Handle 0 is never used, so a zeroed handle is always bad.
    var handle: u32 = 2;
    while (handle < entries.len) : (handle += 1) {
        if (entries[handle].kind == .free) {
            entries[handle] = .{ .kind = kind, .object = object };
            return handle;
        }
    }
    return error.LimitReached;
}

/// The object behind `handle` if it is of `kind`.
pub fn get(handle: u64, kind: Kind) ?u32 {
    assert(kind != .free);
    if (handle >= entries.len) return null;
    const entry = entries[@intCast(handle)];
    if (entry.kind != kind) return null;
    return entry.object;
}

/// The kind of `handle`: .free when it is not open (or out of range).
pub fn kind_of(handle: u64) Kind {
    if (handle >= entries.len) return .free;
    assert(handle != 0 or entries[0].kind == .free);
    return entries[@intCast(handle)].kind;
}

/// The object behind `handle`, which the caller found to be of `kind` (kind_of): an open
/// handle always has one.
pub fn object_of(handle: u64, kind: Kind) u32 {
    assert(kind != .free);
    assert(kind_of(handle) == kind);
    return entries[@intCast(handle)].object;
}

/// Binds a just-opened handle to its object (handles are reserved before the object exists, so
/// a full table never leaves an object without one).
pub fn set_object(handle: u32, object: u32) void {
    assert(entries[handle].kind != .free);
    assert(entries[handle].kind != .console);
    entries[handle].object = object;
}

/// Turns a reserved handle into one of `kind` bound to `object`.
pub fn settle(handle: u32, kind: Kind, object: u32) void {
    assert(entries[handle].kind == .reserved);
    assert(kind != .free and kind != .console and kind != .reserved);
    entries[handle] = .{ .kind = kind, .object = object };
}

pub fn release(handle: u32) void {
    assert(handle != abi.handle_console);
    assert(handle != 0);
    assert(entries[handle].kind != .free);
    entries[handle] = .{};
}

comptime {
    assert(abi.handle_console == 1);
    assert(constants.handles_max > 2);
}

const testing = std.testing;

test "handles: open from 2 up, kinds checked, release and reuse, exhaustion" {
    init();
    try testing.expectEqual(Kind.console, kind_of(abi.handle_console));
    try testing.expectEqual(Kind.free, kind_of(0));
    try testing.expectEqual(Kind.free, kind_of(constants.handles_max));
    try testing.expectEqual(Kind.free, kind_of(std.math.maxInt(u64)));
    const channel = try open(.channel, 7);
    try testing.expectEqual(@as(u32, 2), channel);
    const file = try open(.file, 0);
    try testing.expectEqual(@as(u32, 3), file);
    try testing.expectEqual(@as(?u32, 7), get(channel, .channel));
    try testing.expectEqual(@as(?u32, null), get(channel, .file)); // Wrong kind.
    try testing.expectEqual(@as(?u32, null), get(9, .channel)); // Not open.
    try testing.expectEqual(@as(?u32, null), get(1 << 40, .channel)); // Out of range.
    set_object(file, 5);
    try testing.expectEqual(@as(u32, 5), object_of(file, .file));
    release(channel);
    try testing.expectEqual(Kind.free, kind_of(channel));
    try testing.expectEqual(@as(?u32, null), get(channel, .channel));
    try testing.expectEqual(channel, try open(.task, 1)); // The lowest free handle again.
    try testing.expectEqual(@as(?u32, 1), get(channel, .task));
    var opened: u32 = 2;
    while (opened < constants.handles_max) : (opened += 1) _ = open(.arena, 0) catch break;
    try testing.expectError(error.LimitReached, open(.arena, 0));
    release(file);
    try testing.expectEqual(file, try open(.arena, 0));
    // A reserved handle is of no kind a call accepts until settled.
    release(file);
    const reserved = try open(.reserved, 0);
    try testing.expectEqual(@as(?u32, null), get(reserved, .socket));
    settle(reserved, .socket, 9);
    try testing.expectEqual(@as(?u32, 9), get(reserved, .socket));
    init();
    try testing.expectEqual(@as(u32, 2), try open(.file, 0));
}
