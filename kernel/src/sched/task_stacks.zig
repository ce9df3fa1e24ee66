//! Task stacks with guard pages. Slot 0 (the workload's first task) gets the size its ELF asked
//! for, every other slot task_stack_bytes, and each slot has an unmapped guard page below its
//! stack, so an overflow faults (and is reported as such) instead of corrupting the next stack.
//!
//! The slots live in chunks of whole 2 MiB pages taken from the page allocator. The first chunk,
//! built at start, holds slot 0 and as many other slots as fit in what is left of its last
//! 2 MiB; further chunks (2 MiB, slot_stride_bytes each slot) are built when a spawn needs a slot
//! past those, so a workload that runs few tasks does not pay for tasks_max stacks (a Python
//! image: 10 MiB instead of 14).
//!
//! The boot page tables map RAM with 2 MiB pages; each chunk gets its own 4 KiB page tables,
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

/// A slot other than 0: its guard page and its stack.
const slot_stride_bytes: u64 = pages.page_bytes + constants.task_stack_bytes;
/// Slots of a chunk built after the first (one 2 MiB page each).
const grown_chunk_slots: u32 = @intCast(large_page_bytes / slot_stride_bytes);
/// The first chunk may hold slot 0 alone; the rest come in grown chunks.
const chunks_max: u32 = 1 + (constants.tasks_max - 1 + grown_chunk_slots - 1) / grown_chunk_slots;

pub const Slot = struct { guard: u64, bottom: u64, top: u64 };

/// A chunk: `slots` slots from `first_slot`, the first at `base + slots_offset`.
const Chunk = struct { base: u64, slots_offset: u64, first_slot: u32, slots: u32 };

var chunks: [chunks_max]Chunk = undefined;
var chunk_count: u32 = 0;
var slots_available: u32 = 0;
/// Slot 0's stack, set by init.
var main_stack_bytes: u64 = constants.main_task_stack_bytes_default;

pub const Error = error{ NoMemory, MappingRefused };

comptime {
    assert(grown_chunk_slots >= 1);
    assert(large_page_bytes % pages.page_bytes == 0);
}

/// Builds the first chunk: slot 0's stack `first_stack_bytes` (whole pages, within the
/// main_task_stack_bytes_* bounds) and the other slots that fit beside it.
pub fn init(first_stack_bytes: u64) Error!void {
    assert(first_stack_bytes % pages.page_bytes == 0);
    assert(first_stack_bytes <= constants.main_task_stack_bytes_max);
    assert(first_stack_bytes >= constants.task_stack_bytes);
    assert(chunk_count == 0);
    main_stack_bytes = first_stack_bytes;
    const first_bytes = pages.page_bytes + first_stack_bytes;
    const chunk_bytes = std.mem.alignForward(u64, first_bytes, large_page_bytes);
    const fit = (chunk_bytes - first_bytes) / slot_stride_bytes;
    const beside: u32 = @intCast(@min(fit, constants.tasks_max - 1));
    const base = try build_chunk(chunk_bytes, first_bytes, beside);
    // Slot 0 is this chunk's too: its guard first, then its stack.
    chunks[0] = .{ .base = base, .slots_offset = first_bytes, .first_slot = 1, .slots = beside };
    chunk_count = 1;
    register_slots(0, 1 + beside);
}

/// Makes slot `index` available, building chunks up to it; false when memory (or the page
/// directory) refuses, which a spawn reports as the task limit.
pub fn grow_to(index: u32) bool {
    assert(index < constants.tasks_max);
    assert(chunk_count >= 1);
    while (slots_available <= index) {
        assert(chunk_count < chunks_max);
        const slots: u32 = @min(grown_chunk_slots, constants.tasks_max - slots_available);
        const base = build_chunk(large_page_bytes, 0, slots) catch return false;
        chunks[chunk_count] = .{
            .base = base,
            .slots_offset = 0,
            .first_slot = slots_available,
            .slots = slots,
        };
        chunk_count += 1;
        register_slots(slots_available, slots_available + slots);
    }
    return true;
}

/// Takes `bytes` (whole 2 MiB pages) and their page tables, maps every page present but the
/// guard pages of slot 0 (when `slots_offset` > 0, at the chunk's base) and of the `slots` slots
/// from `slots_offset`, and links the tables into the page directory. Returns the base.
fn build_chunk(bytes: u64, slots_offset: u64, slots: u32) Error!u64 {
    assert(bytes % large_page_bytes == 0);
    assert(slots_offset + slots * slot_stride_bytes <= bytes);
    const large_pages = bytes / large_page_bytes;
    const base = pages.global.allocate_aligned(bytes / pages.page_bytes, large_page_bytes) orelse
        return error.NoMemory;
    assert(base % large_page_bytes == 0);
    const tables = pages.global.allocate(large_pages) orelse {
        pages.global.free_clean(base, bytes / pages.page_bytes);
        return error.NoMemory;
    };
    const entries: [*]u64 = @ptrFromInt(tables);
    for (0..large_pages * 512) |index| {
        entries[index] = (base + index * pages.page_bytes) | page_present | page_write | page_user;
    }
    if (slots_offset > 0) entries[0] = 0; // slot 0's guard
    for (0..slots) |slot_index| {
        entries[(slots_offset + slot_index * slot_stride_bytes) / pages.page_bytes] = 0;
    }
    const result = supervisor.call(.map_page_tables, base, tables, large_pages);
    if (result == supervisor.refused) {
        pages.global.free(tables, large_pages);
        pages.global.free_clean(base, bytes / pages.page_bytes);
        return error.MappingRefused;
    }
    // Live page tables: no ABI call may touch them for a workload (random.fill over them would
    // unmap or remap anything). The guard pages need nothing: the checks walk these tables.
    const tables_end = tables + large_pages * pages.page_bytes;
    address_space.global.protect(.{ .base = tables, .end = tables_end });
    return base;
}

/// Makes slots [first, end) of the chunks just built available: their guard pages (for fault
/// reports) and their stacks (for backtraces).
fn register_slots(first: u32, end: u32) void {
    assert(first == slots_available);
    assert(end <= constants.tasks_max);
    slots_available = end;
    for (first..end) |index| {
        const stack = slot(@intCast(index));
        stacks.register_guard(stack.guard, @intCast(index));
        stacks.register(.{ .bottom = stack.bottom, .top = stack.top });
    }
}

/// The guard page of slot `index` (> 0) in its chunk.
fn slot_guard(index: u32) u64 {
    assert(index > 0);
    for (chunks[0..chunk_count]) |chunk| {
        if (index >= chunk.first_slot and index < chunk.first_slot + chunk.slots) {
            return chunk.base + chunk.slots_offset + (index - chunk.first_slot) * slot_stride_bytes;
        }
    }
    unreachable; // every caller asks for a slot of a built chunk
}

pub fn slot_count() u32 {
    return slots_available;
}

pub fn slot(index: u32) Slot {
    assert(index < slots_available);
    assert(chunk_count != 0);
    const guard = if (index == 0) chunks[0].base else slot_guard(index);
    const bottom = guard + pages.page_bytes;
    const bytes = if (index == 0) main_stack_bytes else constants.task_stack_bytes;
    return .{ .guard = guard, .bottom = bottom, .top = bottom + bytes };
}
