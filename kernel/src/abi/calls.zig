//! The kernel's side of the ABI: one function per call in abi/ukernel.abi.json, gathered into
//! the table handed to the workload. The table type is generated (abi.zig), so a call added to
//! the definition without an implementation here fails to compile.
//!
//! Calls run in ring 3, called directly by the workload. Every call checks its arguments and
//! returns -error instead of faulting.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("abi.zig");
const constants = @import("../constants.zig");
const console = @import("../console/console.zig");
const records = @import("../console/records.zig");
const clock_module = @import("../time/clock.zig");
const power = @import("../power.zig");

var clock: *const clock_module.Clock = undefined;

pub fn init(boot_clock: *const clock_module.Clock) void {
    clock = boot_clock;
}

const implementation = struct {
    fn io_write(handle: u32, data_pointer: [*]const u8, data_length: u64) callconv(.c) i64 {
        if (handle != abi.handle_console) return failure(.bad_handle);
        if (data_length > abi.write_bytes_max) return failure(.too_large);
        const data = user_bytes(data_pointer, data_length) orelse return failure(.bad_pointer);
        console.write(data);
        return @intCast(data.len);
    }

    fn log_write(level: u32, message_pointer: [*]const u8, message_length: u64) callconv(.c) i64 {
        const names = [_][]const u8{ "debug", "info", "warn", "error" };
        if (level >= names.len) return failure(.out_of_range);
        if (message_length > abi.write_bytes_max) return failure(.too_large);
        const message = user_bytes(message_pointer, message_length) orelse return failure(.bad_pointer);
        console.print("{s}: {s}\n", .{ names[level], message });
        return 0;
    }

    fn clock_now_ns() callconv(.c) u64 {
        return clock.now_ns();
    }

    fn task_exit(status: u32) callconv(.c) noreturn {
        const code: u8 = @truncate(status);
        records.workload_exit(code, clock.now_ns());
        power.exit(code, .@"return");
    }
};

/// The table handed to the workload: every field of the generated Table, filled by name.
pub const table: abi.Table = blk: {
    var result: abi.Table = undefined;
    result.size_bytes = @sizeOf(abi.Table);
    for (abi.calls) |call| @field(result, call.field) = &@field(implementation, call.field);
    break :blk result;
};

fn failure(code: abi.Error) i64 {
    return -@intFromEnum(code);
}

/// The bytes at [pointer, pointer + length) if they lie in mapped memory (not page 0, inside
/// the identity map), else null. A zero length is valid anywhere.
fn user_bytes(pointer: [*]const u8, length: u64) ?[]const u8 {
    if (length == 0) return pointer[0..0];
    const address = @intFromPtr(pointer);
    if (address < 4096 or address >= constants.identity_map_bytes) return null;
    if (length > constants.identity_map_bytes - address) return null;
    return pointer[0..length];
}

comptime {
    assert(abi.calls.len * @sizeOf(usize) + @sizeOf(u64) == @sizeOf(abi.Table));
}
