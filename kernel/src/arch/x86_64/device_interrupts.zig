//! Device interrupt lines: a virtio-mmio device's GSI routed through the IOAPIC to a vector of
//! its own (device_interrupt_vector_base + line), and the ring-0 handler for those vectors.
//!
//! Interrupts are enabled only inside the idle halt (apic.zig), so a device interrupt does one
//! thing: end that halt so ring 3 looks at the device. The handler does the minimum, since ring
//! 0 is emulated under nested KVM: read the device's InterruptStatus, write it back to
//! InterruptACK, note the bits for ring 3 (`pending_take`), EOI. The ACK comes before the EOI:
//! QEMU's line is a level, and its IOAPIC re-delivers at once on EOI while the line is still
//! high (hw/intc/ioapic.c ioapic_eoi_broadcast). The registers' addresses are handed over at
//! `route` time, so this file knows nothing of virtio.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const cpu = @import("cpu.zig");
const apic = @import("apic.zig");
const ioapic = @import("ioapic.zig");

pub const Trigger = ioapic.Trigger;

/// Where the handler reads which events the device signals, and where it acknowledges them
/// (virtio-mmio: InterruptStatus at base + 0x60, InterruptACK at base + 0x64; 32-bit MMIO).
pub const Acknowledge = struct { status_address: u64, ack_address: u64 };

const Line = struct {
    gsi: u32,
    acknowledge: Acknowledge,
    /// InterruptStatus bits seen by the handler and not yet taken by ring 3.
    pending: u32 = 0,
    /// Interrupts handled since the line was routed, and those among them that found no
    /// InterruptStatus bit set (nothing to acknowledge).
    count: u64 = 0,
    count_empty: u64 = 0,
};

var lines: [constants.device_interrupt_lines_max]Line = undefined;
var line_count: u32 = 0;

pub const RouteError = error{ NoFreeLine, BadGsi, AlreadyRouted, BadAddress };

/// Ring 0 (supervisor operation route_device_interrupt): gives the device on `gsi` the next
/// free line and vector, and unmasks its IOAPIC pin toward this CPU (the bootstrap processor:
/// its APIC ID from CPUID leaf 1, EBX bits 24–31). Returns the line's number. The LAPIC is
/// enabled first: KVM drops a fixed interrupt that reaches a software-disabled LAPIC
/// (__apic_accept_irq in arch/x86/kvm/lapic.c), and on QEMU's level line the IOAPIC's Remote
/// IRR then stays set and the pin never delivers again (seen: the first ARP reply's interrupt
/// arrived during the first halt's LAPIC set-up and the line went silent for good). The
/// interrupts arrive in the next halt (interrupts are off in ring 3).
pub fn route(gsi: u32, trigger: Trigger, acknowledge: Acknowledge) RouteError!u32 {
    assert(!cpu.in_ring3());
    if (gsi >= constants.ioapic_pins) return error.BadGsi;
    if (!register_valid(acknowledge.status_address)) return error.BadAddress;
    if (!register_valid(acknowledge.ack_address)) return error.BadAddress;
    if (line_count == lines.len) return error.NoFreeLine;
    for (lines[0..line_count]) |line| if (line.gsi == gsi) return error.AlreadyRouted;
    apic.enable();
    const line_index = line_count;
    lines[line_index] = .{ .gsi = gsi, .acknowledge = acknowledge };
    line_count += 1;
    const apic_id: u8 = @truncate(cpu.cpuid(1, 0).ebx >> 24);
    ioapic.route(gsi, vector_of(line_index), trigger, apic_id);
    assert(line_count <= lines.len);
    return line_index;
}

/// A 32-bit device register: aligned, in the MMIO window (never RAM the handler would write).
fn register_valid(address: u64) bool {
    if (address % 4 != 0) return false;
    return address >= constants.mmio_window_base and address < constants.identity_map_bytes;
}

fn vector_of(line_index: u32) u8 {
    assert(line_index < constants.device_interrupt_lines_max);
    return @intCast(constants.device_interrupt_vector_base + line_index);
}

/// The line a vector belongs to, or null when no device was routed to it.
pub fn line_of_vector(vector: u64) ?u32 {
    if (vector < constants.device_interrupt_vector_base) return null;
    const line_index = vector - constants.device_interrupt_vector_base;
    if (line_index >= line_count) return null;
    return @intCast(line_index);
}

/// Ring 0: the interrupt of `line_index` (see the top of the file).
pub fn handle(line_index: u32) void {
    assert(!cpu.in_ring3());
    assert(line_index < line_count);
    const line = &lines[line_index];
    const status: *volatile u32 = @ptrFromInt(line.acknowledge.status_address);
    const ack: *volatile u32 = @ptrFromInt(line.acknowledge.ack_address);
    const bits = status.*;
    if (bits != 0) ack.* = bits else line.count_empty +%= 1;
    line.pending |= bits;
    line.count +%= 1;
    apic.end_of_interrupt();
}

/// Ring 3: the InterruptStatus bits signalled since the last call (0: no interrupt), cleared.
/// Interrupts are off in ring 3, so the handler cannot run in between.
pub fn pending_take(line_index: u32) u32 {
    assert(line_index < line_count);
    const bits = @atomicLoad(u32, &lines[line_index].pending, .acquire);
    @atomicStore(u32, &lines[line_index].pending, 0, .release);
    return bits;
}

/// Interrupts handled on `line_index` since it was routed.
pub fn count(line_index: u32) u64 {
    assert(line_index < line_count);
    return @atomicLoad(u64, &lines[line_index].count, .monotonic);
}

/// Interrupts on `line_index` that found InterruptStatus clear.
pub fn count_empty(line_index: u32) u64 {
    assert(line_index < line_count);
    return @atomicLoad(u64, &lines[line_index].count_empty, .monotonic);
}

comptime {
    assert(constants.device_interrupt_vector_base > apic.vector_timer);
    assert(constants.device_interrupt_vector_base + constants.device_interrupt_lines_max <=
        apic.vector_spurious);
}
