//! kmain: the boot sequence, one step per line. entry.S gets here in ring 3, in long mode, with
//! our GDT, page tables, static IDT and TSS loaded (every fault is reported from the first
//! instruction), SSE enabled, on the boot stack. Ring 0 is left to the supervisor
//! (arch/x86_64/supervisor.zig). From here, in this order:
//!
//!   boot info   -> command line and memory map from PVH start_info or the Linux zero page
//!   clock       -> TSC frequency (kvmclock, CPUID or PIT), boot phases converted to ns
//!   devices     -> virtio-mmio devices announced on the command line
//!   ready       -> first console output: the `@uk:boot` record, then the banner
//!   workload    -> the image disk, the entry ELF loaded and checked, argv and env, then the
//!                  workload runs (ring 3, its own stack); its result is the VM's exit status
//!
//! The console is silent until ready: each UART byte is a VM exit (~15 µs under nested KVM).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("constants.zig");
const cpu = @import("arch/x86_64/cpu.zig");
const boot_info = @import("boot/boot_info.zig");
const clock_module = @import("time/clock.zig");
const console = @import("console/console.zig");
const records = @import("console/records.zig");
const backtrace = @import("debug/backtrace.zig");
const power = @import("power.zig");
const supervisor = @import("arch/x86_64/supervisor.zig");
const exceptions = @import("arch/x86_64/exceptions.zig");
const pages = @import("memory/pages.zig");
const heap = @import("memory/heap.zig");
const workload = @import("workload.zig");
const calls = @import("abi/calls.zig");
const scheduler = @import("sched/scheduler.zig");
const task_stacks = @import("sched/task_stacks.zig");
const handles = @import("io/handles.zig");
const files = @import("io/files.zig");
const rootfs = @import("image/rootfs.zig");
const channels = @import("ipc/channels.zig");
const events = @import("observe/events.zig");
const random = @import("random.zig");
const cmdline_module = @import("boot/cmdline.zig");
const Cmdline = cmdline_module.Cmdline;
const contracts = @import("abi/contracts.zig");
const DeviceList = @import("drivers/virtio/mmio_token.zig").DeviceList;
const net = @import("drivers/virtio/net/device.zig");
const net_selftest = @import("drivers/virtio/net/selftest.zig");
const net_stack = @import("net/stack.zig");
const net_config = @import("net/config.zig");
const MemoryMap = @import("boot/memory_map.zig").MemoryMap;

comptime {
    // Referenced only from assembly: the stacks, the TSS and interrupt dispatch.
    _ = @import("arch/x86_64/stacks.zig");
    _ = @import("arch/x86_64/tss.zig");
    _ = @import("arch/x86_64/idt.zig");
}

pub const panic = std.debug.FullPanic(panic_handler);

/// TSC readings at the end of each boot phase, converted to ns once the clock is known.
var phase_tsc: [records.phase_count]u64 = .{0} ** records.phase_count;

// Boot state lives in static memory, filled in place: no large copies on the boot path.
var boot_information: boot_info.BootInfo = undefined;
var virtio_devices: DeviceList = undefined;
var kernel_heap: heap.Heap = undefined;
var workload_heap: heap.Heap = undefined;

fn phase_done(phase: constants.BootPhase) void {
    phase_tsc[@intFromEnum(phase)] = cpu.rdtsc();
}

export fn kmain(protocol: u32, boot_info_address: u64, entry_tsc: u64) callconv(.c) noreturn {
    phase_done(.ring3);
    exceptions.report = .{
        .write = &console.write,
        .backtrace = &backtrace.print,
        .exit = &exception_exit,
    };
    boot_info.parse(protocol, boot_info_address, &boot_information) catch |err| {
        console.print("boot: cannot read boot information: {s}\n", .{@errorName(err)});
        power.exit(constants.exit_status_panic, .panic);
    };
    phase_done(.boot_info);
    const clock = clock_module.init(entry_tsc);
    phase_done(.clock);
    if (boot_information.cmdline_cut) command_line_cut();
    const cmdline = Cmdline.init(boot_information.cmdline);
    if (cmdline.get(contracts.cmdline.key_wall_ns)) |text| {
        const launch_ns = cmdline_module.parse_decimal(text) orelse 0;
        if (launch_ns > 0) clock_module.global.set_wall_clock(launch_ns);
    }
    virtio_devices.parse_cmdline(cmdline);
    phase_done(.devices);
    phase_done(.ready);

    const verbose = cmdline.has("uk.verbose");
    if (cmdline.get("uk.test")) |mode| {
        // Test modes run before any device is set up: their records go to the console.
        report_boot(&boot_information, clock);
        if (verbose) report_details(&boot_information, cmdline);
        report_kernel(&boot_information, clock, &virtio_devices);
        run_test_mode(mode);
    }
    start_workload(cmdline, clock, verbose);
}

/// Finds the image, sets up the kernel core (memory, handles, channels, events, task stacks,
/// scheduler), loads the workload and starts it as task 0. Without an image disk (a bare kernel
/// run) the kernel stops with status 0.
fn start_workload(cmdline: Cmdline, clock: *const clock_module.Clock, verbose: bool) noreturn {
    _ = pages.init(&boot_information.memory_map) catch |err| workload_failed("memory", err);
    const nic = workload.find_network(&virtio_devices);
    if (cmdline.get("uk.net.selftest")) |text| {
        const device = if (nic) |announced| workload.set_up_network(announced) else null;
        run_net_selftest(device, text, cmdline, clock);
    }
    var steps: workload.Steps = .{};
    const disks = workload.discover_disks(&virtio_devices, clock, &steps) catch |err| {
        report_boot(&boot_information, clock);
        workload_failed("image", err);
    };
    // The boot record goes out now, on the events device when there is one: on the console it
    // would cost a VM exit per byte before the workload starts.
    events.init(disks.events, if (disks.events_later) &workload.attach_events_device else null);
    report_boot(&boot_information, clock);
    if (verbose) report_details(&boot_information, cmdline);
    const image = disks.image orelse {
        // A bare kernel run: say what booted, and stop.
        report_kernel(&boot_information, clock, &virtio_devices);
        if (verbose) console.write("no image disk attached: nothing to run\n");
        power.exit(0, .@"return");
    };
    // With a workload, the console is the workload's: the kernel says more only when asked.
    if (verbose) report_kernel(&boot_information, clock, &virtio_devices);
    kernel_heap = heap.Heap.init(&pages.global) orelse workload_failed("memory", error.OutOfMemory);
    workload_heap = heap.Heap.init(&pages.global) orelse
        workload_failed("memory", error.OutOfMemory);
    handles.init();
    files.init(image);
    channels.init(&kernel_heap);
    random.init(clock.kvmclock_entry_ns orelse clock.entry_tsc);
    const load_start_tsc = cpu.rdtsc();
    // Loaded before the stacks are made: the ELF says how large the first task's stack is.
    const loaded = workload.load(image) catch |err| workload_failed("workload", err);
    task_stacks.init(loaded.stack_bytes) catch |err| workload_failed("task stacks", err);
    scheduler.init(&clock_module.global, &flush_events);
    scheduler.workload_finished = &workload_finished;
    calls.init(&workload_heap);
    if (nic) |device| {
        const wanted = net_config.parse(cmdline) catch |err| workload_failed("network", err);
        net_stack.start_with_nic(device, wanted) catch |err| workload_failed("network", err);
    }
    const context = workload.start_context(image, cmdline) catch |err|
        workload_failed("arguments", err);
    steps.load_tsc = cpu.rdtsc();
    report_workload_start(clock, &steps, load_start_tsc);
    exceptions.continuation = .{
        .entry = @intFromPtr(&after_fault),
        .stack_top = @intFromPtr(&after_fault_stack) + after_fault_stack.len,
    };
    scheduler.start_first(loaded.entry, @intFromPtr(context));
}

/// The start record: `disk` = ready → image disk found, `image` = its header and index
/// verified, `load` = the entry ELF loaded and argv built (docs/console-protocol.md).
fn report_workload_start(
    clock: *const clock_module.Clock,
    steps: *const workload.Steps,
    load_start_tsc: u64,
) void {
    const ready_tsc = phase_tsc[@intFromEnum(constants.BootPhase.ready)];
    assert(steps.disk_tsc >= ready_tsc and steps.image_tsc >= steps.disk_tsc);
    assert(steps.load_tsc >= load_start_tsc);
    records.workload_start(
        clock.now_ns(),
        clock.ns_since_entry(steps.disk_tsc) - clock.ns_since_entry(ready_tsc),
        clock.ns_since_entry(steps.image_tsc) - clock.ns_since_entry(steps.disk_tsc),
        clock.ns_since_entry(steps.load_tsc) - clock.ns_since_entry(load_start_tsc),
    );
}

/// Tokens past the kernel's limit were lost (a VMM driven by hand: the CLI refuses such a line):
/// a device or workload argument may be missing, so nothing runs.
fn command_line_cut() noreturn {
    @branchHint(.cold);
    phase_done(.devices);
    phase_done(.ready);
    report_boot(&boot_information, &clock_module.global);
    console.print("boot: the command line is longer than {d} bytes and was cut; tokens were " ++
        "lost (shorten --cmdline or the workload arguments)\n", .{constants.cmdline_bytes_max});
    power.exit(constants.exit_status_workload_not_started, .workload_not_started);
}

fn flush_events() u64 {
    return events.flush_when_idle();
}

/// Task 0 ended: the workload is over.
fn workload_finished(status: u32) noreturn {
    const code: u8 = @truncate(status);
    net_stack.drain();
    records.workload_exit(code, clock_module.global.now_ns());
    power.exit(code, .@"return");
}

/// The stack after_fault runs on (the faulting stack may be the broken thing).
var after_fault_stack: [16 * 1024]u8 align(16) = undefined;

/// A fault in ring 3 was reported (exceptions.zig): end the run here, in ring 3, so that the
/// exit record and what the workload wrote before the fault leave on the events channel.
fn after_fault(status: u64) callconv(.c) noreturn {
    power.exit(@intCast(status), .exception);
}

/// Ring 0 or 3: a CPU exception was reported (exceptions.zig); stop with the exit record.
fn exception_exit(status: u8) noreturn {
    power.exit(status, .exception);
}

fn workload_failed(stage: []const u8, err: anyerror) noreturn {
    @branchHint(.cold);
    console.print(
        "workload not started: {s}: {s}{s}\n",
        .{ stage, @errorName(err), hint_for(err) },
    );
    power.exit(constants.exit_status_workload_not_started, .workload_not_started);
}

fn hint_for(err: anyerror) []const u8 {
    return switch (err) {
        error.HeaderHashMismatch,
        error.IndexHashMismatch,
        error.FileHashMismatch,
        error.BadSectionTable,
        error.BadEntry,
        => " (the image is corrupt: rebuild it with `ukernel pack`)",
        error.AbiMismatch,
        error.AbiNoteMissing,
        => " (rebuild the workload with this ukernel's SDK)",
        error.UnsupportedFormatVersion => " (the image was made by another ukernel version)",
        error.UnsupportedRootfsVersion => std.fmt.comptimePrint(
            " (this kernel reads UKFS version {d}, with block hashes: repack the image with " ++
                "this ukernel's `ukernel pack`)",
            .{rootfs.version},
        ),
        error.Timeout => " (the disk did not answer)",
        error.BadAddress,
        error.BadPrefix,
        error.BadPort,
        error.GatewayWithoutAddress,
        => " (uk.ip=A.B.C.D/PREFIX, uk.gateway=A.B.C.D with uk.ip, uk.dns=A.B.C.D[:PORT]: " ++
            "let `ukernel run --ip/--gateway/--dns` write them)",
        error.BadArgumentCount, error.ArgumentsMissing => " (uk.argc=N must be followed by `--` " ++
            "and N workload arguments: let `ukernel run` write it)",
        error.OutOfMemory, error.NoFreeMemory, error.NoMemory => std.fmt.comptimePrint(
            " (the guest's memory is too small for this workload: give the VM more with " ++
                "`ukernel run --memory MIB` or [run] memory_mb in ukernel.toml, at most {d} MiB)",
            .{constants.ram_limit_bytes >> 20},
        ),
        error.TooLarge, error.FileTooLarge => std.fmt.comptimePrint(
            " (over the kernel's limit: a workload's file and memory image take at most " ++
                "{d} MiB, etc/ukernel.env {d} KiB; shrink static buffers, or allocate at run time)",
            .{
                constants.workload_file_bytes_max >> 20,
                constants.workload_env_file_bytes_max >> 10,
            },
        ),
        error.ThreadLocalStorageUnsupported => " (the workload has a TLS segment: `threadlocal` " ++
            "variables are not supported; use globals, or state handed to each task. A C " ++
            "library that sets its own thread pointer says so with a `ukernel` note of type 2)",
        error.DynamicallyLinked => " (the workload must be a static executable, as " ++
            "`ukernel build` makes)",
        error.TooManyArguments => std.fmt.comptimePrint(
            " (at most {d} arguments and {d} environment entries)",
            .{ constants.workload_args_max, constants.workload_env_max },
        ),
        else => "",
    };
}

fn report_boot(info: *const boot_info.BootInfo, clock: *const clock_module.Clock) void {
    var record: records.BootRecord = .{
        .protocol = @tagName(info.protocol),
        .clock_source = @tagName(clock.source),
        .tsc_khz = clock.tsc_hz / 1000,
        .phase_ns = undefined,
        .kvmclock_entry_ns = clock.kvmclock_entry_ns,
    };
    for (&record.phase_ns, phase_tsc) |*ns, tsc| ns.* = clock.ns_since_entry(tsc);
    records.boot(&record);
}

/// The human banner and the device list (each console byte costs a VM exit: printed only when
/// there is no workload, or with uk.verbose).
fn report_kernel(
    info: *const boot_info.BootInfo,
    clock: *const clock_module.Clock,
    devices: *const DeviceList,
) void {
    console.print("ukernel {s}: {s} boot, {d} MiB RAM, TSC {d} MHz ({s})\n", .{
        constants.kernel_version,
        @tagName(info.protocol),
        info.memory_map.ram_bytes() >> 20,
        clock.tsc_hz / 1_000_000,
        @tagName(clock.source),
    });
    for (devices.slice(), 0..) |device, index| {
        console.print("virtio-mmio device {d}: 0x{x} size {d} irq {d}\n", .{
            index, device.base, device.size, device.irq,
        });
    }
    if (devices.rejected > 0) {
        console.print(
            "warning: {d} malformed virtio_mmio.device token(s) ignored\n",
            .{devices.rejected},
        );
    }
    if (devices.dropped > 0) {
        console.print("warning: {d} virtio-mmio device(s) beyond the limit of {d} ignored\n", .{
            devices.dropped, constants.virtio_devices_max,
        });
    }
}

fn report_details(info: *const boot_info.BootInfo, cmdline: Cmdline) void {
    console.print("cmdline: {s}{s}\n", .{ cmdline.kernel, if (info.cmdline_cut) " [cut]" else "" });
    if (cmdline.workload.len > 0) {
        // The workload's arguments as argv gets them (without tokens a VMM appended).
        var line: [constants.console_line_bytes_max]u8 = undefined;
        var writer = std.Io.Writer.fixed(&line);
        var tokens = cmdline.workload_tokens();
        while (tokens.next()) |token| writer.print(" {s}", .{token}) catch break;
        console.print("workload arguments:{s}\n", .{writer.buffered()});
    }
    for (info.memory_map.slice()) |region| {
        console.print("memory: 0x{x:0>12}-0x{x:0>12} {s}\n", .{
            region.base, region.end(), region.kind.name(),
        });
    }
    if (info.memory_map.dropped > 0) {
        console.print("memory: {d} entries dropped\n", .{info.memory_map.dropped});
    }
}

/// `uk.test=MODE` makes the kernel misbehave on purpose, so the host test suite can check that
/// faults are reported, exit codes travel and the host bounds every wait: `fault` (page fault),
/// `panic`, `exit:N`, `hang` (halt for good after booting; the host must stop the VM).
fn run_test_mode(mode: []const u8) void {
    if (std.mem.eql(u8, mode, "fault")) test_fault_outer(0);
    if (std.mem.eql(u8, mode, "panic")) @panic("test panic requested by uk.test=panic");
    if (std.mem.eql(u8, mode, "hang")) {
        console.write("uk.test=hang: halting until the host stops the VM\n");
        _ = supervisor.call(.halt_forever, 0, 0, 0);
    }
    if (std.mem.startsWith(u8, mode, "exit:")) {
        const status = std.fmt.parseUnsigned(u8, mode["exit:".len..], 10) catch {
            console.print("uk.test: bad exit status '{s}'\n", .{mode});
            power.exit(2, .@"test");
        };
        power.exit(status, .@"test");
    }
    console.print("uk.test: unknown mode '{s}' (known: fault, panic, exit:N, hang)\n", .{mode});
    power.exit(2, .@"test");
}

/// `uk.net.selftest[=OURS,TARGET]`: the virtio-net driver's self-test (ARP requests to the host,
/// each reply awaited in a halt the device's interrupt ends; drivers/virtio/net/selftest.zig),
/// then stop: status 0 when every reply came, 1 otherwise. `uk.net.selftest.listen_ms=N` then
/// halts for N ms more, counting the frames that arrive and the halts their interrupts end.
fn run_net_selftest(
    nic: ?*net.Device,
    text: []const u8,
    cmdline: Cmdline,
    clock: *const clock_module.Clock,
) noreturn {
    const device = nic orelse {
        console.write("net selftest: failed: no virtio-net device\n");
        power.exit(1, .@"test");
    };
    const options = net_selftest.parse_options(text) catch {
        console.print("net selftest: bad value '{s}' (use 1, or OURS,TARGET as dotted quads)\n", .{
            text,
        });
        power.exit(2, .@"test");
    };
    const result = net_selftest.run(device, clock, options) catch |err| {
        console.print("net selftest: failed: {s} (interrupts {d}, {any})\n", .{
            @errorName(err), device.interrupts(), device.stats,
        });
        power.exit(1, .@"test");
    };
    for (result.round_trip_ns, result.round_halts, result.round_interrupts) |ns, halts, irqs| {
        console.print("net selftest: round rtt_us {d} halts {d} interrupts {d}\n", .{
            ns / 1000, halts, irqs,
        });
    }
    var mac_buffer: [17]u8 = undefined;
    var replier_buffer: [17]u8 = undefined;
    const average_ns = result.round_trip_ns_total / result.rounds;
    console.print("net selftest: ok mac {s} mtu {d} reply from {s} rounds {d} rtt_us min {d} " ++
        "avg {d} max {d} halts {d} woken_early {d} before_halt {d} interrupts {d} " ++
        "notifies {d}\n", .{
        mac_text(device.mac(), &mac_buffer),       device.mtu(),
        mac_text(result.replier, &replier_buffer), result.rounds,
        result.round_trip_ns_min / 1000,           average_ns / 1000,
        result.round_trip_ns_max / 1000,           result.halts,
        result.halts_woken_early,                  result.replies_before_halt,
        result.interrupts,                         device.stats.notifies,
    });
    const listen_text = cmdline.get("uk.net.selftest.listen_ms") orelse power.exit(0, .@"test");
    const listen_ms = std.fmt.parseUnsigned(u32, listen_text, 10) catch {
        console.print("net selftest: bad uk.net.selftest.listen_ms '{s}'\n", .{listen_text});
        power.exit(2, .@"test");
    };
    console.print("net selftest: listening {d} ms\n", .{listen_ms});
    const listened = net_selftest.listen(device, clock, @as(u64, listen_ms) * std.time.ns_per_ms);
    console.print("net selftest: listened frames {d} halts {d} woken_by_interrupt {d} " ++
        "interrupts {d} (empty {d})\n", .{
        listened.frames,     listened.halts,            listened.woken_by_interrupt,
        device.interrupts(), device.interrupts_empty(),
    });
    power.exit(0, .@"test");
}

fn mac_text(mac: [6]u8, buffer: *[17]u8) []const u8 {
    return std.fmt.bufPrint(buffer, "{x:0>2}:{x:0>2}:{x:0>2}:{x:0>2}:{x:0>2}:{x:0>2}", .{
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5],
    }) catch unreachable;
}

// Two real frames, so the backtrace of the test fault shows a chain. `noinline` keeps them.
noinline fn test_fault_outer(depth: u64) void {
    test_fault_inner(depth + 1);
    asm volatile ("" ::: .{ .memory = true });
}

noinline fn test_fault_inner(depth: u64) void {
    // Page 0 is deliberately unmapped (entry.S): this read faults.
    const pointer: *volatile u64 = @ptrFromInt(8 * depth);
    _ = pointer.*;
}

fn panic_handler(message: []const u8, return_address: ?usize) noreturn {
    @branchHint(.cold);
    _ = return_address; // The frame chain below starts at this handler's caller anyway.
    console.print("\npanic: {s}\n", .{message});
    backtrace.print_frames(cpu.read_rbp());
    power.exit(constants.exit_status_panic, .panic);
}
