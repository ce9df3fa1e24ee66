//! TSC calibration against the 8254 PIT, for when there is no kvmclock (QEMU TCG). Channel 0
//! runs as a free 16-bit down-counter at 1.193182 MHz; the kernel latches and reads it until a
//! fixed number of PIT ticks passed, and counts TSC cycles meanwhile. Bounded: with no PIT the
//! counter never moves and calibration gives up.

const std = @import("std");
const assert = std.debug.assert;
const cpu = @import("cpu.zig");
const constants = @import("../../constants.zig");

const port_channel0: u16 = 0x40;
const port_command: u16 = 0x43;
const command_channel0_lohi_rate_generator: u8 = 0x34;
const command_channel0_latch: u8 = 0x00;

fn read_counter() u16 {
    cpu.out8(port_command, command_channel0_latch);
    const low = cpu.in8(port_channel0);
    const high = cpu.in8(port_channel0);
    return (@as(u16, high) << 8) | low;
}

/// Returns the TSC frequency in Hz, or null when the PIT does not count.
pub fn calibrate_tsc_hz() ?u64 {
    cpu.out8(port_command, command_channel0_lohi_rate_generator);
    cpu.out8(port_channel0, 0xff);
    cpu.out8(port_channel0, 0xff);

    var previous = read_counter();
    const tsc_start = cpu.rdtsc();
    var elapsed_ticks: u32 = 0;
    var reads_unchanged: u32 = 0;
    while (elapsed_ticks < constants.pit_calibration_ticks) {
        if (cpu.rdtsc() -% tsc_start > constants.pit_calibration_tsc_cycles_max) return null;
        const current = read_counter();
        // A PIT moves every 0.84 µs; a counter that stands still is no PIT (reads give 0xff).
        if (current == previous) {
            reads_unchanged += 1;
            if (reads_unchanged == constants.pit_absent_reads_unchanged) return null;
        } else {
            reads_unchanged = 0;
        }
        // Down-counter: the distance travelled since the last read, modulo the reload value.
        elapsed_ticks += previous -% current;
        previous = current;
    }
    const tsc_cycles = cpu.rdtsc() -% tsc_start;
    assert(elapsed_ticks >= constants.pit_calibration_ticks);
    if (tsc_cycles == 0) return null;
    return @intCast(@as(u128, tsc_cycles) * constants.pit_hz / elapsed_ticks);
}
