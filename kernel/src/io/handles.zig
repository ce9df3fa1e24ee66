//! The handle table: the small integers the ABI hands out for open things (files, channels,
//! arenas, tasks), each with its kind, so a call given the wrong kind of handle gets bad_handle.
//! Handle 1 is the console, always open.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const abi = @import("../abi/abi.zig");

pub const Kind = enum(u8) { free, console, file, channel, arena, task };

const Entry = struct { kind: Kind = .free, object: u32 = 0 };

var entries: [constants.handles_max]Entry = [_]Entry{.{}} ** constants.handles_max;

pub fn init() void {
    entries[abi.handle_console] = .{ .kind = .console };
}

pub fn open(kind: Kind, object: u32) error{LimitReached}!u32 {
    assert(kind != .free and kind != .console);
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
    if (handle >= entries.len) return null;
    const entry = entries[@intCast(handle)];
    if (entry.kind != kind) return null;
    return entry.object;
}

pub fn kind_of(handle: u64) Kind {
    if (handle >= entries.len) return .free;
    return entries[@intCast(handle)].kind;
}

/// Binds a just-opened handle to its object (handles are reserved before the object exists, so
/// a full table never leaves an object without one).
pub fn set_object(handle: u32, object: u32) void {
    assert(entries[handle].kind != .free);
    entries[handle].object = object;
}

pub fn release(handle: u32) void {
    assert(handle != abi.handle_console);
    assert(entries[handle].kind != .free);
    entries[handle] = .{};
}
