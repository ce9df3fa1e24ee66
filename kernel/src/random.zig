//! Random bytes for random.fill: RDRAND when the CPU has it (ring 3 may use it), otherwise
//! xoshiro256** seeded from the TSC, the boot entry time and kvmclock. The fallback is not for
//! cryptography; CPUs without RDRAND are rare on the VMMs this kernel runs on.

const std = @import("std");
const assert = std.debug.assert;
const cpu = @import("arch/x86_64/cpu.zig");

var has_rdrand: bool = false;
var generator: std.Random.Xoshiro256 = undefined;

pub fn init(seed: u64) void {
    has_rdrand = cpu.cpuid(1, 0).ecx & (1 << 30) != 0;
    generator = std.Random.Xoshiro256.init(seed ^ cpu.rdtsc());
}

pub fn fill(buffer: []u8) void {
    var offset: usize = 0;
    while (offset < buffer.len) {
        const word = next_word();
        const count = @min(8, buffer.len - offset);
        @memcpy(buffer[offset..][0..count], std.mem.asBytes(&word)[0..count]);
        offset += count;
    }
    assert(offset == buffer.len);
}

fn next_word() u64 {
    if (has_rdrand) {
        // RDRAND may fail transiently; Intel advises 10 retries.
        var attempt: u32 = 0;
        while (attempt < 10) : (attempt += 1) {
            var value: u64 = undefined;
            var ok: u8 = undefined;
            asm volatile ("rdrand %[value]; setc %[ok]"
                : [value] "=r" (value),
                  [ok] "=r" (ok),
            );
            if (ok != 0) return value;
        }
    }
    return generator.next();
}
