//! The IDT. The 32 exception vectors get gates at boot; each gate leads to a stub (interrupts.S)
//! that saves the registers and calls interrupt_dispatch. Exceptions are fatal and reported by
//! exceptions.zig. Device vectors get gates when a driver claims them; every other gate is not
//! present, so a stray interrupt raises #NP and is reported rather than ignored.

const std = @import("std");
const assert = std.debug.assert;
const gdt = @import("gdt.zig");
const stacks = @import("stacks.zig");
const exceptions = @import("exceptions.zig");

/// Saved by interrupt_common in interrupts.S, lowest address first.
pub const InterruptFrame = extern struct {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
};

const Gate = extern struct {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32 = 0,
};

comptime {
    assert(@sizeOf(Gate) == 16);
    assert(@sizeOf(InterruptFrame) == 22 * 8);
}

const constants = @import("../../constants.zig");

const vector_count = 256;
const gate_interrupt_present: u8 = 0x8e; // Present, DPL 0, 64-bit interrupt gate (IF cleared).

extern const interrupt_stub_table: [constants.interrupt_vectors_max]u64;

/// Zero (all gates not present) until filled; in .bss, so free at boot.
var idt: [vector_count]Gate align(4096) = std.mem.zeroes([vector_count]Gate);

pub fn init() void {
    var vector: u8 = 0;
    while (vector < constants.exception_vectors) : (vector += 1) set_gate(vector);
    load();
}

/// Installs the gate of `vector`, whose stub must exist.
pub fn set_gate(vector: u8) void {
    assert(vector < constants.interrupt_vectors_max);
    const stub = interrupt_stub_table[vector];
    assert(stub != 0);
    idt[vector] = .{
        .offset_low = @truncate(stub),
        .selector = gdt.selector_code,
        .ist = ist_for(vector),
        .type_attributes = gate_interrupt_present,
        .offset_middle = @truncate(stub >> 16),
        .offset_high = @truncate(stub >> 32),
    };
}

fn load() void {
    const Pointer = packed struct { limit: u16, base: u64 };
    const pointer = Pointer{ .limit = @sizeOf(@TypeOf(idt)) - 1, .base = @intFromPtr(&idt) };
    asm volatile ("lidt %[pointer]"
        :
        : [pointer] "*p" (&pointer),
    );
}

fn ist_for(vector: u8) u8 {
    return switch (vector) {
        2 => stacks.ist_nmi,
        8 => stacks.ist_double_fault,
        18 => stacks.ist_machine_check,
        else => 0,
    };
}

export fn interrupt_dispatch(frame: *InterruptFrame) callconv(.c) void {
    assert(frame.vector < constants.interrupt_vectors_max);
    if (frame.vector < constants.exception_vectors) exceptions.fatal(frame);
    exceptions.unexpected_interrupt(frame);
}
