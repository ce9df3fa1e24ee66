//! The supervisor: the few operations that need ring 0, requested from ring 3 through one gate.
//! The kernel proper and workloads run in ring 3 (natively, even under nested KVM, where ring-0
//! code is emulated); they come here only for port I/O and stopping the VM.
//!
//! Ring-3 side: `call(operation, a, b, c)` jumps to supervisor_call in interrupts.S, whose ud2
//! raises #UD; idt.zig sees the gate address and calls `dispatch` in ring 0, which returns the
//! result in RAX. Every operation checks its arguments: a bad request returns an error value,
//! it never faults the supervisor.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const cpu = @import("cpu.zig");
const serial = @import("serial.zig");
const pit = @import("pit.zig");
const vm_exit = @import("vm_exit.zig");
const apic = @import("apic.zig");
const device_interrupts = @import("device_interrupts.zig");

pub const Operation = enum(u64) {
    /// a = address, b = length: write bytes to the serial console; returns bytes written.
    console_write = 1,
    /// a = status: stop the VM (see vm_exit.zig); does not return.
    exit = 2,
    /// Calibrates the TSC against the PIT; returns Hz, or 0 when there is no PIT.
    calibrate_tsc_with_pit = 3,
    /// Halts this CPU for good (interrupts off); only the host can end the VM then.
    halt_forever = 4,
    /// a = TSC deadline: halts until then (or an earlier interrupt); returns 0.
    halt_until = 5,
    /// a = 2 MiB-aligned address, b = page-table pages (c of them, consecutive): maps
    /// [a, a + c × 2 MiB) through those 4 KiB page tables, then flushes the TLB. Returns 0.
    map_page_tables = 6,
    /// a = GSI | trigger << 8 (0 edge, 1 level), b = the device's InterruptStatus register
    /// address, c = its InterruptACK register address: enables the LAPIC, routes the GSI to a
    /// device vector of its own and unmasks it (device_interrupts.zig). Returns the line.
    route_device_interrupt = 7,
    /// a = canonical address: loads it as the FS base (IA32_FS_BASE), the x86-64 thread
    /// pointer. WRMSR needs ring 0: the guest CPU does not offer FSGSBASE here (CPUID 7.0 EBX
    /// bit 0 clear under this KVM; python-3.13-addendum.md §4.4). Returns 0.
    set_thread_pointer = 8,
};

pub const refused: u64 = std.math.maxInt(u64);

extern fn supervisor_call(operation: u64, a: u64, b: u64, c: u64) callconv(.c) u64;

/// Ring 3: requests `operation` from the supervisor.
pub fn call(operation: Operation, a: u64, b: u64, c: u64) u64 {
    assert(cpu.in_ring3());
    return supervisor_call(@intFromEnum(operation), a, b, c);
}

/// Ring 0: runs one request. Called by interrupt_dispatch on the supervisor stack.
pub fn dispatch(operation_raw: u64, a: u64, b: u64, c: u64) u64 {
    assert(!cpu.in_ring3());
    const operation = std.meta.intToEnum(Operation, operation_raw) catch return refused;
    switch (operation) {
        .console_write => {
            const length = @min(b, constants.console_write_bytes_max);
            if (!user_range_valid(a, length)) return refused;
            const bytes: [*]const u8 = @ptrFromInt(a);
            serial.write(bytes[0..length]);
            return length;
        },
        .exit => vm_exit.exit_vm(@truncate(a)),
        .calibrate_tsc_with_pit => return pit.calibrate_tsc_hz() orelse 0,
        .halt_forever => cpu.halt_forever(),
        .halt_until => {
            apic.halt_until(a);
            return 0;
        },
        .map_page_tables => return map_page_tables(a, b, c),
        .set_thread_pointer => {
            // A non-canonical base would fault the WRMSR in ring 0.
            if (a >= canonical_lower_half_end) return refused;
            cpu.wrmsr(msr_fs_base, a);
            return 0;
        },
        .route_device_interrupt => {
            if (a >> 9 != 0) return refused;
            const trigger: device_interrupts.Trigger = @enumFromInt(@as(u32, @intCast(a >> 8)));
            const acknowledge: device_interrupts.Acknowledge = .{
                .status_address = b,
                .ack_address = c,
            };
            return device_interrupts.route(@intCast(a & 0xff), trigger, acknowledge) catch refused;
        },
    }
}

const msr_fs_base: u32 = 0xc000_0100;
const canonical_lower_half_end: u64 = 1 << 47;

extern var boot_pd: [2048]u64;

const large_page_bytes: u64 = 2 << 20;
const page_tables_per_call_max: u64 = 16;

fn map_page_tables(address: u64, tables: u64, count: u64) u64 {
    if (count == 0 or count > page_tables_per_call_max) return refused;
    if (address % large_page_bytes != 0 or tables % 4096 != 0) return refused;
    if (address < large_page_bytes or
        address + count * large_page_bytes > constants.ram_limit_bytes) return refused;
    if (tables < 0x10_0000 or tables + count * 4096 > constants.ram_limit_bytes) return refused;
    const first = address / large_page_bytes;
    // present, write, user
    for (0..count) |index| boot_pd[first + index] = (tables + index * 4096) | 7;
    // Reloading CR3 flushes the TLB of the large-page translations just replaced.
    asm volatile ("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: .{ .rax = true, .memory = true });
    return 0;
}

/// Whether [address, address + length) is inside the identity map and not page 0.
fn user_range_valid(address: u64, length: u64) bool {
    if (address < 4096) return false;
    if (address > constants.identity_map_bytes) return false;
    return length <= constants.identity_map_bytes - address;
}
