//! Interrupt dispatch. The IDT itself is static data in interrupts.S (gates for 48 vectors);
//! every stub ends up here with the saved registers. The cases:
//!   - #UD at the supervisor gate from ring 3: a supervisor call (supervisor.zig);
//!   - a CPU exception (vectors 0–31 that frame.zig cannot tell from a device): fatal, reported
//!     by exceptions.zig;
//!   - the APIC timer (ends a halt) and the APIC's spurious vector (no EOI);
//!   - a device line a driver routed (device_interrupts.zig: acknowledged, noted for ring 3);
//!   - any other interrupt the VMM raises (a device line no driver claims, a vector below 32
//!     that frame.zig identifies as a device interrupt, a vector beyond the IDT): counted and
//!     logged once by exceptions.zig, acknowledged, and otherwise ignored — never fatal.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const exceptions = @import("exceptions.zig");
const supervisor = @import("supervisor.zig");
const apic = @import("apic.zig");
const device_interrupts = @import("device_interrupts.zig");
const frame_module = @import("frame.zig");

pub const InterruptFrame = frame_module.InterruptFrame;

const vector_nmi = 2;
const vector_invalid_opcode = 6;
const vector_general_protection = 13;
const supervisor_gate_bytes = 2; // ud2

/// #GP error code bits: EXT (raised while delivering an external event), IDT (the index names
/// an IDT gate). Source: Intel SDM vol. 3A, 6.13 "Error Code".
const error_code_external: u64 = 1 << 0;
const error_code_idt: u64 = 1 << 1;

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
    if (frame.vector < constants.exception_vectors) return low_vector(frame);
    if (frame.vector == apic.vector_timer) return apic.timer_interrupt();
    if (frame.vector == apic.vector_spurious) return; // No EOI for a spurious interrupt.
    if (device_interrupts.line_of_vector(frame.vector)) |line| {
        return device_interrupts.handle(line);
    }
    exceptions.unexpected_interrupt(@intCast(frame.vector), frame.rip);
    apic.end_of_interrupt();
}

fn low_vector(frame: *InterruptFrame) void {
    assert(frame.vector < constants.exception_vectors);
    if (beyond_idt(frame)) |vector| {
        // A device interrupt on a vector past the IDT limit: the CPU raised #GP delivering it.
        exceptions.unexpected_interrupt(vector, frame.rip);
        apic.end_of_interrupt();
        return;
    }
    const kind = frame_module.classify(frame);
    if (kind == .exception) return exceptions.fatal(frame);
    const vector: u8 = @intCast(frame.vector);
    exceptions.unexpected_interrupt(vector, frame_module.interrupted_rip(frame, kind));
    // A vector below 32 from a device came through the PIC (ExtINT): the LAPIC refuses fixed
    // vectors below 16 and the IOAPIC's entries stay masked. An NMI needs no EOI.
    if (vector != vector_nmi) apic.pic_end_of_interrupt();
    if (kind == .device_without_error_code) {
        // interrupts.S drops one slot less on the way out.
        frame.vector = frame_module.vector_frame_without_error_code;
    }
}

/// The vector of a #GP raised while delivering an external interrupt through a gate beyond the
/// IDT limit (the IDT has interrupt_vectors_max gates), or null for any other #GP.
fn beyond_idt(frame: *const InterruptFrame) ?u8 {
    if (frame.vector != vector_general_protection) return null;
    const flags = error_code_external | error_code_idt;
    if (frame.error_code & flags != flags) return null;
    const vector = frame.error_code >> 3;
    if (vector < constants.interrupt_vectors_max or vector > 255) return null;
    return @intCast(vector);
}
