//! The network probe: one workload, modes chosen by argv (tests/e2e/net*.test.ts run it).
//!
//!     ukernel run -- client HOST PORT ROUNDS BYTES
//!         connects to HOST:PORT (an address, or a name resolved with net.resolve), and ROUNDS
//!         times sends BYTES of a seeded pattern and reads them back (the host's server echoes),
//!         in pieces of at most 32 KiB; any byte that differs fails. Prints
//!         `client: rounds=R bytes=B fnv=0x…` (FNV-1a 64 of everything sent), exit 0.
//!     ukernel run -- udp-send HOST PORT TEXT…
//!                                         sends each TEXT as one datagram to HOST:PORT, then
//!                                         returns at once (what was sent must still leave)
//!     ukernel run -- tcp-echo PORT        echoes every TCP connection on PORT (a task each)
//!     ukernel run -- udp-echo PORT        echoes every datagram on PORT to its sender; the
//!                                         datagram `QUIT` is answered `BYE` and ends it (0)
//!     ukernel run -- http PORT            a small HTTP/1.1 server (keep-alive, a task per
//!                                         connection): GET / (`net-probe`), GET /memory (the
//!                                         memory report as JSON), POST /echo (the body back),
//!                                         GET /quit (answers, then the workload exits 0)
//!     ukernel run -- resolve NAME…        `resolve: NAME ok A.B.C.D …` or `resolve: NAME error E`
//!     ukernel run -- memory               the memory report once, then exit 0
//!
//! Servers print `MODE: ready port=P` once listening, so a test knows when to start. The memory
//! report is what a workload can observe of the kernel's network memory: how many sockets it
//! can still open (stream, and bound datagram ones) and how many MiB mem.alloc still gives, each
//! taken until the kernel refuses and then given back. A leak in the kernel's socket table, its
//! PCB pools or its page allocator lowers one of them.

const std = @import("std");
const ukernel = @import("ukernel");
const client = @import("client.zig");
const serve = @import("serve.zig");
const memory = @import("memory.zig");

pub fn main(context: ukernel.Context) u8 {
    const mode = if (context.args.len > 1) std.mem.span(context.args[1]) else "";
    const rest = if (context.args.len > 2) context.args[2..] else context.args[0..0];
    if (std.mem.eql(u8, mode, "client") and rest.len == 4) return client.run(rest);
    if (std.mem.eql(u8, mode, "resolve")) return client.resolve_names(rest);
    if (std.mem.eql(u8, mode, "udp-send") and rest.len >= 3) return client.udp_send(rest);
    if (std.mem.eql(u8, mode, "tcp-echo") and rest.len == 1) return serve.run(.tcp_echo, rest[0]);
    if (std.mem.eql(u8, mode, "udp-echo") and rest.len == 1) return serve.udp_echo(rest[0]);
    if (std.mem.eql(u8, mode, "http") and rest.len == 1) return serve.run(.http, rest[0]);
    if (std.mem.eql(u8, mode, "memory")) {
        var buffer: [256]u8 = undefined;
        ukernel.print("memory: {s}\n", .{memory.report(&buffer, 0)});
        return 0;
    }
    ukernel.print("usage: client HOST PORT ROUNDS BYTES | udp-send HOST PORT TEXT... | " ++
        "tcp-echo PORT | udp-echo PORT | http PORT | resolve NAME... | memory\n", .{});
    return 2;
}
