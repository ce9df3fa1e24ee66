//! The scheduler's platform (platform.zig) for host unit tests: a clock the test sets, a halt
//! that moves the clock to its deadline (time passes while the CPU idles), stacks in a static
//! array (no guard pages), and console output kept in a buffer the test reads.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");

/// The fake TSC. Tests advance it; halts move it to their deadline, pauses by pause_ticks.
pub var now: u64 = 0;
pub var halts: u64 = 0;
const pause_ticks: u64 = 100;

const stack_bytes: u64 = 128 * 1024;
var stacks: [constants.tasks_max][stack_bytes]u8 align(16) = undefined;

var output_buffer: [4096]u8 = undefined;
var output_length: usize = 0;

pub fn reset() void {
    now = 0;
    halts = 0;
    output_length = 0;
    thread_pointer = 0;
    thread_pointer_loads = 0;
}

pub fn now_tsc() u64 {
    return now;
}

pub fn pause() void {
    now += pause_ticks;
}

pub fn halt_until(deadline_tsc: u64) void {
    assert(deadline_tsc > now);
    halts += 1;
    now = deadline_tsc;
}

/// The thread pointer the scheduler last loaded, and how many times it did.
pub var thread_pointer: u64 = 0;
pub var thread_pointer_loads: u64 = 0;

pub fn set_thread_pointer(address: u64) bool {
    if (address >= 1 << 47) return false;
    thread_pointer = address;
    thread_pointer_loads += 1;
    return true;
}

pub fn stack_count() u32 {
    return constants.tasks_max;
}

/// The host has every stack from the start.
pub fn grow_stacks(id: u32) bool {
    return id < constants.tasks_max;
}

pub fn stack_top(id: u32) u64 {
    assert(id < constants.tasks_max);
    const top = @intFromPtr(&stacks[id]) + stack_bytes;
    assert(top % 16 == 0);
    return top;
}

/// What the scheduler wrote to the console since reset (cut at the buffer's size).
pub fn output() []const u8 {
    return output_buffer[0..output_length];
}

pub fn write(bytes: []const u8) void {
    const length = @min(bytes.len, output_buffer.len - output_length);
    @memcpy(output_buffer[output_length..][0..length], bytes[0..length]);
    output_length += length;
}

pub fn print(comptime format: []const u8, arguments: anytype) void {
    const rest = output_buffer[output_length..];
    const text = std.fmt.bufPrint(rest, format, arguments) catch rest;
    output_length += text.len;
}
