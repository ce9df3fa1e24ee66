//! The client modes: `client HOST PORT ROUNDS BYTES` (a checked exchange with an echo server on
//! the host) and `resolve NAME…`.

const std = @import("std");
const ukernel = @import("ukernel");

const net = ukernel.net;
const piece_bytes_max: usize = 32 * 1024;
const rounds_max: u32 = 100_000;
const bytes_max: u64 = 64 << 20;
const resolve_timeout_ns: u64 = 10 * std.time.ns_per_s;

/// The pattern byte at `index` of round `round`: a cheap hash, so a shifted, repeated or
/// zeroed stretch never matches.
pub fn pattern(round: u32, index: u64) u8 {
    var x: u64 = (@as(u64, round) << 40) ^ index ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x *%= 0xFF51_AFD7_ED55_8CCD;
    x ^= x >> 33;
    return @truncate(x);
}

pub fn run(args: []const [*:0]const u8) u8 {
    const host = std.mem.span(args[0]);
    const port = std.fmt.parseInt(u16, std.mem.span(args[1]), 10) catch return usage();
    const rounds = std.fmt.parseInt(u32, std.mem.span(args[2]), 10) catch return usage();
    const bytes = std.fmt.parseInt(u64, std.mem.span(args[3]), 10) catch return usage();
    if (rounds == 0 or rounds > rounds_max or bytes == 0 or bytes > bytes_max) return usage();
    const address = lookup(host, port) orelse return 1;
    const socket = net.Socket.connect_tcp(address) catch |err| {
        ukernel.print("FAIL client: connect {f}: {s}\n", .{ address, @errorName(err) });
        return 1;
    };
    defer socket.close();
    var fnv: u64 = 0xcbf2_9ce4_8422_2325;
    for (0..rounds) |round| {
        exchange(socket, @intCast(round), bytes, &fnv) catch |err| {
            ukernel.print("FAIL client: round {d}: {s}\n", .{ round, @errorName(err) });
            return 1;
        };
    }
    socket.shutdown(.write) catch {};
    ukernel.print("client: rounds={d} bytes={d} fnv=0x{x:0>16}\n", .{ rounds, bytes, fnv });
    return 0;
}

const ExchangeError = ukernel.Error || error{Mismatch};

/// Sends `bytes` of round `round`'s pattern in pieces, reading each piece's echo before the
/// next (so neither side's buffers can fill and stall the other).
fn exchange(socket: net.Socket, round: u32, bytes: u64, fnv: *u64) ExchangeError!void {
    var out: [piece_bytes_max]u8 = undefined;
    var in: [piece_bytes_max]u8 = undefined;
    var offset: u64 = 0;
    while (offset < bytes) {
        const length: usize = @intCast(@min(bytes - offset, piece_bytes_max));
        for (out[0..length], 0..) |*byte, i| {
            byte.* = pattern(round, offset + i);
            fnv.* = (fnv.* ^ byte.*) *% 0x0000_0100_0000_01b3;
        }
        try socket.send_all(out[0..length]);
        try socket.recv_all(in[0..length]);
        if (!std.mem.eql(u8, out[0..length], in[0..length])) {
            const at = std.mem.indexOfDiff(u8, out[0..length], in[0..length]).?;
            ukernel.print("FAIL client: byte {d} of round {d} came back as {d}, sent {d}\n", .{
                offset + at, round, in[at], out[at],
            });
            return error.Mismatch;
        }
        offset += length;
    }
}

/// HOST as an address, or resolved; null (after saying why) when neither works.
fn lookup(host: []const u8, port: u16) ?net.Address {
    if (net.Address.parse(host, port)) |address| return address else |_| {}
    var found: [4]net.Address = undefined;
    const addresses = net.resolve(host, &found, resolve_timeout_ns) catch |err| {
        ukernel.print("FAIL client: resolve {s}: {s}\n", .{ host, @errorName(err) });
        return null;
    };
    if (addresses.len == 0) {
        ukernel.print("FAIL client: resolve {s}: no addresses\n", .{host});
        return null;
    }
    return addresses[0].with_port(port);
}

/// `udp-send HOST PORT TEXT…`: one datagram per TEXT, then exit 0 at once.
pub fn udp_send(args: []const [*:0]const u8) u8 {
    const port = std.fmt.parseInt(u16, std.mem.span(args[1]), 10) catch return usage();
    const address = lookup(std.mem.span(args[0]), port) orelse return 1;
    const socket = net.Socket.bind_udp(net.Address.any(0)) catch |err| {
        ukernel.print("FAIL udp-send: bind: {s}\n", .{@errorName(err)});
        return 1;
    };
    defer socket.close();
    for (args[2..]) |text| {
        socket.sendto(std.mem.span(text), address) catch |err| {
            ukernel.print("FAIL udp-send: sendto {f}: {s}\n", .{ address, @errorName(err) });
            return 1;
        };
    }
    ukernel.print("udp-send: sent={d}\n", .{args.len - 2});
    return 0;
}

/// `resolve: NAME ok A.B.C.D …` or `resolve: NAME error ERROR` per name; exit 0.
pub fn resolve_names(names: []const [*:0]const u8) u8 {
    for (names) |name_z| {
        const name = std.mem.span(name_z);
        var found: [4]net.Address = undefined;
        const started_ns = ukernel.now_ns();
        if (net.resolve(name, &found, resolve_timeout_ns)) |addresses| {
            var line: [256]u8 = undefined;
            var writer = std.Io.Writer.fixed(&line);
            for (addresses) |address| writer.print(" {f}", .{address}) catch break;
            const text = writer.buffered();
            ukernel.print("resolve: {s} ok{s} ms={d}\n", .{ name, text, elapsed_ms(started_ns) });
        } else |err| {
            ukernel.print("resolve: {s} error {s} ms={d}\n", .{ name, @errorName(err), elapsed_ms(started_ns) });
        }
    }
    return 0;
}

fn elapsed_ms(started_ns: u64) u64 {
    return (ukernel.now_ns() -| started_ns) / std.time.ns_per_ms;
}

fn usage() u8 {
    ukernel.print("usage: client HOST PORT ROUNDS BYTES (ROUNDS 1..{d}, BYTES 1..{d})\n", .{ rounds_max, bytes_max });
    return 2;
}
