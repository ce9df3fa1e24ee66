//! Task stacks with guard pages. One region, taken from the page allocator at start: slot 0
//! (the workload's first task) gets the size its ELF asked for, every other slot task_stack_bytes,
//! and each slot has an unmapped guard page below its stack, so an overflow faults (and is
//! reported as such) instead of corrupting the next stack.
//!
//! The boot page tables map RAM with 2 MiB pages; the region gets its own 4 KiB page tables,
//! built here in fresh pages (not yet page tables, so plain writes), then linked into the page
//! directory by one supervisor call. Nothing writes a live page table after that.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const pages = @import("../memory/pages.zig");
const address_space = @import("../memory/address_space.zig");
const supervisor = @import("../arch/x86_64/supervisor.zig");
const stacks = @import("../arch/x86_64/stacks.zig");

const large_page_bytes: u64 = 2 << 20;
const page_present: u64 = 1;
const page_write: u64 = 2;
const page_user: u64 = 4;

pub const Slot = struct { guard: u64, bottom: u64, top: u64 };

var region_base: u64 = 0;
var slots_available: u32 = 0;
/// Slot 0's stack, set by init.
var main_stack_bytes: u64 = constants.main_task_stack_bytes_default;

fn slot_stack_bytes(index: u32) u64 {
    return if (index == 0) main_stack_bytes else constants.task_stack_bytes;
}

fn slot_offset(index: u32) u64 {
    if (index == 0) return 0;
    const first_bytes = pages.page_bytes + main_stack_bytes;
    return first_bytes + (index - 1) * (pages.page_bytes + constants.task_stack_bytes);
}

pub const Error = error{ NoMemory, MappingRefused };

/// Builds the region for as many slots as memory allows (at most tasks_max), slot 0's stack
/// `first_stack_bytes` (whole pages, within the main_task_stack_bytes_* bounds).
pub fn init(first_stack_bytes: u64) Error!void {
    assert(first_stack_bytes % pages.page_bytes == 0);
    assert(first_stack_bytes <= constants.main_task_stack_bytes_max);
    assert(first_stack_bytes >= constants.task_stack_bytes);
    main_stack_bytes = first_stack_bytes;
    const region_bytes =
        std.mem.alignForward(u64, slot_offset(constants.tasks_max), large_page_bytes);
    const large_pages = region_bytes / large_page_bytes;
    const region_pages = region_bytes / pages.page_bytes;
    const base = pages.global.allocate_aligned(region_pages, large_page_bytes) orelse
        return error.NoMemory;
    assert(base % large_page_bytes == 0);
    const tables = pages.global.allocate(large_pages) orelse return error.NoMemory;
    assert(tables % pages.page_bytes == 0);
    // Fill the page tables: every page present, except each slot's guard page.
    const entries: [*]u64 = @ptrFromInt(tables);
    for (0..large_pages * 512) |index| {
        entries[index] = (base + index * pages.page_bytes) | page_present | page_write | page_user;
    }
    var index: u32 = 0;
    while (index < constants.tasks_max) : (index += 1) {
        entries[slot_offset(index) / pages.page_bytes] = 0;
        stacks.register_guard(base + slot_offset(index), index);
    }
    const result = supervisor.call(.map_page_tables, base, tables, large_pages);
    if (result == supervisor.refused) return error.MappingRefused;
    // Live page tables: no ABI call may touch them for a workload (random.fill over them would
    // unmap or remap anything). The guard pages need nothing: the checks walk these tables.
    const tables_end = tables + large_pages * pages.page_bytes;
    address_space.global.protect(.{ .base = tables, .end = tables_end });
    region_base = base;
    slots_available = constants.tasks_max;
    index = 0;
    while (index < slots_available) : (index += 1) {
        const stack = slot(index);
        stacks.register(.{ .bottom = stack.bottom, .top = stack.top });
    }
}

pub fn slot_count() u32 {
    return slots_available;
}

pub fn slot(index: u32) Slot {
    assert(index < slots_available);
    assert(region_base != 0);
    const guard = region_base + slot_offset(index);
    const bottom = guard + pages.page_bytes;
    return .{ .guard = guard, .bottom = bottom, .top = bottom + slot_stack_bytes(index) };
}
