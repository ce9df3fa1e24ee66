//! Starting the workload: find the image disk (and the events device), load the entry ELF the
//! image names, check the ABI version the workload was built for, and build argv and the
//! environment. The scheduler then runs the entry as task 0; its return value is the VM's exit
//! status.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("abi/abi.zig");
const calls = @import("abi/calls.zig");
const constants = @import("constants.zig");
const contracts = @import("abi/contracts.zig");
const console = @import("console/console.zig");
const pages = @import("memory/pages.zig");
const cpu = @import("arch/x86_64/cpu.zig");
const backtrace = @import("debug/backtrace.zig");
const elf = @import("loader/elf.zig");
const mmio = @import("drivers/virtio/mmio.zig");
const block = @import("drivers/virtio/block/device.zig");
const net = @import("drivers/virtio/net/device.zig");
const disk_module = @import("image/disk.zig");
const format = @import("image/format.zig");
const clock_module = @import("time/clock.zig");
const events = @import("observe/events.zig");
const DeviceList = @import("drivers/virtio/mmio_token.zig").DeviceList;
const VirtioDevice = @import("drivers/virtio/mmio_token.zig").Device;
const cmdline_module = @import("boot/cmdline.zig");
const Cmdline = cmdline_module.Cmdline;

pub const StartError = error{
    NoImage,
    AbiMismatch,
    AbiNoteMissing,
    EntryMissing,
    TooManyArguments,
    BadArgumentCount,
    ArgumentsMissing,
} ||
    disk_module.Error || elf.Error;

/// Timestamps of the steps before the workload starts, in TSC ticks, for the start record.
pub const Steps = struct { disk_tsc: u64 = 0, image_tsc: u64 = 0, load_tsc: u64 = 0 };

var image_device: block.Device = undefined;
var events_device: block.Device = undefined;
/// The image header (its strings are referenced for the whole run), and a separate buffer for
/// probing other disks' first sectors.
var header_bytes: [format.header_bytes]u8 align(4096) = undefined;
var probe_bytes: [format.header_bytes]u8 align(4096) = undefined;
var disk: disk_module.Disk = undefined;

/// `events`: the events device, set up; `events_later`: disks after the image that
/// attach_events_device looks at when the events channel first writes.
pub const Disks = struct {
    image: ?*disk_module.Disk = null,
    events: ?*block.Device = null,
    events_later: bool = false,
};

/// Where attach_events_device resumes the search.
var later: struct { devices: *const DeviceList, next: usize, timeout_ticks: u64 } = undefined;

/// The first disk after the image that holds an events-device header, set up; null when none
/// does. Called once, by the events channel, in ring 3.
pub fn attach_events_device() ?*block.Device {
    const announced = later.devices.slice();
    assert(later.next < announced.len);
    for (announced[later.next..], later.next..) |device, index| {
        if (announced_before(announced[0..index], device.base)) continue;
        const opened = open_disk(device.base, &events_device, later.timeout_ticks) catch continue;
        if (opened and holds_events_header()) return &events_device;
    }
    return null;
}

/// Sets up the virtio-blk device at `base` in `slot` and reads its first sector into
/// probe_bytes; false when what is there is not a virtio-blk device (left alone).
fn open_disk(base: u64, slot: *block.Device, timeout_ticks: u64) block.Error!bool {
    const transport: mmio.Transport = .{ .base = base };
    const id = transport.probe() catch return false;
    if (id != .block) return false;
    slot.* = try block.Device.init(transport, timeout_ticks);
    try slot.read(0, &probe_bytes);
    return true;
}

fn holds_events_header() bool {
    return std.mem.eql(u8, probe_bytes[0..events.device_magic.len], events.device_magic);
}

/// Finds the image disk and the events device among the virtio-blk devices, by what their first
/// sector holds; other disks are left alone. An error when the image disk is unusable.
pub fn discover_disks(
    devices: *const DeviceList,
    clock: *const clock_module.Clock,
    steps: *Steps,
) StartError!Disks {
    const timeout_ticks = clock.ticks_for_ns(constants.block_request_timeout_ns);
    var found: Disks = .{};
    for (devices.slice(), 0..) |announced, index| {
        // The same device announced twice (a user token repeating the VMM's) is set up once:
        // initialising it again would reset it under the first driver.
        if (announced_before(devices.slice()[0..index], announced.base)) continue;
        if (found.image != null and found.events == null) {
            // The disks after the image are left for the events channel to set up when its first
            // block leaves (attach_events_device): the workload starts ~0.8 ms sooner.
            later = .{ .devices = devices, .next = index, .timeout_ticks = timeout_ticks };
            found.events_later = true;
            break;
        }
        const slot = if (found.image == null) &image_device else &events_device;
        if (!try open_disk(announced.base, slot, timeout_ticks)) continue;
        if (found.events == null and holds_events_header()) {
            if (slot != &events_device) events_device = slot.*;
            found.events = &events_device;
            continue;
        }
        if (found.image == null and disk_module.looks_like_image(&probe_bytes)) {
            steps.disk_tsc = cpu.rdtsc();
            header_bytes = probe_bytes;
            disk = try disk_module.Disk.open(&image_device, &header_bytes);
            found.image = &disk;
            steps.image_tsc = cpu.rdtsc();
        }
    }
    return found;
}

var network_device: net.Device = undefined;

/// The first virtio-net device announced, or null: one MMIO read per device to tell. Its set-up
/// is the network stack's (net/stack.zig), off the path to the workload's main.
pub fn find_network(devices: *const DeviceList) ?VirtioDevice {
    for (devices.slice(), 0..) |announced, index| {
        if (announced_before(devices.slice()[0..index], announced.base)) continue;
        const transport: mmio.Transport = .{ .base = announced.base };
        if (transport.read(.device_id) == @intFromEnum(mmio.DeviceId.network)) return announced;
    }
    return null;
}

/// Sets up a virtio-net device at once (the driver's self-test, uk.net.selftest); null when its
/// set-up failed (said on the console).
pub fn set_up_network(announced: VirtioDevice) ?*net.Device {
    network_device = net.Device.init(announced) catch |err| {
        console.print("network: the virtio-net device at 0x{x} was not set up: {s}\n", .{
            announced.base, @errorName(err),
        });
        return null;
    };
    return &network_device;
}

fn announced_before(earlier: []const VirtioDevice, base: u64) bool {
    for (earlier) |device| if (device.base == base) return true;
    return false;
}

/// Loads the entry ELF and checks it; returns the entry address.
/// The loaded entry: where to start it, and the first task's stack size (stack_request).
pub const Loaded = struct { entry: u64, stack_bytes: u64 };

pub fn load(image: *disk_module.Disk) StartError!Loaded {
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
    // The file's pages are not needed once its segments are in place (a CPython adapter is
    // megabytes: keep them for the workload's heap).
    const file_pages = std.math.divCeil(u64, @max(file.len, 1), pages.page_bytes) catch
        unreachable;
    pages.global.free(@intFromPtr(file.ptr), file_pages);
    backtrace.register_workload(@intFromPtr(memory), @intFromPtr(memory) + layout.span_bytes);
    return .{ .entry = entry_address, .stack_bytes = elf.stack_request(layout.stack_bytes) };
}

/// argv: the entry path, then the workload part of the command line; env: etc/ukernel.env.
/// Strings and pointer arrays go into fresh pages.
pub fn start_context(image: *disk_module.Disk, cmdline: Cmdline) StartError!*abi.StartContext {
    const memory = pages.allocate(strings_pages) orelse return error.OutOfMemory;
    var arena = std.heap.FixedBufferAllocator.init(memory[0 .. strings_pages * pages.page_bytes]);
    const allocator = arena.allocator();
    const context = allocator.create(abi.StartContext) catch return error.OutOfMemory;
    const argv = allocator.alloc([*:0]const u8, constants.workload_args_max) catch
        return error.OutOfMemory;
    const envp = allocator.alloc([*:0]const u8, constants.workload_env_max) catch
        return error.OutOfMemory;

    var argc: u64 = 0;
    argv[argc] = allocator.dupeZ(u8, image.header.entry) catch return error.OutOfMemory;
    argc += 1;
    // `uk.argc=N` (written by the CLI) says how many tokens after `--` are the workload's: a VMM
    // may append its own after them (Firecracker does when the line has no ` -- `), and argv
    // must be the same on every VMM.
    const declared = try declared_argc(cmdline);
    var tokens = cmdline.workload_tokens();
    while (tokens.next()) |token| : (argc += 1) {
        if (declared) |count| if (argc - 1 == count) break;
        if (argc == argv.len) return error.TooManyArguments;
        argv[argc] = allocator.dupeZ(u8, token) catch return error.OutOfMemory;
    }
    if (declared) |count| if (argc - 1 != count) return error.ArgumentsMissing;

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

/// The workload argument count the CLI declared with `uk.argc=N`, or null when it did not.
fn declared_argc(cmdline: Cmdline) StartError!?u64 {
    const text = cmdline.get(contracts.cmdline.key_argc) orelse return null;
    const count = cmdline_module.parse_decimal(text) orelse return error.BadArgumentCount;
    if (count >= constants.workload_args_max) return error.TooManyArguments;
    return count;
}

const strings_pages: u64 = 32;
