//! Backtraces by frame-pointer walking (the kernel keeps frame pointers), symbolized with the
//! table embedded by the build (`.uksyms`, produced by tools/symtab.zig from the linked kernel).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const console = @import("../console/console.zig");
const stacks = @import("../arch/x86_64/stacks.zig");
const symbol_table = @import("symbol_table.zig");

extern const __uksyms_start: u8;
extern const __uksyms_end: u8;

/// The table blob. It is placed in its own section, found through linker symbols only, so the
/// compiled code is identical whatever the table holds (the build links twice and checks this).
const embedded_symbols = @embedFile("kernel_symbols");
export const kernel_symbols: [embedded_symbols.len]u8 linksection(".uksyms") =
    embedded_symbols[0..embedded_symbols.len].*;

fn table() ?symbol_table.SymbolTable {
    const start = @intFromPtr(&__uksyms_start);
    const end = @intFromPtr(&__uksyms_end);
    assert(start <= end);
    const bytes: [*]const u8 = @ptrFromInt(start);
    return symbol_table.SymbolTable.init(bytes[0 .. end - start]);
}

/// The workload's image, so its addresses print as `workload+offset` (an offset into the ELF's
/// address space: `addr2line -e build/bin/main 0xOFFSET` names the line).
var workload_base: u64 = 0;
var workload_end: u64 = 0;

pub fn register_workload(base: u64, end: u64) void {
    assert(base < end);
    workload_base = base;
    workload_end = end;
}

/// Prints `address` with the symbol containing `lookup_address` (they differ for return
/// addresses: the call instruction is one byte back).
pub fn print_location(prefix: []const u8, address: u64, lookup_address: u64) void {
    const symbol = if (table()) |symbols| symbols.lookup(lookup_address) else null;
    if (symbol) |found| {
        const offset = found.offset + (address - lookup_address);
        console.print("{s}0x{x:0>16} {s}+0x{x}\n", .{ prefix, address, found.name, offset });
    } else if (lookup_address >= workload_base and lookup_address < workload_end) {
        console.print(
            "{s}0x{x:0>16} workload+0x{x}\n",
            .{ prefix, address, address - workload_base },
        );
    } else {
        console.print("{s}0x{x:0>16} ?\n", .{ prefix, address });
    }
}

/// Prints `rip`, then the return addresses found by following saved frame pointers from `rbp`.
/// Only frames on a kernel stack are followed, each strictly above the last, at most
/// backtrace_frames_max of them: a corrupt chain ends the walk, it never faults or loops.
pub fn print(rip: u64, rbp: u64) void {
    console.write("backtrace:\n");
    print_location("  #0  ", rip, rip);
    walk(rbp, 1);
}

/// Prints the return addresses of the frame chain from `rbp` (the caller of the current function
/// first), for panics, where there is no faulting instruction.
pub fn print_frames(rbp: u64) void {
    console.write("backtrace:\n");
    walk(rbp, 0);
}

fn walk(rbp: u64, depth_first: u32) void {
    assert(depth_first <= 1);
    var frame = rbp;
    var depth: u32 = depth_first;
    while (depth < constants.backtrace_frames_max) : (depth += 1) {
        if (frame == 0 or frame % 8 != 0) break;
        if (!stacks.on_any_stack(frame, 16)) break;
        const saved: *const [2]u64 = @ptrFromInt(frame);
        const return_address = saved[1];
        if (return_address == 0) break;
        var prefix_buffer: [8]u8 = undefined;
        const prefix = std.fmt.bufPrint(&prefix_buffer, "  #{d:<3}", .{depth}) catch unreachable;
        print_location(prefix, return_address, return_address - 1);
        if (saved[0] <= frame) break;
        frame = saved[0];
    }
}
