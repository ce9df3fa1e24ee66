//! Builds the POSIX layer (adapters/posix/build.sh runs it with the pinned Zig):
//!
//!   zig build           zig-out/lib/libukposix.a: x86-64 (baseline CPU), position-independent,
//!                       freestanding (it calls nothing but the kernel's table and, at link
//!                       time, musl's __libc_start_main and the adapter's main)
//!   zig build test      host unit tests of the pure parts (src/unit_tests.zig)
//!   zig build tidy      zig fmt --check over the layer

const std = @import("std");

pub fn build(b: *std.Build) void {
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Optimize mode") orelse
        .ReleaseSafe;
    const target = b.resolveTargetQuery(.{
        .cpu_arch = .x86_64,
        .os_tag = .freestanding,
        .abi = .none,
        .cpu_model = .{ .explicit = &std.Target.x86.cpu.x86_64 },
    });
    const library = b.addLibrary(.{
        .name = "ukposix",
        .linkage = .static,
        .root_module = layer_module(b, target, optimize),
    });
    library.root_module.pic = true;
    library.root_module.red_zone = true;
    b.installArtifact(library);
    b.installFile("include/ukposix.h", "include/ukposix.h");

    const tests = b.addTest(.{
        .root_module = b.createModule(.{
            .root_source_file = b.path("src/unit_tests.zig"),
            .target = b.graph.host,
            .optimize = .Debug,
            .imports = &.{.{ .name = "ukernel", .module = sdk_module(b, b.graph.host) }},
        }),
        // LLVM: the self-hosted backend cannot place the SDK's ABI note in its section.
        .use_llvm = true,
    });
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "Run the POSIX layer's host unit tests").dependOn(&run_tests.step);

    // The in-guest probe (tests/probe.zig), linked as `ukernel build` links a workload.
    const probe = b.addExecutable(.{
        .name = "posix-probe",
        .root_module = b.createModule(.{
            .root_source_file = b.path("tests/probe.zig"),
            .target = target,
            .optimize = .ReleaseSafe,
            .strip = true,
        }),
    });
    probe.pie = true;
    probe.linkage = .static;
    probe.entry = .{ .symbol_name = "_start" };
    probe.stack_size = 2 << 20; // not the default: the probe checks RLIMIT_STACK follows it
    probe.linkLibrary(library);
    const install_probe = b.addInstallArtifact(probe, .{});
    b.step("probe", "Build the in-guest probe (zig-out/bin/posix-probe)")
        .dependOn(&install_probe.step);

    const fmt = b.addFmt(.{ .paths = &.{ "build.zig", "src", "tests" }, .check = true });
    b.step("tidy", "zig fmt --check over the POSIX layer").dependOn(&fmt.step);
}

fn sdk_module(b: *std.Build, target: std.Build.ResolvedTarget) *std.Build.Module {
    return b.createModule(.{
        .root_source_file = b.path("../../sdk/zig/ukernel.zig"),
        .target = target,
    });
}

fn layer_module(
    b: *std.Build,
    target: std.Build.ResolvedTarget,
    optimize: std.builtin.OptimizeMode,
) *std.Build.Module {
    return b.createModule(.{
        .root_source_file = b.path("src/root.zig"),
        .target = target,
        .optimize = optimize,
        .imports = &.{.{ .name = "ukernel", .module = sdk_module(b, target) }},
    });
}
