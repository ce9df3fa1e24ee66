//! Thin wrappers over x86_64 instructions: port I/O, MSRs, CPUID, TSC, control registers.
//! Every port or MSR access may be a VM exit: callers keep them off hot paths.

pub inline fn out8(port: u16, value: u8) void {
    asm volatile ("outb %[value], %[port]"
        :
        : [value] "{al}" (value),
          [port] "N{dx}" (port),
    );
}

pub inline fn in8(port: u16) u8 {
    return asm volatile ("inb %[port], %[value]"
        : [value] "={al}" (-> u8),
        : [port] "N{dx}" (port),
    );
}

pub inline fn rdtsc() u64 {
    var low: u32 = undefined;
    var high: u32 = undefined;
    asm volatile ("rdtsc"
        : [low] "={eax}" (low),
          [high] "={edx}" (high),
    );
    return (@as(u64, high) << 32) | low;
}

pub inline fn wrmsr(msr: u32, value: u64) void {
    asm volatile ("wrmsr"
        :
        : [msr] "{ecx}" (msr),
          [low] "{eax}" (@as(u32, @truncate(value))),
          [high] "{edx}" (@as(u32, @truncate(value >> 32))),
    );
}

pub const CpuidResult = struct { eax: u32, ebx: u32, ecx: u32, edx: u32 };

pub inline fn cpuid(leaf: u32, subleaf: u32) CpuidResult {
    var eax: u32 = undefined;
    var ebx: u32 = undefined;
    var ecx: u32 = undefined;
    var edx: u32 = undefined;
    asm volatile ("cpuid"
        : [eax] "={eax}" (eax),
          [ebx] "={ebx}" (ebx),
          [ecx] "={ecx}" (ecx),
          [edx] "={edx}" (edx),
        : [leaf] "{eax}" (leaf),
          [subleaf] "{ecx}" (subleaf),
    );
    return .{ .eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx };
}

pub inline fn read_cr2() u64 {
    return asm volatile ("mov %%cr2, %[value]"
        : [value] "=r" (-> u64),
    );
}

pub inline fn read_cr3() u64 {
    return asm volatile ("mov %%cr3, %[value]"
        : [value] "=r" (-> u64),
    );
}

pub inline fn read_rbp() u64 {
    return asm volatile ("mov %%rbp, %[value]"
        : [value] "=r" (-> u64),
    );
}

pub inline fn pause() void {
    asm volatile ("pause");
}

/// Stops this CPU for good: interrupts off, halt in a loop (an NMI could wake `hlt`).
pub fn halt_forever() noreturn {
    while (true) {
        asm volatile ("cli; hlt");
    }
}

/// Whether this code runs in ring 3 (the kernel proper) rather than ring 0 (the supervisor).
pub inline fn in_ring3() bool {
    const cs = asm volatile ("mov %%cs, %[cs]"
        : [cs] "=r" (-> u16),
    );
    return cs & 3 == 3;
}

/// rdtsc as a function value (for code that takes a clock as a parameter).
pub fn rdtsc_function() u64 {
    return rdtsc();
}

/// `rep outsb`: writes `bytes` to one port. A hypervisor can take the whole string in a single
/// exit, where a loop of `out` exits once per byte.
pub inline fn out8_string(port: u16, bytes: []const u8) void {
    asm volatile ("rep outsb"
        :
        : [port] "{dx}" (port),
          [source] "{rsi}" (bytes.ptr),
          [count] "{rcx}" (bytes.len),
        : .{ .rsi = true, .rcx = true, .memory = true });
}
