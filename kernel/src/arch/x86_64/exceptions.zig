//! CPU exceptions are fatal: print what happened (vector, error code, registers, a symbolized
//! backtrace) and stop the VM with exit_status_panic.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const console = @import("../../console/console.zig");
const backtrace = @import("../../debug/backtrace.zig");
const power = @import("../../power.zig");
const cpu = @import("cpu.zig");
const stacks = @import("stacks.zig");
const InterruptFrame = @import("idt.zig").InterruptFrame;

const names = [32][]const u8{
    "#DE divide error",         "#DB debug",                "NMI",
    "#BP breakpoint",           "#OF overflow",             "#BR bound range",
    "#UD invalid opcode",       "#NM device not available", "#DF double fault",
    "coprocessor overrun",      "#TS invalid TSS",          "#NP segment not present",
    "#SS stack fault",          "#GP general protection",   "#PF page fault",
    "reserved 15",              "#MF x87 error",            "#AC alignment check",
    "#MC machine check",        "#XM SIMD error",           "#VE virtualization",
    "#CP control protection",   "reserved 22",              "reserved 23",
    "reserved 24",              "reserved 25",              "reserved 26",
    "reserved 27",              "#HV hypervisor injection", "#VC VMM communication",
    "#SX security",             "reserved 31",
};

/// Set while reporting, so a fault inside the report does not recurse into another report.
var reporting: bool = false;

pub fn fatal(frame: *const InterruptFrame) noreturn {
    assert(frame.vector < names.len);
    if (reporting) {
        console.write("\nnested exception while reporting an exception\n");
        power.exit(constants.exit_status_panic, .exception);
    }
    reporting = true;
    console.print("\nexception: {s} (vector {d}) error 0x{x} in {s}\n", .{
        names[frame.vector], frame.vector, frame.error_code, ring_name(frame),
    });
    if (frame.vector == 14) {
        const cr2 = cpu.read_cr2();
        console.print("page fault at 0x{x}: {s}, {s}\n", .{
            cr2,
            if (frame.error_code & 16 != 0) "instruction fetch" else if (frame.error_code & 2 != 0) "write" else "read",
            if (frame.error_code & 1 != 0) "protection violation" else "page not present",
        });
        if (stacks.guard_owner(cr2)) |slot| report_guard_fault(frame, cr2, slot);
    }
    print_registers(frame);
    backtrace.print(frame.rip, frame.rbp);
    power.exit(constants.exit_status_panic, .exception);
}

pub fn unexpected_interrupt(frame: *const InterruptFrame) noreturn {
    assert(frame.vector >= 32);
    console.print("\nunexpected interrupt: vector {d}\n", .{frame.vector});
    print_registers(frame);
    power.exit(constants.exit_status_panic, .exception);
}

/// A fault in a stack's guard page is an overflow only when the stack pointer is there too: a
/// task running past its stack faults with RSP inside the guard page or just above it (a push,
/// a call, a store into a frame that crossed into it). Anything else dereferenced a pointer into
/// the guard page (from ring 0, RSP is the supervisor's stack: never an overflow).
fn report_guard_fault(frame: *const InterruptFrame, cr2: u64, slot: u32) void {
    const guard = cr2 & ~@as(u64, 4095);
    const overflow = frame.from_ring3() and frame.rsp >= guard and frame.rsp - guard < 2 * 4096;
    if (overflow) {
        console.print("stack overflow: task {d} ran past its stack into the guard page\n", .{slot});
    } else {
        console.print("0x{x} is in the guard page below task {d}'s stack, but the stack pointer " ++
            "is not: a pointer into the guard page was dereferenced\n", .{ cr2, slot });
    }
}

fn ring_name(frame: *const InterruptFrame) []const u8 {
    return if (frame.from_ring3()) "ring 3 (kernel proper or workload)" else "ring 0 (supervisor)";
}

fn print_registers(frame: *const InterruptFrame) void {
    console.print("rip {x:0>16} cs  {x:0>4}  rflags {x:0>8}\n", .{ frame.rip, frame.cs, frame.rflags });
    console.print("rax {x:0>16} rbx {x:0>16} rcx {x:0>16}\n", .{ frame.rax, frame.rbx, frame.rcx });
    console.print("rdx {x:0>16} rsi {x:0>16} rdi {x:0>16}\n", .{ frame.rdx, frame.rsi, frame.rdi });
    console.print("rbp {x:0>16} rsp {x:0>16} r8  {x:0>16}\n", .{ frame.rbp, frame.rsp, frame.r8 });
    console.print("r9  {x:0>16} r10 {x:0>16} r11 {x:0>16}\n", .{ frame.r9, frame.r10, frame.r11 });
    console.print("r12 {x:0>16} r13 {x:0>16} r14 {x:0>16}\n", .{ frame.r12, frame.r13, frame.r14 });
    console.print("r15 {x:0>16} cr3 {x:0>16}\n", .{ frame.r15, cpu.read_cr3() });
}
