//! The kernel's fixed stacks, in .bss and never freed:
//!   boot        the ring-3 stack kmain runs on;
//!   supervisor  the ring-0 stack the CPU switches to on any interrupt or exception from ring 3
//!               (TSS.rsp0), where supervisor calls and fault reports run;
//!   ist 1–3     known-good stacks for double fault, NMI and machine check.
//! Backtraces follow frame pointers only while they stay on a known stack; stacks made later
//! (a workload's) are registered here too.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");

pub const Stack = struct {
    bottom: u64,
    top: u64,

    pub fn contains(stack: Stack, address: u64, bytes: u64) bool {
        return address >= stack.bottom and address + bytes <= stack.top;
    }
};

const section = ".bss.stacks";
var boot_stack: [constants.boot_stack_bytes]u8 align(4096) linksection(section) = undefined;
var supervisor_stack: [constants.supervisor_stack_bytes]u8 align(4096) linksection(section) =
    undefined;
var ist_stack_double_fault: [constants.ist_stack_bytes]u8 align(4096) linksection(section) =
    undefined;
var ist_stack_nmi: [constants.ist_stack_bytes]u8 align(4096) linksection(section) = undefined;
var ist_stack_machine_check: [constants.ist_stack_bytes]u8 align(4096) linksection(section) =
    undefined;

/// Read by entry.S: the initial ring-0 stack, and the ring-3 stack kmain starts on.
export const supervisor_stack_top_pointer: [*]u8 =
    @as([*]u8, &supervisor_stack) + supervisor_stack.len;
export const boot_stack_top_pointer: [*]u8 = @as([*]u8, &boot_stack) + boot_stack.len;

/// Stack tops for the TSS (tss.zig): comptime pointers, so the TSS is static data.
pub const supervisor_top: [*]u8 = supervisor_stack_top_pointer;
pub const ist_double_fault_top: [*]u8 =
    @as([*]u8, &ist_stack_double_fault) + constants.ist_stack_bytes;
pub const ist_nmi_top: [*]u8 = @as([*]u8, &ist_stack_nmi) + constants.ist_stack_bytes;
pub const ist_machine_check_top: [*]u8 = @as(
    [*]u8,
    &ist_stack_machine_check,
) + constants.ist_stack_bytes;

fn of(bytes: []const u8) Stack {
    const bottom = @intFromPtr(bytes.ptr);
    return .{ .bottom = bottom, .top = bottom + bytes.len };
}

var registered: [constants.stacks_registered_max]Stack = undefined;
var registered_count: u32 = 0;

/// Makes backtraces follow frames on `stack` (a workload's or a task's).
pub fn register(stack: Stack) void {
    assert(stack.bottom < stack.top);
    assert(registered_count < registered.len);
    registered[registered_count] = stack;
    registered_count += 1;
}

var guards: [constants.tasks_max]u64 = undefined;
var guard_count: u32 = 0;

/// Records that the page at `address` guards task slot `slot`'s stack.
pub fn register_guard(address: u64, slot: u32) void {
    assert(slot == guard_count);
    assert(guard_count < guards.len);
    guards[guard_count] = address;
    guard_count += 1;
}

/// The task slot whose guard page holds `address`, if any (for fault reports).
pub fn guard_owner(address: u64) ?u32 {
    for (guards[0..guard_count], 0..) |guard, slot| {
        if (address >= guard and address < guard + 4096) return @intCast(slot);
    }
    return null;
}

/// Whether [address, address + bytes) lies on one kernel or registered stack.
pub fn on_any_stack(address: u64, bytes: u64) bool {
    const fixed = [_]Stack{
        of(&boot_stack),
        of(&supervisor_stack),
        of(&ist_stack_double_fault),
        of(&ist_stack_nmi),
        of(&ist_stack_machine_check),
    };
    for (fixed) |stack| {
        if (stack.contains(address, bytes)) return true;
    }
    for (registered[0..registered_count]) |stack| {
        if (stack.contains(address, bytes)) return true;
    }
    return false;
}
