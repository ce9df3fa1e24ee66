//! The GDT (defined in entry.S, loaded before long mode) gets its TSS descriptor here. The TSS
//! exists only for its interrupt stack table: double fault, NMI and machine check switch to
//! known-good stacks, so a stack overflow is reported instead of triple-faulting.

const std = @import("std");
const assert = std.debug.assert;
const stacks = @import("stacks.zig");

const TaskStateSegment = extern struct {
    reserved0: u32 = 0,
    rsp0: u64 align(4) = 0,
    rsp1: u64 align(4) = 0,
    rsp2: u64 align(4) = 0,
    reserved1: u64 align(4) = 0,
    ist: [7]u64 align(4) = .{0} ** 7,
    reserved2: u64 align(4) = 0,
    reserved3: u16 = 0,
    io_map_base: u16 = @sizeOf(TaskStateSegment),
};

comptime {
    assert(@sizeOf(TaskStateSegment) == 104);
}

pub const selector_code: u16 = 0x08;
pub const selector_data: u16 = 0x10;
const selector_tss: u16 = 0x18;

extern var boot_gdt: [5]u64;

var tss: TaskStateSegment align(16) = .{};

pub fn init() void {
    tss.ist[stacks.ist_double_fault - 1] = stacks.ist(stacks.ist_double_fault).top;
    tss.ist[stacks.ist_nmi - 1] = stacks.ist(stacks.ist_nmi).top;
    tss.ist[stacks.ist_machine_check - 1] = stacks.ist(stacks.ist_machine_check).top;

    const base: u64 = @intFromPtr(&tss);
    const limit: u64 = @sizeOf(TaskStateSegment) - 1;
    const type_available_tss: u64 = 0x9;
    const present: u64 = 1 << 47;
    boot_gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (type_available_tss << 40) |
        present | (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    boot_gdt[4] = base >> 32;
    assert(boot_gdt[1] != 0); // The code segment from entry.S is in place.
    asm volatile ("ltr %[selector]"
        :
        : [selector] "r" (selector_tss),
    );
}
