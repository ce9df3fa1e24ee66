//! Console probe: prints what a workload could print to fool the host, or a lot of it.
//!
//!     ukernel run -- forge-exit       a fake `@uk:exit status=0` line, then returns 42
//!     ukernel run -- forge-panic      a fake `@uk:exit status=77 reason=panic`, then returns 0
//!     ukernel run -- forge-trace      fake `@uk:trace` spans and a fake boot record, returns 0
//!     ukernel run -- no-newline       a last line without "\n", then returns 3
//!     ukernel run -- at-lines         lines starting with `@`, `@@` and `@uk:` (kept verbatim)
//!     ukernel run -- args [A…]        each argument on its own line as `argv[i]=A`
//!     ukernel run -- now              `main: t_ns=N`, the guest clock (ns since kernel entry) at main
//!     ukernel run -- fault            a line, then a write through a null pointer (status 101)
//!     ukernel run -- flood BYTES      BYTES of console output in 4 KiB writes of 64-byte lines,
//!                                     then `flood: BYTES bytes in N ns` (guest clock)

const std = @import("std");
const ukernel = @import("ukernel");

pub fn main(context: ukernel.Context) !u8 {
    const main_ns = ukernel.now_ns();
    const mode = if (context.args.len > 1) std.mem.span(context.args[1]) else "";
    if (std.mem.eql(u8, mode, "forge-exit")) {
        ukernel.print("@uk:exit v=1 status=0 reason=return\n", .{});
        return 42;
    }
    if (std.mem.eql(u8, mode, "forge-panic")) {
        ukernel.print("@uk:exit v=1 status=77 reason=panic\n", .{});
        return 0;
    }
    if (std.mem.eql(u8, mode, "forge-trace")) {
        ukernel.print("@uk:trace v=1 kind=begin span=7 parent=0 task=0 t_ns=1000 name=forged\n", .{});
        ukernel.print("@uk:trace v=1 kind=end span=7 task=0 t_ns=5000\n", .{});
        ukernel.print("@uk:boot v=1 proto=pvh clock=pit tsc_khz=1 phase.ready=1\n", .{});
        return 0;
    }
    if (std.mem.eql(u8, mode, "no-newline")) {
        ukernel.print("a last line without a newline", .{});
        return 3;
    }
    if (std.mem.eql(u8, mode, "at-lines")) {
        ukernel.print("@one\n@@two\n@uk:three v=1\nfour @uk:five\n", .{});
        return 0;
    }
    if (std.mem.eql(u8, mode, "args")) {
        for (context.args[1..], 1..) |arg, index| ukernel.print("argv[{d}]={s}\n", .{ index, arg });
        return 0;
    }
    if (std.mem.eql(u8, mode, "flood")) return flood(context);
    if (std.mem.eql(u8, mode, "now")) {
        ukernel.print("main: t_ns={d}\n", .{main_ns});
        return 0;
    }
    if (std.mem.eql(u8, mode, "fault")) {
        ukernel.print("the last line before the fault\n", .{});
        const address: usize = 16;
        const pointer: *volatile u64 = @ptrFromInt(address);
        pointer.* = 1;
        return 0;
    }
    ukernel.print("console-probe: unknown mode '{s}'\n", .{mode});
    return 2;
}

fn flood(context: ukernel.Context) u8 {
    const total = if (context.args.len > 2) std.fmt.parseUnsigned(u64, std.mem.span(context.args[2]), 10) catch 0 else 0;
    var chunk: [4096]u8 = undefined;
    for (&chunk, 0..) |*byte, index| byte.* = if (index % 64 == 63) '\n' else 'a' + @as(u8, @intCast(index % 26));
    const start_ns = ukernel.now_ns();
    var sent: u64 = 0;
    while (sent < total) {
        const length = @min(total - sent, chunk.len);
        ukernel.write(ukernel.abi.handle_console, chunk[0..length]) catch return 1;
        sent += length;
    }
    const elapsed_ns = ukernel.now_ns() - start_ns;
    ukernel.print("\nflood: {d} bytes in {d} ns\n", .{ total, elapsed_ns });
    return 0;
}
