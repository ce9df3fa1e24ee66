//! The kernel's call table, kept by _start, and small helpers over it shared by every part of
//! the layer. The layer serves one program with one thread of control: its tables are plain
//! globals, not locked (a task the adapter spawns must not call into the layer while another
//! is blocked in it).

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");

pub var table: *const abi.Table = undefined;
pub var started = false;

/// Nanoseconds the program spent waiting in the layer (sleeps, poll timeouts): what the
/// CPU-time clocks leave out.
pub var waited_ns: u64 = 0;

/// task.sleep, counted as waiting.
pub fn sleep(duration_ns: u64) void {
    const start = table.clock_now_ns();
    _ = table.task_sleep(duration_ns);
    waited_ns += table.clock_now_ns() - start;
}

/// io.poll, the time it waited counted as waiting.
pub fn poll(items: [*]abi.PollItem, count: u32, timeout_ns: u64) i64 {
    if (timeout_ns == 0) return table.io_poll(items, count, 0);
    const start = table.clock_now_ns();
    const result = table.io_poll(items, count, timeout_ns);
    waited_ns += table.clock_now_ns() - start;
    return result;
}

/// CPU time: the time since the kernel started less the time spent waiting (the program is
/// all the VM runs).
pub fn cpu_ns() u64 {
    return table.clock_now_ns() -| waited_ns;
}

pub fn keep(context: *const abi.StartContext) void {
    assert(context.abi_major == abi.version_major);
    table = context.table;
    started = true;
}

/// Writes `text` to the console (handle 1), cut into io.write's limit; errors are dropped (the
/// console is where they would be reported).
pub fn console_write(text: []const u8) void {
    var offset: usize = 0;
    var rounds: u32 = 0;
    while (offset < text.len) : (rounds += 1) {
        assert(rounds <= text.len / constants.write_chunk_bytes_max + 1);
        const count = @min(text.len - offset, constants.write_chunk_bytes_max);
        const result = table.io_write(abi.handle_console, text[offset..].ptr, count);
        if (result <= 0) return;
        offset += @intCast(result);
    }
}

/// A log record with string fields (at most abi.log_fields_max).
pub fn log(
    level: u32,
    message: []const u8,
    keys: []const []const u8,
    values: []const []const u8,
) void {
    assert(keys.len == values.len);
    assert(keys.len <= abi.log_fields_max);
    var fields: [abi.log_fields_max]abi.LogField = undefined;
    for (keys, values, 0..) |key, value, index| {
        fields[index] = .{
            .key_pointer = @intFromPtr(key.ptr),
            .key_length = key.len,
            .value_pointer = @intFromPtr(value.ptr),
            .value_length = value.len,
        };
    }
    _ = table.log_write(level, message.ptr, message.len, &fields, @intCast(keys.len));
}

const fd = @import("fd.zig");

/// The program's fd table (fds 0-2: the console, set by _start).
pub var fds: fd.Table = .{};

/// A pointer argument as a slice of the program's memory; null (EFAULT) for a null pointer
/// with a length, a length past SSIZE_MAX or a range past 2^64 (Linux's access_ok fails
/// them: a write(fd, p, (size_t)-1) to /dev/null returned a count that is no i64).
pub fn bytes(pointer: u64, length: u64) ?[]u8 {
    if (length == 0) return &.{};
    if (pointer == 0) return null;
    if (length > std.math.maxInt(i64)) return null;
    _ = std.math.add(u64, pointer, length) catch return null;
    const start: [*]u8 = @ptrFromInt(pointer);
    return start[0..length];
}

/// A pointer argument as a `*T` (null for 0).
pub fn object(comptime T: type, pointer: u64) ?*align(1) T {
    if (pointer == 0) return null;
    return @ptrFromInt(pointer);
}

/// An `int` argument (the upper half of the register is not part of it).
pub fn int(value: u64) i32 {
    return @bitCast(@as(u32, @truncate(value)));
}

/// A NUL-terminated string argument, at most `length_max` bytes before the NUL (null when
/// longer: ENAMETOOLONG).
pub fn string(pointer: u64, length_max: u32) ?[]const u8 {
    const start: [*]const u8 = @ptrFromInt(pointer);
    var length: u32 = 0;
    while (length < length_max) : (length += 1) {
        if (start[length] == 0) return start[0..length];
    }
    return null;
}
