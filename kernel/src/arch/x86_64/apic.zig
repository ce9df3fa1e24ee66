//! The local APIC timer, for halting the CPU until a deadline (ring 0 only). TSC-deadline mode
//! when the CPU has it (one MSR write arms the timer at an absolute TSC value); otherwise the
//! one-shot timer, its rate measured against the TSC on first use (QEMU TCG).
//!
//! Interrupts stay off in ring 3 (the scheduler is cooperative and devices are polled): they
//! are enabled only inside `halt_until`, so the timer interrupt just ends the halt.

const std = @import("std");
const assert = std.debug.assert;
const cpu = @import("cpu.zig");

const base: u64 = 0xfee0_0000;
const register_eoi: u64 = 0x0b0;
const register_spurious: u64 = 0x0f0;
const register_timer: u64 = 0x320;
const register_initial_count: u64 = 0x380;
const register_current_count: u64 = 0x390;
const register_divide: u64 = 0x3e0;
const msr_tsc_deadline: u32 = 0x6e0;

/// IDT vectors (stubs exist for 32–47; the spurious vector must end in 0xf).
pub const vector_timer: u8 = 32;
pub const vector_spurious: u8 = 47;

const timer_mode_tsc_deadline: u32 = 2 << 17;
const timer_masked: u32 = 1 << 16;
const spurious_enable: u32 = 1 << 8;
const divide_by_1: u32 = 0xb;

var ready: bool = false;
var tsc_deadline: bool = false;
/// One-shot mode: APIC timer ticks per 2^20 TSC ticks.
var apic_per_tsc_scaled: u64 = 0;

fn read(offset: u64) u32 {
    const pointer: *volatile u32 = @ptrFromInt(base + offset);
    return pointer.*;
}

fn write(offset: u64, value: u32) void {
    const pointer: *volatile u32 = @ptrFromInt(base + offset);
    pointer.* = value;
}

fn init() void {
    assert(!cpu.in_ring3());
    write(register_spurious, spurious_enable | vector_spurious);
    tsc_deadline = cpu.cpuid(1, 0).ecx & (1 << 24) != 0;
    if (!tsc_deadline) calibrate();
    ready = true;
}

/// Counts APIC timer ticks over ~1 ms of TSC (one-shot mode only).
fn calibrate() void {
    write(register_divide, divide_by_1);
    write(register_timer, timer_masked | vector_timer);
    write(register_initial_count, 0xffff_ffff);
    const start = cpu.rdtsc();
    var now = start;
    // About 1 ms at 1–4 GHz; the loop is bounded by the TSC, and by a count in case it stalls.
    var spins: u32 = 0;
    while (now - start < 2_000_000 and spins < 100_000_000) : (spins += 1) now = cpu.rdtsc();
    const elapsed_apic = 0xffff_ffff - read(register_current_count);
    write(register_initial_count, 0);
    apic_per_tsc_scaled = @max(1, (@as(u64, elapsed_apic) << 20) / @max(1, now - start));
}

/// Halts until `deadline_tsc` (or any earlier interrupt). Returns with interrupts off.
pub fn halt_until(deadline_tsc: u64) void {
    assert(!cpu.in_ring3());
    if (!ready) init();
    const now = cpu.rdtsc();
    if (deadline_tsc <= now) return;
    if (tsc_deadline) {
        write(register_timer, timer_mode_tsc_deadline | vector_timer);
        cpu.wrmsr(msr_tsc_deadline, deadline_tsc);
    } else {
        const apic_ticks = ((deadline_tsc - now) * apic_per_tsc_scaled) >> 20;
        write(register_divide, divide_by_1);
        write(register_timer, vector_timer);
        write(register_initial_count, @intCast(std.math.clamp(apic_ticks, 1, 0xffff_ffff)));
    }
    asm volatile ("sti; hlt; cli" ::: .{ .memory = true });
    // Disarm, whatever woke us.
    if (tsc_deadline) cpu.wrmsr(msr_tsc_deadline, 0) else write(register_initial_count, 0);
}

/// The timer's interrupt: acknowledge it; the halt it ended returns on its own.
pub fn timer_interrupt() void {
    write(register_eoi, 0);
}
