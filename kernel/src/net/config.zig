//! The guest's IPv4 configuration from the kernel command line, as the CLI writes it
//! (`ukernel run --ip/--gateway/--dns`, or `[run]` ip/gateway/dns; the key names are
//! contracts.cmdline, from abi/contracts.json; docs/networking.md):
//!
//!   uk.ip=A.B.C.D/PREFIX   static address and prefix length; without it the kernel uses DHCP
//!   uk.gateway=A.B.C.D     default route (static only)
//!   uk.dns=A.B.C.D[:PORT]  resolver (overrides the one DHCP gives; PORT for test servers)
//!
//! Pure code: host-tested in this file. Addresses are kept as 4 bytes in network order.

const std = @import("std");
const assert = std.debug.assert;
const keys = @import("../abi/contracts.zig").cmdline;
const cmdline_module = @import("../boot/cmdline.zig");
const Cmdline = cmdline_module.Cmdline;

pub const Ipv4 = [4]u8;

pub const Dns = struct { address: Ipv4, port: u16 };

pub const Config = struct {
    /// Null: ask DHCP.
    static: ?Static = null,
    dns: ?Dns = null,

    pub const Static = struct { address: Ipv4, prefix_bits: u8, gateway: ?Ipv4 };
};

pub const Error = error{ BadAddress, BadPrefix, BadPort, GatewayWithoutAddress };

/// Reads uk.ip, uk.gateway and uk.dns. A malformed value is an error naming nothing: the
/// caller reports which key (the CLI validates them first, so this is a hand-written line).
pub fn parse(cmdline: Cmdline) Error!Config {
    var config: Config = .{};
    if (cmdline.get(keys.key_ip)) |text| {
        const slash = std.mem.indexOfScalar(u8, text, '/') orelse return error.BadPrefix;
        const prefix_bits = std.fmt.parseUnsigned(u8, text[slash + 1 ..], 10) catch
            return error.BadPrefix;
        if (prefix_bits == 0 or prefix_bits > 32) return error.BadPrefix;
        config.static = .{
            .address = try ipv4_parse(text[0..slash]),
            .prefix_bits = prefix_bits,
            .gateway = null,
        };
    }
    if (cmdline.get(keys.key_gateway)) |text| {
        const static = &(config.static orelse return error.GatewayWithoutAddress);
        static.gateway = try ipv4_parse(text);
    }
    if (cmdline.get(keys.key_dns)) |text| {
        const colon = std.mem.indexOfScalar(u8, text, ':');
        const port: u16 = if (colon) |index|
            std.fmt.parseUnsigned(u16, text[index + 1 ..], 10) catch return error.BadPort
        else
            53;
        if (port == 0) return error.BadPort;
        config.dns = .{ .address = try ipv4_parse(text[0 .. colon orelse text.len]), .port = port };
    }
    return config;
}

fn ipv4_parse(text: []const u8) Error!Ipv4 {
    return cmdline_module.parse_ipv4(text) orelse error.BadAddress;
}

/// The netmask of a prefix length (1..32), network order.
pub fn netmask(prefix_bits: u8) Ipv4 {
    assert(prefix_bits >= 1 and prefix_bits <= 32);
    const mask: u32 = @truncate(@as(u64, 0xFFFF_FFFF) << @intCast(32 - prefix_bits));
    var bytes: Ipv4 = undefined;
    std.mem.writeInt(u32, &bytes, mask, .big);
    return bytes;
}

const testing = std.testing;

test "static address, gateway and resolver" {
    const config = try parse(Cmdline.init(
        "uk.ip=172.16.0.2/30 uk.gateway=172.16.0.1 uk.dns=10.0.2.2:5353 -- a",
    ));
    try testing.expectEqual(Ipv4{ 172, 16, 0, 2 }, config.static.?.address);
    try testing.expectEqual(@as(u8, 30), config.static.?.prefix_bits);
    try testing.expectEqual(Ipv4{ 172, 16, 0, 1 }, config.static.?.gateway.?);
    try testing.expectEqual(Dns{ .address = .{ 10, 0, 2, 2 }, .port = 5353 }, config.dns.?);
    try testing.expectEqual(Ipv4{ 255, 255, 255, 252 }, netmask(30));
    try testing.expectEqual(Ipv4{ 255, 255, 255, 255 }, netmask(32));
    try testing.expectEqual(Ipv4{ 128, 0, 0, 0 }, netmask(1));
}

test "no keys means DHCP; the resolver port defaults to 53" {
    const dhcp = try parse(Cmdline.init("uk.argc=0"));
    try testing.expect(dhcp.static == null and dhcp.dns == null);
    const dns = try parse(Cmdline.init("uk.dns=1.1.1.1"));
    try testing.expectEqual(@as(u16, 53), dns.dns.?.port);
}

test "malformed values are refused" {
    const cases = [_]struct { line: []const u8, err: Error }{
        .{ .line = "uk.ip=10.0.2.15", .err = error.BadPrefix },
        .{ .line = "uk.ip=10.0.2.15/33", .err = error.BadPrefix },
        .{ .line = "uk.ip=10.0.2.15/0", .err = error.BadPrefix },
        .{ .line = "uk.ip=10.0.2/24", .err = error.BadAddress },
        .{ .line = "uk.ip=10.0.2.256/24", .err = error.BadAddress },
        .{ .line = "uk.ip=10.0.2.1.5/24", .err = error.BadAddress },
        .{ .line = "uk.ip=10.00.2.1/24", .err = error.BadAddress },
        .{ .line = "uk.ip=10..2.1/24", .err = error.BadAddress },
        .{ .line = "uk.gateway=10.0.2.2", .err = error.GatewayWithoutAddress },
        .{ .line = "uk.dns=10.0.2.3:0", .err = error.BadPort },
        .{ .line = "uk.dns=10.0.2.3:70000", .err = error.BadPort },
        .{ .line = "uk.dns=10.0.2.x", .err = error.BadAddress },
    };
    for (cases) |case| try testing.expectError(case.err, parse(Cmdline.init(case.line)));
}
