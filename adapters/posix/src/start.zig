//! The workload entry of a C program on the POSIX layer. The kernel calls _start in ring 3 with
//! the start context (sdk/zig/abi.zig); the kernel's loader has already applied the program's
//! relative relocations, so no rcrt1/crt1 is linked. _start keeps the call table, sets up fds
//! 0-2, builds the block a Linux kernel leaves on the initial stack (argv, NULL, envp, NULL,
//! auxv) and calls musl's __libc_start_main with the adapter's `main`; exit_group then ends
//! the program with task.exit.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");
const fd = @import("fd.zig");
const files = @import("files.zig");
const process = @import("process.zig");
const uk = @import("uk.zig");

const MainFn = *const fn (c_int, [*:null]?[*:0]u8, [*:null]?[*:0]u8) callconv(.c) c_int;
const InitFn = ?*const fn () callconv(.c) void;

extern fn __libc_start_main(
    main: MainFn,
    argc: c_int,
    argv: [*:null]?[*:0]u8,
    init: InitFn,
    fini: InitFn,
    ldso: InitFn,
) c_int;
extern fn main(argc: c_int, argv: [*:null]?[*:0]u8, envp: [*:null]?[*:0]u8) c_int;

const at_null: u64 = 0;
const at_phdr: u64 = 3;
const at_phent: u64 = 4;
const at_phnum: u64 = 5;
const at_pagesz: u64 = 6;
const at_base: u64 = 7;
const at_entry: u64 = 9;
const at_uid: u64 = 11;
const at_euid: u64 = 12;
const at_gid: u64 = 13;
const at_egid: u64 = 14;
const at_clktck: u64 = 17;
const at_secure: u64 = 23;
const at_random: u64 = 25;
const at_execfn: u64 = 31;

const aux_pairs_max: usize = 16;
const block_words = constants.start_args_max + 1 + constants.start_env_max + 1 + 2 * aux_pairs_max;

/// The initial block: argv[0..argc], NULL, envp[0..envc], NULL, then (type, value) pairs.
var block: [block_words]u64 = undefined;
/// AT_RANDOM's 16 bytes (musl takes its stack-protector canary from them).
var random_bytes: [16]u8 = undefined;

pub fn entry(context: *const abi.StartContext) callconv(.c) u32 {
    uk.keep(context);
    uk.fds = fd.Table.init();
    const argc = @min(context.argc, constants.start_args_max);
    const envc = @min(context.envc, constants.start_env_max);
    if (argc > 0) remember_executable(std.mem.span(context.argv[0]));
    var word: usize = 0;
    for (context.argv[0..argc]) |argument| {
        block[word] = @intFromPtr(argument);
        word += 1;
    }
    block[word] = 0;
    word += 1;
    for (context.envp[0..envc]) |variable| {
        block[word] = @intFromPtr(variable);
        word += 1;
    }
    block[word] = 0;
    word += 1;
    const aux_words = auxv_fill(block[word..], if (argc > 0) @intFromPtr(context.argv[0]) else 0);
    assert(word + aux_words <= block.len);
    const argv: [*:null]?[*:0]u8 = @ptrCast(&block);
    _ = __libc_start_main(&main, @intCast(argc), argv, null, null, null);
    // __libc_start_main ends with exit(); if it ever returned, say so.
    uk.console_write("posix: __libc_start_main returned\n");
    return 127;
}

fn remember_executable(argument: []const u8) void {
    const length = @min(argument.len + 1, files.executable.len - 1);
    files.executable[0] = '/';
    @memcpy(files.executable[1..length], argument[0 .. length - 1]);
    files.executable_length = @intCast(length);
}

/// PT_GNU_STACK's p_memsz (0 without one): the first task's stack the program asked for.
fn stack_asked_bytes(header: *const std.elf.Elf64_Ehdr) u64 {
    assert(header.e_phentsize == @sizeOf(std.elf.Elf64_Phdr));
    const base: [*]const std.elf.Elf64_Phdr = @ptrFromInt(@intFromPtr(header) + header.e_phoff);
    for (base[0..header.e_phnum]) |segment| {
        if (segment.p_type == std.elf.PT_GNU_STACK) return segment.p_memsz;
    }
    return 0;
}

/// The auxiliary vector musl reads: the program headers at their RUNTIME address (musl finds
/// PT_TLS and the load base from them), the page size, 16 random bytes, not secure, ids 0.
fn auxv_fill(out: []u64, execfn: u64) usize {
    const header = @extern(*const std.elf.Elf64_Ehdr, .{
        .name = "__ehdr_start",
        .visibility = .hidden,
    });
    _ = uk.table.random_fill(&random_bytes, random_bytes.len);
    process.main_stack_bytes = process.stack_request(stack_asked_bytes(header));
    const pairs = [_][2]u64{
        .{ at_phdr, @intFromPtr(header) + header.e_phoff },
        .{ at_phent, header.e_phentsize },
        .{ at_phnum, header.e_phnum },
        .{ at_pagesz, constants.page_bytes },
        .{ at_base, 0 },
        .{ at_entry, @intFromPtr(&entry) },
        .{ at_uid, constants.user_id },
        .{ at_euid, constants.user_id },
        .{ at_gid, constants.user_id },
        .{ at_egid, constants.user_id },
        .{ at_clktck, 100 },
        .{ at_secure, 0 },
        .{ at_random, @intFromPtr(&random_bytes) },
        .{ at_execfn, execfn },
        .{ at_null, 0 },
    };
    comptime assert(pairs.len <= aux_pairs_max);
    assert(std.mem.eql(u8, header.e_ident[0..4], "\x7fELF"));
    for (pairs, 0..) |pair, index| {
        out[2 * index] = pair[0];
        out[2 * index + 1] = pair[1];
    }
    return 2 * pairs.len;
}

/// The note that tells the kernel's loader this program sets its own thread pointer (musl's
/// arch_prctl(ARCH_SET_FS) → task.set_thread_pointer), so its PT_TLS segment is accepted. The
/// ABI version note comes from the SDK (ukernel.abi_note).
const ThreadPointerNote = extern struct {
    name_bytes: u32 = abi.note_name.len + 1,
    description_bytes: u32 = 0,
    kind: u32 = abi.note_type_thread_pointer,
    name: [8]u8 = (abi.note_name ++ "\x00").*,
};
pub const thread_pointer_note: ThreadPointerNote linksection(".note.ukernel") = .{};
comptime {
    @export(&thread_pointer_note, .{
        .name = "ukernel_thread_pointer_note",
        .section = ".note.ukernel",
    });
}
