//! The local APIC timer, for halting the CPU until a deadline (ring 0 only). TSC-deadline mode
//! when the CPU has it (one MSR write arms the timer at an absolute TSC value); otherwise the
//! one-shot timer, its rate measured against the TSC on first use (QEMU TCG).
//!
//! Interrupts stay off in ring 3 (the scheduler is cooperative): they are enabled only inside
//! `halt_until`, so the timer interrupt, or a device interrupt (device_interrupts.zig), just
//! ends the halt.
//!
//! Before the first halt enables interrupts, or before a device's line is routed, every
//! interrupt source the kernel does not use is masked (mask_legacy_interrupts): Firecracker runs
//! KVM's 8259 PIC unprogrammed (vector base 0, nothing masked) and sets LINT0 to ExtINT and
//! LINT1 to NMI (vmm/src/arch/x86_64/interrupts.rs, set_lint), so a disk completion would
//! otherwise arrive as vector 5, where #BR lives; QEMU sends every GSI below 16 to its 8259 as
//! well as to the IOAPIC (hw/i386/x86.c gsi_handler). The IOAPIC's redirection entries are
//! masked at reset on both VMMs (KVM's kvm_ioapic_reset in arch/x86/kvm/ioapic.c, QEMU's
//! ioapic_reset_common in hw/intc/ioapic_common.c); the kernel unmasks only the pins of devices
//! it routes (device_interrupts.zig); virtio-mmio has no MSI. The other LVT entries (error,
//! thermal, performance counter) are masked at reset (Intel SDM vol. 3A, 11.4.7) and neither
//! VMM changes them. Lazily, on the first halt or route rather than at entry: a run that never
//! halts pays nothing, and these are VM exits (~15 µs each under nested KVM).
const std = @import("std");
const assert = std.debug.assert;
const cpu = @import("cpu.zig");

const base: u64 = 0xfee0_0000;
const register_eoi: u64 = 0x0b0;
const register_spurious: u64 = 0x0f0;
const register_lvt_lint0: u64 = 0x350;
const register_lvt_lint1: u64 = 0x360;
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
const lvt_masked: u32 = 1 << 16;
const spurious_enable: u32 = 1 << 8;
const divide_by_1: u32 = 0xb;

/// The 8259 PICs' ports: OCW1 (the interrupt mask) on the data ports, OCW2 (EOI) on the command
/// ports. Source: Intel 8259A datasheet; the same on KVM's and QEMU's models.
const pic_master_command: u16 = 0x20;
const pic_master_data: u16 = 0x21;
const pic_slave_command: u16 = 0xa0;
const pic_slave_data: u16 = 0xa1;
const pic_mask_all: u8 = 0xff;
const pic_end_of_interrupt_nonspecific: u8 = 0x20;

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
    mask_legacy_interrupts();
    write(register_spurious, spurious_enable | vector_spurious);
    tsc_deadline = cpu.cpuid(1, 0).ecx & (1 << 24) != 0;
    if (!tsc_deadline) calibrate();
    ready = true;
}

/// Ring 0: sets the LAPIC up now if no halt has yet (device_interrupts.route: a device may
/// interrupt before the first halt, and a software-disabled LAPIC drops its interrupt).
pub fn enable() void {
    assert(!cpu.in_ring3());
    if (!ready) init();
    assert(ready);
}

/// Masks every line of both PICs (OCW1; an unprogrammed PIC takes it too) and the LAPIC's
/// LINT0 (ExtINT from the PIC) and LINT1 (NMI; nothing is wired to it on either VMM). Four VM
/// exits, once. Writing a mask to an absent PIC (QEMU with pic=off) is harmless.
fn mask_legacy_interrupts() void {
    assert(!cpu.in_ring3());
    cpu.out8(pic_master_data, pic_mask_all);
    cpu.out8(pic_slave_data, pic_mask_all);
    write(register_lvt_lint0, lvt_masked);
    write(register_lvt_lint1, lvt_masked);
}

/// Acknowledges the interrupt in service at the LAPIC. Harmless when none is (an EOI with an
/// empty in-service register changes nothing).
pub fn end_of_interrupt() void {
    assert(!cpu.in_ring3());
    write(register_eoi, 0);
}

/// Acknowledges an interrupt that came through the PICs (ExtINT). Both get a non-specific EOI:
/// with vector base 0 a slave line looks like a master one; an EOI to a PIC with nothing in
/// service (a PIC spurious IRQ 7 or 15) changes nothing.
pub fn pic_end_of_interrupt() void {
    assert(!cpu.in_ring3());
    cpu.out8(pic_slave_command, pic_end_of_interrupt_nonspecific);
    cpu.out8(pic_master_command, pic_end_of_interrupt_nonspecific);
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
    // Disarm when another interrupt woke us early. A timer that fired has disarmed itself (the
    // TSC-deadline MSR reads 0 after it fires, a one-shot count stops at 0): skipping the write
    // saves a VM exit on every halt. Should another interrupt end the halt just past the deadline
    // before the timer fires, the timer's interrupt ends the next halt early: harmless.
    if (cpu.rdtsc() < deadline_tsc) {
        if (tsc_deadline) cpu.wrmsr(msr_tsc_deadline, 0) else write(register_initial_count, 0);
    }
}

/// The timer's interrupt: acknowledge it; the halt it ended returns on its own.
pub fn timer_interrupt() void {
    write(register_eoi, 0);
}
