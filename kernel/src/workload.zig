//! Starting the workload: find the image disk, load the entry ELF it names, check the ABI
//! version the workload was built for, build argv and the environment, and call its entry on its
//! own stack, in ring 3. Its return value is the VM's exit status.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("abi/abi.zig");
const calls = @import("abi/calls.zig");
const constants = @import("constants.zig");
const console = @import("console/console.zig");
const records = @import("console/records.zig");
const pages = @import("memory/pages.zig");
const stacks = @import("arch/x86_64/stacks.zig");
const backtrace = @import("debug/backtrace.zig");
const elf = @import("loader/elf.zig");
const mmio = @import("drivers/virtio/mmio.zig");
const block = @import("drivers/virtio/block/device.zig");
const disk_module = @import("image/disk.zig");
const format = @import("image/format.zig");
const clock_module = @import("time/clock.zig");
const DeviceList = @import("lib/virtio_mmio_token.zig").DeviceList;
const Cmdline = @import("lib/cmdline.zig").Cmdline;

pub const StartError = error{ NoImage, AbiMismatch, AbiNoteMissing, EntryMissing, TooManyArguments } ||
    disk_module.Error || elf.Error;

/// Timestamps of the steps before the workload starts, in TSC ticks, for the start record.
pub const Steps = struct { disk_tsc: u64 = 0, image_tsc: u64 = 0, load_tsc: u64 = 0 };

var block_device: block.Device = undefined;
var header_bytes: [format.header_bytes]u8 align(4096) = undefined;
var disk: disk_module.Disk = undefined;

/// Finds the image among the virtio devices. Null when no image disk is attached (a bare kernel
/// run); an error when a disk is attached but unusable.
pub fn open_image(devices: *const DeviceList, clock: *const clock_module.Clock) StartError!?*disk_module.Disk {
    const timeout_ticks = clock.ticks_for_ns(constants.block_request_timeout_ns);
    for (devices.slice()) |announced| {
        const transport: mmio.Transport = .{ .base = announced.base };
        const id = transport.probe() catch continue;
        if (id != .block) continue;
        block_device = try block.Device.init(transport, timeout_ticks);
        disk = disk_module.Disk.open(&block_device, &header_bytes) catch |err| switch (err) {
            error.BadMagic => continue, // A data disk, not an image.
            else => return err,
        };
        return &disk;
    }
    return null;
}

/// Loads the entry ELF and checks it; returns the entry address.
pub fn load(image: *disk_module.Disk) StartError!u64 {
    const entry = image.index.lookup(image.header.entry) orelse return error.EntryMissing;
    const file = try image.read_file(entry, constants.workload_file_bytes_max);
    const layout = try elf.inspect(file);
    const version = layout.abi orelse return error.AbiNoteMissing;
    // Same major; a workload may not need a newer minor than this kernel provides.
    if (version.major != abi.version_major or version.minor > abi.version_minor) {
        console.print("workload: built for ABI {d}.{d}.{d}, this kernel provides {s}\n", .{
            version.major, version.minor, version.patch, abi.version_string,
        });
        return error.AbiMismatch;
    }
    const span_pages = layout.span_bytes / pages.page_bytes;
    const memory = pages.allocate(span_pages) orelse return error.OutOfMemory;
    const destination = memory[0..layout.span_bytes];
    const entry_address = try elf.load(file, layout, destination);
    backtrace.register_workload(@intFromPtr(memory), @intFromPtr(memory) + layout.span_bytes);
    return entry_address;
}

/// argv: the entry path, then the workload part of the command line; env: etc/ukernel.env.
/// Strings and pointer arrays go into fresh pages.
pub fn start_context(image: *disk_module.Disk, cmdline: Cmdline) StartError!*abi.StartContext {
    const memory = pages.allocate(strings_pages) orelse return error.OutOfMemory;
    var arena = std.heap.FixedBufferAllocator.init(memory[0 .. strings_pages * pages.page_bytes]);
    const allocator = arena.allocator();
    const context = allocator.create(abi.StartContext) catch return error.OutOfMemory;
    const argv = allocator.alloc([*:0]const u8, constants.workload_args_max) catch return error.OutOfMemory;
    const envp = allocator.alloc([*:0]const u8, constants.workload_env_max) catch return error.OutOfMemory;

    var argc: u64 = 0;
    argv[argc] = allocator.dupeZ(u8, image.header.entry) catch return error.OutOfMemory;
    argc += 1;
    var tokens = cmdline.workload_tokens();
    while (tokens.next()) |token| : (argc += 1) {
        if (argc == argv.len) return error.TooManyArguments;
        argv[argc] = allocator.dupeZ(u8, token) catch return error.OutOfMemory;
    }

    var envc: u64 = 0;
    if (image.index.lookup("etc/ukernel.env")) |entry| {
        const text = try image.read_file(entry, constants.workload_env_file_bytes_max);
        var lines = std.mem.tokenizeAny(u8, text, "\r\n");
        while (lines.next()) |raw| {
            const line = std.mem.trim(u8, raw, " \t");
            if (line.len == 0 or line[0] == '#') continue;
            if (std.mem.indexOfScalar(u8, line, '=') == null) continue;
            if (envc == envp.len) return error.TooManyArguments;
            envp[envc] = allocator.dupeZ(u8, line) catch return error.OutOfMemory;
            envc += 1;
        }
    }
    context.* = .{
        .abi_major = abi.version_major,
        .abi_minor = abi.version_minor,
        .abi_patch = abi.version_patch,
        .reserved = 0,
        .table = &calls.table,
        .argc = argc,
        .argv = argv.ptr,
        .envc = envc,
        .envp = envp.ptr,
    };
    return context;
}

const strings_pages: u64 = 32;

extern fn call_on_stack(entry: u64, argument: u64, stack_top: u64) callconv(.c) u64;

/// Calls the workload's entry on a fresh stack; returns its exit status.
pub fn run(entry: u64, context: *const abi.StartContext) StartError!u8 {
    const stack_pages = constants.workload_stack_bytes / pages.page_bytes;
    const stack = pages.allocate(stack_pages) orelse return error.OutOfMemory;
    const bottom = @intFromPtr(stack);
    const top = bottom + constants.workload_stack_bytes;
    stacks.register(.{ .bottom = bottom, .top = top });
    assert(top % 16 == 0);
    const result = call_on_stack(entry, @intFromPtr(context), top);
    return @truncate(result);
}

comptime {
    // call_on_stack(entry, argument, stack_top): switches to stack_top, calls entry(argument),
    // switches back. rbp links the workload's frames to ours, so backtraces cross over.
    asm (
        \\.section .text
        \\.global call_on_stack
        \\.type call_on_stack, @function
        \\call_on_stack:
        \\    pushq %rbp
        \\    movq %rsp, %rbp
        \\    movq %rdx, %rsp
        \\    movq %rdi, %rax
        \\    movq %rsi, %rdi
        \\    callq *%rax
        \\    movq %rbp, %rsp
        \\    popq %rbp
        \\    retq
        \\.size call_on_stack, . - call_on_stack
    );
}
