//! Memory arenas: a run of pages handed out by bumping an offset, all freed at once (reset) or
//! returned (destroy). Pages arrive zeroed (pages.zig) and reset clears only what was used, so
//! allocations are always zeroed memory.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const pages = @import("pages.zig");

pub const Error = error{ OutOfRange, LimitReached, NoMemory };

const Arena = struct { in_use: bool = false, base: u64 = 0, bytes: u64 = 0, used: u64 = 0 };

var arenas: [constants.arenas_max]Arena = [_]Arena{.{}} ** constants.arenas_max;

pub fn create(bytes_max: u64) Error!u32 {
    if (bytes_max == 0) return error.OutOfRange;
    if (bytes_max > constants.arena_bytes_max) return error.OutOfRange;
    const index = for (arenas, 0..) |arena, index| {
        if (!arena.in_use) break index;
    } else return error.LimitReached;
    const count = std.math.divCeil(u64, bytes_max, pages.page_bytes) catch unreachable;
    const base = pages.global.allocate(count) orelse return error.NoMemory;
    assert(base % pages.page_bytes == 0);
    arenas[index] = .{ .in_use = true, .base = base, .bytes = count * pages.page_bytes };
    assert(arenas[index].bytes >= bytes_max);
    return @intCast(index);
}

pub fn alloc(index: u32, bytes: u64, alignment: u64) Error!u64 {
    const arena = &arenas[index];
    assert(arena.in_use);
    assert(arena.used <= arena.bytes);
    if (bytes == 0) return error.OutOfRange;
    if (alignment == 0 or !std.math.isPowerOfTwo(alignment)) return error.OutOfRange;
    if (alignment > pages.page_bytes) return error.OutOfRange;
    const start = std.mem.alignForward(u64, arena.used, alignment);
    if (start > arena.bytes or bytes > arena.bytes - start) return error.NoMemory;
    arena.used = start + bytes;
    assert(arena.used <= arena.bytes);
    assert((arena.base + start) % alignment == 0);
    return arena.base + start;
}

pub fn reset(index: u32) void {
    const arena = &arenas[index];
    assert(arena.in_use);
    assert(arena.used <= arena.bytes);
    const bytes: [*]u8 = @ptrFromInt(arena.base);
    @memset(bytes[0..arena.used], 0);
    arena.used = 0;
}

pub fn destroy(index: u32) void {
    reset(index);
    const arena = arenas[index];
    assert(arena.used == 0);
    assert(arena.bytes % pages.page_bytes == 0);
    // Cleared above and never used beyond `used`: returned without clearing it again.
    pages.global.free_clean(arena.base, arena.bytes / pages.page_bytes);
    arenas[index] = .{};
}
