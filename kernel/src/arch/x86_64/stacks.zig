//! The kernel's fixed stacks: the boot stack kmain runs on, and one interrupt-stack-table
//! stack for each exception that must not trust the current stack (double fault, NMI,
//! machine check). They live in .bss and are never freed.

const constants = @import("../../constants.zig");

pub const Stack = struct {
    bottom: u64,
    top: u64,

    pub fn contains(stack: Stack, address: u64, bytes: u64) bool {
        return address >= stack.bottom and address + bytes <= stack.top;
    }
};

var boot_stack: [constants.boot_stack_bytes]u8 align(4096) linksection(".bss.stacks") = undefined;
var ist_stacks: [3][constants.ist_stack_bytes]u8 align(4096) linksection(".bss.stacks") = undefined;

/// Read by long_mode_entry in entry.S to set RSP before kmain.
export const boot_stack_top_pointer: [*]u8 = @as([*]u8, &boot_stack) + boot_stack.len;

pub const ist_double_fault: u3 = 1;
pub const ist_nmi: u3 = 2;
pub const ist_machine_check: u3 = 3;

pub fn boot() Stack {
    const bottom = @intFromPtr(&boot_stack);
    return .{ .bottom = bottom, .top = bottom + boot_stack.len };
}

/// The stack of interrupt-stack-table slot `index` (1-based, as in the TSS).
pub fn ist(index: u3) Stack {
    const bottom = @intFromPtr(&ist_stacks[index - 1]);
    return .{ .bottom = bottom, .top = bottom + constants.ist_stack_bytes };
}

/// Whether [address, address + bytes) lies on any kernel stack: backtraces only follow
/// frame pointers that do.
pub fn on_any_stack(address: u64, bytes: u64) bool {
    if (boot().contains(address, bytes)) return true;
    var index: u3 = 1;
    while (index <= ist_stacks.len) : (index += 1) {
        if (ist(index).contains(address, bytes)) return true;
    }
    return false;
}
