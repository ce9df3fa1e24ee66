//! Builds the ukernel guest kernel (x86_64, freestanding) and its host unit tests.
//!
//!   zig build           zig-out/bin/ukernel.elf (stripped, bootable) and ukernel.debug.elf
//!   zig build test      host unit tests: the pure parts (command line, memory map, ...) and the
//!                       scheduler, channels and handle table on a stand-in platform
//!   zig build tidy      the tidy gate: zig fmt --check, and tools/tidy.zig over the source
//!
//! The kernel is linked twice: the first link only serves to list the function symbols, which
//! are embedded into the second link's .uksyms section for symbolized backtraces. .uksyms comes
//! last in the image, so its size cannot move code; `kernel_elf verify` checks that and the boot
//! protocol rules (entry and segments >= 1 MiB, exactly one PT_NOTE holding the PVH note).
//! The bootable ukernel.elf keeps only what loaders read (kernel_elf strip).

const std = @import("std");
const constants = @import("src/constants.zig");

pub fn build(b: *std.Build) void {
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Kernel optimize mode") orelse
        .ReleaseSafe;
    const host_target = b.graph.host;
    const lwip_path = b.option(
        []const u8,
        "lwip",
        "lwIP source tree (scripts/fetch-source.sh lwip; scripts/build-kernel.sh passes it)",
    );
    add_kernel(b, kernel_target_resolve(b), optimize, host_target, lwip_path);
    add_unit_tests(b, host_target);
    add_tidy(b, host_target);
}

/// No SSE/x87 in kernel code, soft float instead: under nested KVM (PVM) ring-0 code is run by
/// an instruction emulator that lacks SSE, and interrupt paths need not save vector state for
/// the kernel. Workloads still get SSE (entry.S enables it in CR4).
fn kernel_target_resolve(b: *std.Build) std.Build.ResolvedTarget {
    const features = std.Target.x86.Feature;
    const vector_features = [_]features{
        .x87, .mmx, .sse, .sse2, .sse3, .ssse3, .sse4_1, .sse4_2, .avx, .avx2,
    };
    var disabled = std.Target.Cpu.Feature.Set.empty;
    for (vector_features) |feature| disabled.addFeature(@intFromEnum(feature));
    var enabled = std.Target.Cpu.Feature.Set.empty;
    enabled.addFeature(@intFromEnum(features.soft_float));
    return b.resolveTargetQuery(.{
        .cpu_arch = .x86_64,
        .os_tag = .freestanding,
        .abi = .none,
        .cpu_model = .{ .explicit = &std.Target.x86.cpu.x86_64 },
        .cpu_features_sub = disabled,
        .cpu_features_add = enabled,
    });
}

/// The two links, the symbol table between them, the checks and the stripped bootable image.
fn add_kernel(
    b: *std.Build,
    kernel_target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    host_target: std.Build.ResolvedTarget,
    lwip_path: ?[]const u8,
) void {
    const lwip_root = lwip_path orelse {
        const fail = b.addFail("the kernel needs lwIP's source: build it with " ++
            "scripts/build-kernel.sh, which fetches and verifies it (or pass -Dlwip=PATH)");
        b.getInstallStep().dependOn(&fail.step);
        return;
    };
    const lwip: Lwip = .{ .root = .{ .cwd_relative = lwip_root } };
    const symbol_table = b.createModule(.{
        .root_source_file = b.path("src/debug/symbol_table.zig"),
    });
    const elf_tool = b.addExecutable(.{
        .name = "kernel_elf",
        .root_module = b.createModule(.{
            .root_source_file = b.path("tools/kernel_elf.zig"),
            .target = host_target,
            .optimize = .ReleaseSafe,
            .imports = &.{.{ .name = "symbol_table", .module = symbol_table }},
        }),
    });

    const placeholder = b.addWriteFiles().add("symbols-placeholder.bin", "no symbols yet");
    const first_link =
        kernel_executable(b, kernel_target, optimize, "ukernel-first-link", placeholder, lwip);
    const generate = b.addRunArtifact(elf_tool);
    generate.addArg("symbols");
    generate.addArtifactArg(first_link);
    const symbols = generate.addOutputFileArg("symbols.bin");
    const kernel = kernel_executable(b, kernel_target, optimize, "ukernel-debug", symbols, lwip);

    const verify = b.addRunArtifact(elf_tool);
    verify.addArg("verify");
    verify.addArtifactArg(kernel);
    verify.expectExitCode(0);

    const strip = b.addRunArtifact(elf_tool);
    strip.addArg("strip");
    strip.addArtifactArg(kernel);
    const stripped = strip.addOutputFileArg("ukernel.elf");
    strip.step.dependOn(&verify.step);
    const install_kernel = b.addInstallBinFile(stripped, "ukernel.elf");
    const install_debug = b.addInstallBinFile(kernel.getEmittedBin(), "ukernel.debug.elf");
    install_debug.step.dependOn(&verify.step);
    b.getInstallStep().dependOn(&install_kernel.step);
    b.getInstallStep().dependOn(&install_debug.step);
}

fn add_unit_tests(b: *std.Build, host_target: std.Build.ResolvedTarget) void {
    const unit_tests = b.addTest(.{
        .root_module = b.createModule(.{
            .root_source_file = b.path("src/unit_tests.zig"),
            .target = host_target,
            .optimize = .Debug,
        }),
        // LLVM: the self-hosted backend does not emit the scheduler's global assembly
        // (switch_context), which the host tests run for real.
        .use_llvm = true,
    });
    // Golden files made by the CLI's writers (docs/contracts.md), read by abi/golden_test.zig.
    unit_tests.root_module.addAnonymousImport("golden_image", .{
        .root_source_file = b.path("../tests/fixtures/golden.ukimg"),
    });
    unit_tests.root_module.addAnonymousImport("golden_events", .{
        .root_source_file = b.path("../tests/fixtures/golden.events"),
    });
    const run_unit_tests = b.addRunArtifact(unit_tests);
    const test_step = b.step("test", "Run the kernel's host unit tests");
    test_step.dependOn(&run_unit_tests.step);
}

/// The tidy gate (tools/tidy.zig): style, dead code and the layer rule over the kernel's source,
/// and zig fmt --check over every Zig file of the project (kernel, SDK, test workloads, the
/// benchmark guest, the examples).
fn add_tidy(b: *std.Build, host_target: std.Build.ResolvedTarget) void {
    const tidy_options = b.addOptions();
    tidy_options.addOption([]const u8, "kernel_path", b.pathFromRoot("."));
    const tidy_tests = b.addTest(.{
        .name = "tidy",
        .root_module = b.createModule(.{
            .root_source_file = b.path("tools/tidy.zig"),
            .target = host_target,
            .optimize = .Debug,
            .imports = &.{.{ .name = "tidy_options", .module = tidy_options.createModule() }},
        }),
    });
    const run_tidy = b.addRunArtifact(tidy_tests);
    run_tidy.has_side_effects = true; // reads the source tree, which the cache does not track
    const fmt = b.addFmt(.{
        .paths = &.{
            "build.zig", "src", "tools", "../sdk", "../tests/workloads", "../bench", "../examples",
        },
        .check = true,
    });
    const tidy_step = b.step("tidy", "The tidy gate: zig fmt --check and tools/tidy.zig");
    tidy_step.dependOn(&fmt.step);
    tidy_step.dependOn(&run_tidy.step);
}

fn kernel_executable(
    b: *std.Build,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
    name: []const u8,
    symbols: std.Build.LazyPath,
    lwip: Lwip,
) *std.Build.Step.Compile {
    const module = b.createModule(.{
        .root_source_file = b.path("src/main.zig"),
        .target = target,
        .optimize = optimize,
        .code_model = .small,
        .red_zone = false,
        .omit_frame_pointer = false,
        .pic = false,
        .single_threaded = true,
        .strip = false,
    });
    module.addAnonymousImport("kernel_symbols", .{ .root_source_file = symbols });
    module.addAssemblyFile(b.path("src/arch/x86_64/entry.S"));
    module.addAssemblyFile(b.path("src/arch/x86_64/interrupts.S"));
    lwip.add(b, module);
    const executable = b.addExecutable(.{
        .name = name,
        .root_module = module,
        .use_llvm = true,
        .use_lld = true,
    });
    executable.setLinkerScript(b.path("src/arch/x86_64/linker.ld"));
    executable.entry = .{ .symbol_name = "linux64_entry" };
    executable.pie = false;
    executable.link_gc_sections = true;
    return executable;
}

/// lwIP 2.2.1 (Debian's source package, fetched and verified by scripts/fetch-source.sh),
/// compiled with the kernel's flags (no SSE, soft float, no red zone: the module's target) into
/// the kernel. The raw API only (NO_SYS): IPv4 core and ethernet.c, as src/Filelists.mk lists
/// them (COREFILES, CORE4FILES); the sequential and socket APIs, PPP and apps are left out.
const Lwip = struct {
    root: std.Build.LazyPath,

    const files = [_][]const u8{
        "core/init.c",        "core/def.c",           "core/dns.c",
        "core/inet_chksum.c", "core/ip.c",            "core/mem.c",
        "core/memp.c",        "core/netif.c",         "core/pbuf.c",
        "core/raw.c",         "core/stats.c",         "core/sys.c",
        "core/tcp.c",         "core/tcp_in.c",        "core/tcp_out.c",
        "core/timeouts.c",    "core/udp.c",           "core/ipv4/acd.c",
        "core/ipv4/autoip.c", "core/ipv4/dhcp.c",     "core/ipv4/etharp.c",
        "core/ipv4/icmp.c",   "core/ipv4/igmp.c",     "core/ipv4/ip4_frag.c",
        "core/ipv4/ip4.c",    "core/ipv4/ip4_addr.c", "netif/ethernet.c",
    };

    fn add(lwip: Lwip, b: *std.Build, module: *std.Build.Module) void {
        module.addIncludePath(b.path("src/net/port/include"));
        module.addIncludePath(lwip.root.path(b, "src/include"));
        const sizes = constants.lwip;
        module.addCMacro("UK_LWIP_HEAP_BYTES", b.fmt("{d}", .{sizes.heap_bytes}));
        module.addCMacro("UK_LWIP_TCP_PCBS", b.fmt("{d}", .{sizes.tcp_pcbs}));
        module.addCMacro("UK_LWIP_TCP_LISTENERS", b.fmt("{d}", .{sizes.tcp_listeners}));
        module.addCMacro("UK_LWIP_UDP_PCBS", b.fmt("{d}", .{sizes.udp_pcbs}));
        module.addCMacro("UK_LWIP_TCP_SEGMENTS", b.fmt("{d}", .{sizes.tcp_segments}));
        module.addCMacro("UK_LWIP_PBUFS", b.fmt("{d}", .{sizes.pbufs}));
        module.addCMacro("UK_LWIP_POOL_PBUFS", b.fmt("{d}", .{sizes.pool_pbufs}));
        module.addCMacro("UK_LWIP_TCP_WINDOW_BYTES", b.fmt("{d}", .{sizes.tcp_window_bytes}));
        module.addCMacro("UK_LWIP_TCP_SEND_BYTES", b.fmt("{d}", .{sizes.tcp_send_bytes}));
        // lwIP's asserts quote __FILE__: without the map the kernel ELF would hold the checkout's
        // absolute path, and its sha256 (pinned in env/ukernel.lock) would differ per clone.
        const prefix_map = b.fmt("-ffile-prefix-map={s}=lwip", .{lwip.root.cwd_relative});
        module.addCSourceFiles(.{
            .root = lwip.root.path(b, "src"),
            .files = &files,
            // A trap in lwIP would stop the kernel on a packet: lwIP is fuzzed upstream, and
            // hostile input is tested here (tests/e2e/net-hostile.test.ts).
            .flags = &.{
                "-ffreestanding",                                  "-fno-sanitize=undefined",
                "-Wall",                                           "-Werror",
                // tcp.c compares a u16 window with 65536, true only without window scaling.
                "-Wno-tautological-constant-out-of-range-compare", prefix_map,
            },
        });
    }
};
