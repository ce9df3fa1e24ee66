//! The task-state segment, static data: the CPU reads the ring-0 stack for interrupts from
//! ring 3 (rsp0) and the interrupt-stack-table stacks from it. entry.S links its descriptor into
//! the GDT and loads it with ltr; nothing writes it at run time.

const std = @import("std");
const assert = std.debug.assert;
const stacks = @import("stacks.zig");

const TaskStateSegment = extern struct {
    reserved0: u32 = 0,
    rsp0: [*]u8 align(4),
    rsp1: u64 align(4) = 0,
    rsp2: u64 align(4) = 0,
    reserved1: u64 align(4) = 0,
    ist1: [*]u8 align(4),
    ist2: [*]u8 align(4),
    ist3: [*]u8 align(4),
    ist4_to_ist7: [4]u64 align(4) = .{0} ** 4,
    reserved2: u64 align(4) = 0,
    reserved3: u16 = 0,
    io_map_base: u16 = @sizeOf(TaskStateSegment),
};

comptime {
    assert(@sizeOf(TaskStateSegment) == 104);
    assert(@offsetOf(TaskStateSegment, "ist1") == 36);
}

// IST slots, as the IDT gates in interrupts.S use them: 1 double fault, 2 NMI, 3 machine check.
export var boot_tss: TaskStateSegment align(16) = .{
    .rsp0 = stacks.supervisor_top,
    .ist1 = stacks.ist_double_fault_top,
    .ist2 = stacks.ist_nmi_top,
    .ist3 = stacks.ist_machine_check_top,
};
