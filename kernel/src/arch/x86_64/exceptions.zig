//! CPU exceptions are fatal: print what happened (vector, error code, registers, a symbolized
//! backtrace) and stop the VM with exit_status_panic. Interrupts no driver claims are not: they
//! are counted (`unexpected_interrupts`) and the first one is reported.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const cpu = @import("cpu.zig");
const stacks = @import("stacks.zig");
const serial = @import("serial.zig");
const vm_exit = @import("vm_exit.zig");
const InterruptFrame = @import("frame.zig").InterruptFrame;

const names = [32][]const u8{
    "#DE divide error",       "#DB debug",                "NMI",
    "#BP breakpoint",         "#OF overflow",             "#BR bound range",
    "#UD invalid opcode",     "#NM device not available", "#DF double fault",
    "coprocessor overrun",    "#TS invalid TSS",          "#NP segment not present",
    "#SS stack fault",        "#GP general protection",   "#PF page fault",
    "reserved 15",            "#MF x87 error",            "#AC alignment check",
    "#MC machine check",      "#XM SIMD error",           "#VE virtualization",
    "#CP control protection", "reserved 22",              "reserved 23",
    "reserved 24",            "reserved 25",              "reserved 26",
    "reserved 27",            "#HV hypervisor injection", "#VC VMM communication",
    "#SX security",           "reserved 31",
};

/// How a report leaves, set by kmain (arch imports nothing above it, so the console, the
/// symbolized backtrace and the exit record reach down here through this hook). Null (before
/// kmain sets it): the report goes straight to the UART and the VM stops from ring 0.
pub var report: ?Report = null;
pub const Report = struct {
    /// Writes kernel text (console.write: marks and line tracking included).
    write: *const fn (bytes: []const u8) void,
    /// Prints a symbolized backtrace from the faulting `rip` and frame pointer `rbp`.
    backtrace: *const fn (rip: u64, rbp: u64) void,
    /// Reports the exit (`@uk:exit` reason=exception) and stops the VM; either ring.
    exit: *const fn (status: u8) noreturn,
};

/// Set while reporting, so a fault inside the report does not recurse into another report.
var reporting: bool = false;

/// Where a fault in ring 3 goes on once it is reported, when the kernel has set it: a ring-3
/// function taking the status (`fn (status: u64) callconv(.c) noreturn`), run on a stack of its
/// own with interrupts off. It ends the run in ring 3, where the events channel works: the
/// output the workload wrote before the fault is still in the channel's buffer. Null: the VM
/// stops from here (ring 0), and that output is lost.
pub var continuation: ?Continuation = null;
pub const Continuation = struct { entry: u64, stack_top: u64 };

/// RFLAGS for the continuation: the always-one bit 1, interrupts off.
const rflags_continuation: u64 = 1 << 1;

/// Reports the exception, then stops the VM, or returns with `frame` redirected to the
/// continuation (a fault in ring 3, the first one).
pub fn fatal(frame: *InterruptFrame) void {
    assert(frame.vector < names.len);
    if (reporting) {
        write("\nnested exception while reporting an exception\n");
        exit(constants.exit_status_panic);
    }
    reporting = true;
    print("\nexception: {s} (vector {d}) error 0x{x} in {s}\n", .{
        names[frame.vector], frame.vector, frame.error_code, ring_name(frame),
    });
    if (frame.vector == 14) {
        const cr2 = cpu.read_cr2();
        const store = frame.error_code & 2 != 0;
        const fetch = frame.error_code & 16 != 0;
        const access = if (fetch) "instruction fetch" else if (store) "write" else "read";
        print("page fault at 0x{x}: {s}, {s}\n", .{
            cr2,
            access,
            if (frame.error_code & 1 != 0) "protection violation" else "page not present",
        });
        if (stacks.guard_owner(cr2)) |slot| report_guard_fault(frame, cr2, slot);
    }
    print_registers(frame);
    if (report) |hooks| hooks.backtrace(frame.rip, frame.rbp);
    if (frame.from_ring3()) if (continuation) |next| return continue_at(frame, next);
    exit(constants.exit_status_panic);
}

fn write(bytes: []const u8) void {
    if (report) |hooks| hooks.write(bytes) else serial.write(bytes);
}

fn print(comptime format: []const u8, arguments: anytype) void {
    var buffer: [constants.console_line_bytes_max]u8 = undefined;
    var writer = std.Io.Writer.fixed(&buffer);
    const complete = if (writer.print(format, arguments)) true else |_| false;
    write(writer.buffered());
    if (!complete) write(" [cut]\n");
}

fn exit(status: u8) noreturn {
    if (report) |hooks| hooks.exit(status);
    vm_exit.exit_vm(status);
}

/// `reporting` stays set: a fault on the way out stops the VM from ring 0.
fn continue_at(frame: *InterruptFrame, next: Continuation) void {
    assert(reporting and frame.from_ring3());
    assert(next.stack_top % 16 == 0);
    frame.rip = next.entry;
    frame.rsp = next.stack_top - 8; // as if called: the SysV ABI's alignment at entry
    frame.rbp = 0; // the backtrace of the continuation ends here
    frame.rdi = constants.exit_status_panic;
    frame.rflags = rflags_continuation;
}

/// Interrupts no driver claims (idt.zig), counted in ring 0 since boot; read from either ring
/// (the kernel's exit report). `unexpected_interrupt_vector_last` is 0 until the first one.
pub var unexpected_interrupt_count: u64 = 0;
pub var unexpected_interrupt_vector_last: u8 = 0;

/// How many interrupts arrived that no driver claims (device lines, NMIs, stray vectors).
pub fn unexpected_interrupts() u64 {
    return @atomicLoad(u64, &unexpected_interrupt_count, .monotonic);
}

/// Ring 0: counts an interrupt no driver claims; the first one is reported on the console (one
/// line: a device line that keeps firing must not flood the serial port, one exit per byte).
/// Never fatal: the VMM may raise interrupts the kernel did not ask for.
pub fn unexpected_interrupt(vector: u8, rip: u64) void {
    assert(!cpu.in_ring3());
    unexpected_interrupt_count +%= 1;
    unexpected_interrupt_vector_last = vector;
    if (unexpected_interrupt_count == 1) {
        print("\ninterrupt: unexpected vector {d} at rip 0x{x} (a device line no driver " ++
            "claims); ignored, and counted\n", .{ vector, rip });
    }
}

/// A fault in a stack's guard page is an overflow only when the stack pointer is there too: a
/// task running past its stack faults with RSP inside the guard page or just above it (a push,
/// a call, a store into a frame that crossed into it). Anything else dereferenced a pointer into
/// the guard page (from ring 0, RSP is the supervisor's stack: never an overflow).
fn report_guard_fault(frame: *const InterruptFrame, cr2: u64, slot: u32) void {
    const guard = cr2 & ~@as(u64, 4095);
    const overflow = frame.from_ring3() and frame.rsp >= guard and frame.rsp - guard < 2 * 4096;
    if (overflow) {
        print("stack overflow: task {d} ran past its stack into the guard page\n", .{slot});
    } else {
        print("0x{x} is in the guard page below task {d}'s stack, but the stack pointer " ++
            "is not: a pointer into the guard page was dereferenced\n", .{ cr2, slot });
    }
}

fn ring_name(frame: *const InterruptFrame) []const u8 {
    return if (frame.from_ring3()) "ring 3 (kernel proper or workload)" else "ring 0 (supervisor)";
}

fn print_registers(frame: *const InterruptFrame) void {
    print("rip {x:0>16} cs  {x:0>4}  rflags {x:0>8}\n", .{ frame.rip, frame.cs, frame.rflags });
    print("rax {x:0>16} rbx {x:0>16} rcx {x:0>16}\n", .{ frame.rax, frame.rbx, frame.rcx });
    print("rdx {x:0>16} rsi {x:0>16} rdi {x:0>16}\n", .{ frame.rdx, frame.rsi, frame.rdi });
    print("rbp {x:0>16} rsp {x:0>16} r8  {x:0>16}\n", .{ frame.rbp, frame.rsp, frame.r8 });
    print("r9  {x:0>16} r10 {x:0>16} r11 {x:0>16}\n", .{ frame.r9, frame.r10, frame.r11 });
    print("r12 {x:0>16} r13 {x:0>16} r14 {x:0>16}\n", .{ frame.r12, frame.r13, frame.r14 });
    print("r15 {x:0>16} cr3 {x:0>16}\n", .{ frame.r15, cpu.read_cr3() });
}
