//! The IOAPIC: routes a device's line (a GSI, a pin) to a vector on this CPU. Both VMMs have one
//! at 0xFEC00000 with 24 pins, every entry masked at reset (KVM's kvm_ioapic_reset in
//! arch/x86/kvm/ioapic.c, QEMU's ioapic_reset_common in hw/intc/ioapic_common.c). It is mapped
//! user-accessible in the identity map, so ring 3 programs it: four 32-bit MMIO accesses, each a
//! VM exit.
//!
//! Registers (Intel 82093AA datasheet; QEMU include/hw/i386/ioapic_internal.h): IOREGSEL at +0x00
//! takes a register index, IOWIN at +0x10 reads or writes it. Redirection entry n is indexes
//! 0x10 + 2n (low dword: vector 0–7, delivery mode 8–10 (0 fixed), destination mode 11 (0
//! physical), polarity 13 (0 active high), trigger 15 (1 level), mask 16) and 0x11 + 2n (high
//! dword: destination APIC ID in bits 24–31).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");

const base: u64 = 0xfec0_0000;
const register_select: u64 = 0x00;
const register_window: u64 = 0x10;
const index_redirection_low: u32 = 0x10;

/// How the device drives its line (entry bit 15). QEMU's virtio-mmio line is a level (high while
/// InterruptStatus ≠ 0, hw/virtio/virtio-mmio.c virtio_mmio_update_irq); Firecracker's is an
/// edge, an irqfd pulse without resample (vstate/interrupts.rs).
pub const Trigger = enum(u32) { edge = 0, level = 1 };

const entry_trigger_shift: u5 = 15;

fn write(index: u32, value: u32) void {
    const select: *volatile u32 = @ptrFromInt(base + register_select);
    const window: *volatile u32 = @ptrFromInt(base + register_window);
    select.* = index;
    window.* = value;
}

/// Routes pin `gsi` to `vector` on the CPU whose APIC ID is `destination`: fixed delivery,
/// physical destination, active high, `trigger`, unmasked. The high dword goes first, so the
/// entry is complete when the low dword's write unmasks it (Linux's __ioapic_write_entry).
/// Either ring.
pub fn route(gsi: u32, vector: u8, trigger: Trigger, destination: u8) void {
    assert(gsi < constants.ioapic_pins);
    assert(vector >= constants.exception_vectors and vector < constants.interrupt_vectors_max);
    const index = index_redirection_low + 2 * gsi;
    write(index + 1, @as(u32, destination) << 24);
    write(index, @as(u32, vector) | (@intFromEnum(trigger) << entry_trigger_shift));
}
