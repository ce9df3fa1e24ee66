//! Interrupt dispatch. The IDT itself is static data in interrupts.S (gates for 48 vectors);
//! every stub ends up here with the saved registers. Three cases:
//!   - #UD at the supervisor gate from ring 3: a supervisor call (supervisor.zig);
//!   - any other CPU exception (vectors 0–31): fatal, reported by exceptions.zig;
//!   - the APIC timer (ends a halt) and the spurious vector;
//!   - any other device vector: no driver claims one yet, so it is reported as unexpected.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const exceptions = @import("exceptions.zig");
const supervisor = @import("supervisor.zig");
const apic = @import("apic.zig");

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

    pub fn from_ring3(frame: *const InterruptFrame) bool {
        return frame.cs & 3 == 3;
    }
};

comptime {
    assert(@sizeOf(InterruptFrame) == 22 * 8);
}

const vector_invalid_opcode = 6;
const supervisor_gate_bytes = 2; // ud2

extern const supervisor_gate: u8;

export fn interrupt_dispatch(frame: *InterruptFrame) callconv(.c) void {
    assert(frame.vector < constants.interrupt_vectors_max);
    if (frame.vector == vector_invalid_opcode and frame.from_ring3() and
        frame.rip == @intFromPtr(&supervisor_gate))
    {
        frame.rax = supervisor.dispatch(frame.rdi, frame.rsi, frame.rdx, frame.rcx);
        frame.rip += supervisor_gate_bytes;
        return;
    }
    if (frame.vector < constants.exception_vectors) exceptions.fatal(frame);
    if (frame.vector == apic.vector_timer) return apic.timer_interrupt();
    if (frame.vector == apic.vector_spurious) return;
    exceptions.unexpected_interrupt(frame);
}
