//! COM1 (16550) transmit-only driver, polled. Every port access is a VM exit (about 15 µs under
//! nested KVM), so the transmitter is checked once per FIFO's worth of bytes, not per byte, and
//! the UART is not reprogrammed: both VMMs accept output without baud-rate set-up.

const std = @import("std");
const assert = std.debug.assert;
const cpu = @import("cpu.zig");
const constants = @import("../../constants.zig");

const register_data: u16 = constants.serial_port_base + 0;
const register_fifo_control: u16 = constants.serial_port_base + 2;
const register_line_status: u16 = constants.serial_port_base + 5;
const line_status_transmitter_empty: u8 = 1 << 5;
const line_status_idle: u8 = (1 << 5) | (1 << 6); // Holding register and shift register empty.
const fifo_enable_and_clear: u8 = 0x07;

/// Bytes that may still be written before the transmitter must be checked again.
var fifo_room_bytes: u32 = 0;
/// Set when the transmitter never drained: from then on output is dropped, not waited for.
var stalled: bool = false;
/// The FIFO is enabled on first use (one port write), not at boot: nothing is printed before
/// the kernel is ready.
var fifo_enabled: bool = false;

/// Ring 0 only (port I/O).
pub fn write(bytes: []const u8) void {
    if (!fifo_enabled) {
        cpu.out8(register_fifo_control, fifo_enable_and_clear);
        fifo_enabled = true;
        fifo_room_bytes = 0;
    }
    var sent: usize = 0;
    while (sent < bytes.len) {
        if (fifo_room_bytes == 0) {
            if (!wait_transmitter_empty()) return;
            fifo_room_bytes = constants.serial_fifo_bytes;
        }
        const chunk = bytes[sent..][0..@min(bytes.len - sent, fifo_room_bytes)];
        cpu.out8_string(register_data, chunk);
        fifo_room_bytes -= @intCast(chunk.len);
        sent += chunk.len;
    }
}

/// Waits (bounded) until the UART has sent everything, FIFO and shift register: called before
/// the VM stops, so a VMM holding bytes back (its output pipe full) has passed them on first.
pub fn drain() void {
    if (stalled) return;
    const start = cpu.rdtsc();
    var attempt: u32 = 0;
    while (attempt < constants.serial_poll_attempts_max) : (attempt += 1) {
        if (cpu.in8(register_line_status) & line_status_idle == line_status_idle) return;
        if (cpu.rdtsc() -% start > constants.serial_stall_tsc_cycles) return;
        cpu.pause();
    }
}

/// Bounded by time, not by a count of polls: a poll costs a VM exit under KVM (~15 µs) but far
/// less under TCG, where a count ran out while the host reader merely paused.
fn wait_transmitter_empty() bool {
    if (stalled) return false;
    const start = cpu.rdtsc();
    var attempt: u32 = 0;
    while (attempt < constants.serial_poll_attempts_max) : (attempt += 1) {
        if (cpu.in8(register_line_status) & line_status_transmitter_empty != 0) return true;
        if (cpu.rdtsc() -% start > constants.serial_stall_tsc_cycles) break;
        cpu.pause();
    }
    stalled = true;
    return false;
}
