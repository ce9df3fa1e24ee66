//! The saved state of an interrupted context, and which vectors below 32 can be told apart from
//! CPU exceptions. Pure (no privileged instructions): host unit tests cover it.
//!
//! Why it matters: under Firecracker the legacy 8259 PIC is live with vector base 0 and LINT0 is
//! ExtINT, so until the PIC is masked (apic.zig) a device line n arrives as vector n (0–7; the
//! slave's base is 0 too), where the CPU's exceptions live. A hardware interrupt pushes the same
//! frame as an exception without an error code, so a vector is a device interrupt only when this
//! kernel can never raise that exception, or when the frame shows that no error code was pushed:
//!
//!   - never raised here: 2 (NMI is external by definition); 3 (#BP: int3 from ring 3 meets a
//!     DPL-0 gate and raises #GP instead, and ring-0 code has no int3); 4 (#OF: INTO is invalid
//!     in 64-bit mode); 5 (#BR: BOUND is invalid in 64-bit mode, MPX is never enabled); 7 (#NM:
//!     CR0.TS and CR0.EM are clear and never set); 9 (coprocessor overrun: not raised since the
//!     486); 15, 22–27, 31 (reserved); 20 (#VE: needs EPT-violation #VE, a TDX feature); 28 (#HV:
//!     SEV-SNP only).
//!   - an error-code vector (8, 10–14, 17, 21, 29, 30) whose frame has no error code: the slot
//!     where RIP should be holds a code selector and the slot where CS should be holds RFLAGS
//!     with IF set (a device interrupt is only taken with IF = 1; our selectors have bit 9
//!     clear), so the frame is one slot short.
//!   - everything else (0 #DE, 1 #DB, 6 #UD, 16 #MF, 18 #MC, 19 #XM with no error code) can come
//!     from ring-3 code and stays a fatal exception.
//! Source: Intel SDM vol. 3A, 6.3–6.15 (exception classes, error codes, INTn gate DPL checks).

const std = @import("std");
const assert = std.debug.assert;

/// Saved by interrupt_common in interrupts.S, lowest address first.
pub const InterruptFrame = extern struct {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,

    pub fn from_ring3(frame: *const InterruptFrame) bool {
        return frame.cs & 3 == 3;
    }
};

comptime {
    assert(@sizeOf(InterruptFrame) == 22 * 8);
}

/// Written into `vector` for a frame one slot short: interrupts.S then drops one slot less.
/// Must match FRAME_WITHOUT_ERROR_CODE in interrupts.S.
pub const vector_frame_without_error_code: u64 = std.math.maxInt(u64);

/// GDT selectors of ring-0 and ring-3 code (entry.S).
pub const selector_kernel_code: u64 = 0x08;
pub const selector_user_code: u64 = 0x20 | 3;

const rflags_interrupt_enable: u64 = 1 << 9;
const rflags_reserved_one: u64 = 1 << 1;

fn vector_bits(comptime vectors: []const u5) u32 {
    var bits: u32 = 0;
    for (vectors) |vector| bits |= @as(u32, 1) << vector;
    return bits;
}

/// Exception vectors this kernel never raises (see the top of the file).
const never_raised = vector_bits(&.{ 2, 3, 4, 5, 7, 9, 15, 20, 22, 23, 24, 25, 26, 27, 28, 31 });
/// Exceptions that push an error code (interrupts.S pushes a zero for the others).
const with_error_code = vector_bits(&.{ 8, 10, 11, 12, 13, 14, 17, 21, 29, 30 });

pub const Kind = enum {
    /// A CPU exception: fatal.
    exception,
    /// A device interrupt (or NMI) with the usual frame.
    device,
    /// A device interrupt on an error-code vector: no error code was pushed, so every field
    /// from `error_code` on is one slot early (error_code = RIP, rip = CS, cs = RFLAGS, ...).
    device_without_error_code,
};

/// What a vector below 32 is. Vectors from 32 on are always device interrupts.
pub fn classify(frame: *const InterruptFrame) Kind {
    assert(frame.vector < 32);
    const bit = @as(u32, 1) << @intCast(frame.vector);
    if (never_raised & bit != 0) return .device;
    if (with_error_code & bit != 0 and pushed_no_error_code(frame)) {
        return .device_without_error_code;
    }
    return .exception;
}

/// For an error-code vector: whether the frame is one slot short. An exception's frame has a
/// code selector in `cs` (bit 9 clear); a short frame has RFLAGS there (IF and bit 1 set) and
/// the selector one slot lower, in `rip`.
fn pushed_no_error_code(frame: *const InterruptFrame) bool {
    const selector_in_rip = frame.rip == selector_kernel_code or frame.rip == selector_user_code;
    const rflags_in_cs = frame.cs & rflags_interrupt_enable != 0 and
        frame.cs & rflags_reserved_one != 0;
    return selector_in_rip and rflags_in_cs;
}

/// The interrupted RIP, wherever the frame keeps it.
pub fn interrupted_rip(frame: *const InterruptFrame, kind: Kind) u64 {
    return if (kind == .device_without_error_code) frame.error_code else frame.rip;
}

fn test_frame(vector: u64, error_code: u64, rip: u64, cs: u64, rflags: u64) InterruptFrame {
    var frame = std.mem.zeroes(InterruptFrame);
    frame.vector = vector;
    frame.error_code = error_code;
    frame.rip = rip;
    frame.cs = cs;
    frame.rflags = rflags;
    return frame;
}

test "vectors this kernel never raises are device interrupts" {
    for ([_]u64{ 2, 3, 4, 5, 7, 9, 15, 20, 31 }) |vector| {
        const frame = test_frame(vector, 0, 0x10_2000, selector_kernel_code, 0x246);
        try std.testing.expectEqual(Kind.device, classify(&frame));
    }
}

test "exceptions ring-3 code can raise stay exceptions" {
    for ([_]u64{ 0, 1, 6, 16, 18, 19 }) |vector| {
        const frame = test_frame(vector, 0, 0x80_1000, selector_user_code, 0x202);
        try std.testing.expectEqual(Kind.exception, classify(&frame));
    }
}

test "an error-code vector tells an exception from a short device-interrupt frame" {
    // #PF from ring 3: error 0x6 (user write, not present), the usual frame.
    const page_fault = test_frame(14, 0x6, 0x80_1000, selector_user_code, 0x202);
    try std.testing.expectEqual(Kind.exception, classify(&page_fault));
    // #PF on an instruction fetch at address 0x8: RIP equals a selector, but CS is a selector.
    const fetch_at_8 = test_frame(14, 0x14, selector_kernel_code, selector_kernel_code, 0x46);
    try std.testing.expectEqual(Kind.exception, classify(&fetch_at_8));
    // IRQ 5 of a PIC based at 8 arriving as vector 13 while ring 0 halts: no error code, so
    // error_code = RIP, rip = CS, cs = RFLAGS (IF set).
    const short = test_frame(13, 0x10_3456, selector_kernel_code, 0x246, 0x15_0000);
    try std.testing.expectEqual(Kind.device_without_error_code, classify(&short));
    try std.testing.expectEqual(@as(u64, 0x10_3456), interrupted_rip(&short, classify(&short)));
    // The same from ring 3 (a halt never runs there, but the frame rule is the same).
    const short_user = test_frame(8, 0x80_1000, selector_user_code, 0x202, 0x80_0000);
    try std.testing.expectEqual(Kind.device_without_error_code, classify(&short_user));
}
