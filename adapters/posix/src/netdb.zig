//! Name resolution without musl's resolver: getaddrinfo, freeaddrinfo, getnameinfo and
//! gethostbyname2_r, exported by the layer, which the adapter links before musl's libc.a, so
//! these replace musl's (and musl's own callers reach these too: gethostbyname, gethostbyname_r
//! and gethostbyname2 call gethostbyname2_r; gethostbyaddr_r calls getnameinfo).
//!
//! Why: musl resolves a name itself, reading /etc/hosts, then /etc/resolv.conf and asking each
//! DNS server over UDP. The image has no resolv.conf (musl then asks 127.0.0.1 and waits out
//! 2 × 5 s), and the DNS server the run has (DHCP's, or `--dns`) is known only to the kernel.
//! net.resolve knows it, caches answers, and needs no thread: numeric IPv4 names and
//! "localhost" are answered at once, others by the kernel's resolver. A lookup blocks the
//! program (one task) until the answer or the kernel's bound (net_resolve_timeout_ns_max,
//! 30 s), as musl's does.
//!
//! What is served (IPv4 only, as the layer's sockets): numeric ports only (the image has no
//! /etc/services: a service name is EAI_SERVICE, or EAI_NONAME under AI_NUMERICSERV); a NULL
//! host is 0.0.0.0 with AI_PASSIVE, else 127.0.0.1; AF_INET6 and IPv6 literals are EAI_NONAME
//! (no IPv6 socket exists); getnameinfo gives "localhost" for 127.0.0.1 and the numeric form
//! for every other address (no reverse DNS: NI_NAMEREQD is EAI_NONAME), ports numeric.
//! Results live in a static pool of blocks_max lists (EAI_MEMORY when all are in use), since
//! the layer allocates nothing of its own.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");
const sockaddr = @import("sockaddr.zig");
const uk = @import("uk.zig");

/// struct addrinfo (musl's <netdb.h>, x86-64).
pub const AddrInfo = extern struct {
    flags: c_int,
    family: c_int,
    socktype: c_int,
    protocol: c_int,
    addrlen: u32,
    addr: ?*anyopaque,
    canonname: ?[*:0]u8,
    next: ?*AddrInfo,
};

comptime {
    assert(@sizeOf(AddrInfo) == 48);
    assert(@offsetOf(AddrInfo, "addr") == 24);
}

// musl's <netdb.h> and <sys/socket.h> values.
pub const ai_passive: c_int = 0x01;
pub const ai_canonname: c_int = 0x02;
pub const ai_numerichost: c_int = 0x04;
const ai_flags_known: c_int = 0x01 | 0x02 | 0x04 | 0x08 | 0x10 | 0x20 | 0x400;
pub const ai_numericserv: c_int = 0x400;
pub const ni_numerichost: c_int = 0x01;
pub const ni_numericserv: c_int = 0x02;
pub const ni_namereqd: c_int = 0x08;
pub const sock_stream: c_int = 1;
pub const sock_dgram: c_int = 2;
pub const ipproto_tcp: c_int = 6;
pub const ipproto_udp: c_int = 17;

/// getaddrinfo's and getnameinfo's errors (EAI_*, musl's values), as Zig errors.
pub const Error = error{ BadFlags, NoName, Again, Fail, Family, Service, Memory, Overflow };

pub fn code(err: Error) c_int {
    return switch (err) {
        error.BadFlags => -1,
        error.NoName => -2,
        error.Again => -3,
        error.Fail => -4,
        error.Family => -6,
        error.Service => -8,
        error.Memory => -10,
        error.Overflow => -12,
    };
}

/// A socket type and protocol getaddrinfo answers for.
const Kind = struct { socktype: c_int, protocol: c_int };

/// The (socktype, protocol) pairs a request covers, as musl's __lookup_serv: type 0 means both
/// TCP and UDP (narrowed by the protocol); another type with a port name is EAI_SERVICE.
fn kinds_of(socktype: c_int, protocol: c_int, out: *[2]Kind) Error!u32 {
    switch (socktype) {
        0 => {
            var count: u32 = 0;
            if (protocol == 0 or protocol == ipproto_tcp) {
                out[count] = .{ .socktype = sock_stream, .protocol = ipproto_tcp };
                count += 1;
            }
            if (protocol == 0 or protocol == ipproto_udp) {
                out[count] = .{ .socktype = sock_dgram, .protocol = ipproto_udp };
                count += 1;
            }
            if (count == 0) return error.Service;
            return count;
        },
        sock_stream => {
            if (protocol != 0 and protocol != ipproto_tcp) return error.Service;
            out[0] = .{ .socktype = sock_stream, .protocol = ipproto_tcp };
        },
        sock_dgram => {
            if (protocol != 0 and protocol != ipproto_udp) return error.Service;
            out[0] = .{ .socktype = sock_dgram, .protocol = ipproto_udp };
        },
        else => out[0] = .{ .socktype = socktype, .protocol = protocol },
    }
    return 1;
}

/// The port a service names: NULL is 0, a decimal number 0 to 65535; a name is EAI_SERVICE
/// (no /etc/services), or EAI_NONAME under AI_NUMERICSERV, as in musl.
fn port_of(service: ?[]const u8, flags: c_int) Error!u16 {
    const text = service orelse return 0;
    if (text.len == 0) return error.Service;
    const port = std.fmt.parseUnsigned(u16, text, 10) catch |err| switch (err) {
        error.Overflow => return error.Service,
        error.InvalidCharacter => {
            if (flags & ai_numericserv != 0) return error.NoName;
            return error.Service;
        },
    };
    return port;
}

/// A dotted-quad IPv4 address ("10.0.2.2"), or null.
pub fn parse_ipv4(text: []const u8) ?[4]u8 {
    var result: [4]u8 = undefined;
    var parts = std.mem.splitScalar(u8, text, '.');
    var index: u32 = 0;
    while (parts.next()) |part| : (index += 1) {
        if (index == 4 or part.len == 0 or part.len > 3) return null;
        result[index] = std.fmt.parseUnsigned(u8, part, 10) catch return null;
    }
    if (index != 4) return null;
    return result;
}

/// The addresses a host names (IPv4, in the order net.resolve gives them). Returns how many
/// were written to `out`.
fn addresses_of(
    host: ?[]const u8,
    family: c_int,
    flags: c_int,
    out: []abi.SocketAddress,
) Error!u32 {
    assert(out.len >= 1);
    if (family == sockaddr.af_inet6) return error.NoName;
    const name = host orelse {
        const any = flags & ai_passive != 0;
        out[0] = inet4(if (any) .{ 0, 0, 0, 0 } else .{ 127, 0, 0, 1 }, 0);
        return 1;
    };
    if (name.len == 0 or name.len > abi.host_name_bytes_max) return error.NoName;
    if (parse_ipv4(name)) |address| {
        out[0] = inet4(address, 0);
        return 1;
    }
    if (flags & ai_numerichost != 0) return error.NoName;
    if (std.mem.indexOfScalar(u8, name, ':') != null) return error.NoName;
    const count_max: u32 = @intCast(out.len);
    const forever = abi.timeout_infinite;
    const result = uk.table.net_resolve(name.ptr, name.len, out.ptr, count_max, forever);
    if (result > 0) return @intCast(@min(result, count_max));
    const known = std.meta.intToEnum(abi.Error, -result) catch return error.Fail;
    return switch (known) {
        .not_found, .too_large, .out_of_range => error.NoName,
        .timed_out, .no_route, .limit_reached, .no_memory => error.Again,
        else => error.Fail,
    };
}

fn inet4(address: [4]u8, port: u16) abi.SocketAddress {
    var result: abi.SocketAddress = .{
        .family = abi.family_inet4,
        .port = port,
        .address = [_]u8{0} ** 16,
    };
    @memcpy(result.address[0..4], &address);
    return result;
}

/// One getaddrinfo answer: its entries, their sockaddr_in and the canonical name.
const Block = struct {
    entries: [constants.resolve_entries_max]AddrInfo,
    addresses: [constants.resolve_entries_max][sockaddr.sockaddr_in_bytes]u8 align(8),
    canonical: [abi.host_name_bytes_max + 1]u8,
};

var blocks: [constants.resolve_lists_max]Block = undefined;
var blocks_used = [_]bool{false} ** constants.resolve_lists_max;

fn block_take() ?*Block {
    for (&blocks_used, 0..) |*used, index| {
        if (used.*) continue;
        used.* = true;
        return &blocks[index];
    }
    return null;
}

/// Fills `block` with one entry per (address, kind), addresses outer (musl's order), the
/// canonical name on the first. Returns the first entry.
fn block_fill(
    block: *Block,
    addresses: []const abi.SocketAddress,
    kinds: []const Kind,
    port: u16,
    canonical: ?[]const u8,
) *AddrInfo {
    assert(addresses.len * kinds.len <= constants.resolve_entries_max);
    assert(addresses.len >= 1 and kinds.len >= 1);
    var count: usize = 0;
    for (addresses) |address| {
        for (kinds) |kind| {
            var with_port = address;
            with_port.port = port;
            block.addresses[count] = sockaddr.from_abi(with_port);
            block.entries[count] = .{
                .flags = 0,
                .family = sockaddr.af_inet,
                .socktype = kind.socktype,
                .protocol = kind.protocol,
                .addrlen = sockaddr.sockaddr_in_bytes,
                .addr = &block.addresses[count],
                .canonname = null,
                .next = null,
            };
            if (count > 0) block.entries[count - 1].next = &block.entries[count];
            count += 1;
        }
    }
    if (canonical) |name| {
        assert(name.len <= abi.host_name_bytes_max);
        @memcpy(block.canonical[0..name.len], name);
        block.canonical[name.len] = 0;
        block.entries[0].canonname = block.canonical[0..name.len :0].ptr;
    }
    return &block.entries[0];
}

fn lookup(
    host: ?[*:0]const u8,
    service: ?[*:0]const u8,
    hints: ?*const AddrInfo,
) Error!*AddrInfo {
    if (host == null and service == null) return error.NoName;
    const flags: c_int = if (hints) |h| h.flags else 0;
    const family: c_int = if (hints) |h| h.family else 0;
    if (flags & ~ai_flags_known != 0) return error.BadFlags;
    const family_known = family == sockaddr.af_unspec or family == sockaddr.af_inet or
        family == sockaddr.af_inet6;
    if (!family_known) return error.Family;
    var kinds: [2]Kind = undefined;
    const kinds_count = try kinds_of(
        if (hints) |h| h.socktype else 0,
        if (hints) |h| h.protocol else 0,
        &kinds,
    );
    const port = try port_of(if (service) |s| std.mem.span(s) else null, flags);
    const name: ?[]const u8 = if (host) |h| std.mem.span(h) else null;
    var addresses: [constants.resolve_addresses_max]abi.SocketAddress = undefined;
    const count = try addresses_of(name, family, flags, &addresses);
    const block = block_take() orelse return error.Memory;
    const canonical = if (flags & ai_canonname != 0) name else null;
    return block_fill(block, addresses[0..count], kinds[0..kinds_count], port, canonical);
}

/// getaddrinfo(3): 0 and *result, or an EAI_* code.
pub fn getaddrinfo(
    host: ?[*:0]const u8,
    service: ?[*:0]const u8,
    hints: ?*const AddrInfo,
    result: *?*AddrInfo,
) callconv(.c) c_int {
    const first = lookup(host, service, hints) catch |err| return code(err);
    result.* = first;
    return 0;
}

/// freeaddrinfo(3): gives the list's block back; a pointer that is not the first entry of a
/// block in use is ignored.
pub fn freeaddrinfo(list: ?*AddrInfo) callconv(.c) void {
    const first = list orelse return;
    for (&blocks, &blocks_used) |*block, *used| {
        if (used.* and &block.entries[0] == first) {
            used.* = false;
            return;
        }
    }
}

/// getnameinfo(3) for AF_INET: "localhost" for 127.0.0.1 unless NI_NUMERICHOST, else the
/// dotted quad (NI_NAMEREQD: EAI_NONAME, there is no reverse DNS); the port in decimal.
pub fn getnameinfo(
    address: ?*const anyopaque,
    length: u32,
    host: ?[*]u8,
    host_bytes: u32,
    service: ?[*]u8,
    service_bytes: u32,
    flags: c_int,
) callconv(.c) c_int {
    const bytes = @as([*]const u8, @ptrCast(address orelse return code(error.Family)))[0..length];
    const decoded = sockaddr.to_abi(bytes) catch return code(error.Family);
    var text: [abi.host_name_bytes_max + 1]u8 = undefined;
    if (host != null and host_bytes > 0) {
        const name = host_name(decoded, flags, &text) catch |err| return code(err);
        copy_name(name, host.?[0..host_bytes]) catch |err| return code(err);
    }
    if (service != null and service_bytes > 0) {
        const port = std.fmt.bufPrint(&text, "{d}", .{decoded.port}) catch unreachable;
        copy_name(port, service.?[0..service_bytes]) catch |err| return code(err);
    }
    return 0;
}

/// struct hostent (musl's <netdb.h>, x86-64).
pub const HostEnt = extern struct {
    name: ?[*:0]u8,
    aliases: ?[*]?[*:0]u8,
    addrtype: c_int,
    length: c_int,
    addr_list: ?[*]?[*]u8,
};

comptime {
    assert(@sizeOf(HostEnt) == 32);
}

// <netdb.h> h_errno values, and the errnos gethostbyname2_r returns (musl's choice).
const host_not_found: c_int = 1;
const try_again: c_int = 2;
const no_recovery: c_int = 3;

/// gethostbyname2_r(3), which musl's gethostbyname, gethostbyname2 and gethostbyname_r call
/// (Python's socket.gethostbyname_ex): the addresses getaddrinfo would give, laid out in the
/// caller's buffer (the name, an empty alias list, the addresses and their list). Returns 0
/// with *result set, or an errno (ENOENT, EAGAIN, EBADMSG; ERANGE when `buffer` is too small,
/// to be called again with a bigger one) with *error_code the h_errno, as musl does.
pub fn gethostbyname2_r(
    name: [*:0]const u8,
    family: c_int,
    host: *HostEnt,
    buffer: [*]u8,
    buffer_bytes: usize,
    result: *?*HostEnt,
    error_code: *c_int,
) callconv(.c) c_int {
    result.* = null;
    var addresses: [constants.resolve_addresses_max]abi.SocketAddress = undefined;
    const text = std.mem.span(name);
    const count = addresses_of(text, family, 0, &addresses) catch |err| {
        const codes: [2]c_int = switch (err) {
            error.NoName => .{ host_not_found, @intFromEnum(std.os.linux.E.NOENT) },
            error.Again => .{ try_again, @intFromEnum(std.os.linux.E.AGAIN) },
            else => .{ no_recovery, @intFromEnum(std.os.linux.E.BADMSG) },
        };
        error_code.* = codes[0];
        return codes[1];
    };
    assert(count >= 1 and count <= addresses.len);
    // Pointers first (aligned): the alias list's NULL, then count + 1 address pointers.
    const pointers_bytes = (1 + count + 1) * @sizeOf(usize);
    const aligned = std.mem.alignForward(usize, @intFromPtr(buffer), @alignOf(usize));
    const padding = aligned - @intFromPtr(buffer);
    if (padding + pointers_bytes + count * 4 + text.len + 1 > buffer_bytes) {
        return @intFromEnum(std.os.linux.E.RANGE);
    }
    const pointers: [*]?[*]u8 = @ptrFromInt(aligned);
    const bytes: [*]u8 = @ptrFromInt(aligned + pointers_bytes);
    pointers[0] = null; // the aliases
    for (addresses[0..count], 0..) |address, index| {
        @memcpy(bytes[index * 4 ..][0..4], address.address[0..4]);
        pointers[1 + index] = bytes + index * 4;
    }
    pointers[1 + count] = null;
    const copy = bytes + count * 4;
    @memcpy(copy[0..text.len], text);
    copy[text.len] = 0;
    host.* = .{
        .name = copy[0..text.len :0].ptr,
        .aliases = @ptrCast(pointers),
        .addrtype = sockaddr.af_inet,
        .length = 4,
        .addr_list = pointers + 1,
    };
    result.* = host;
    return 0;
}

fn host_name(address: abi.SocketAddress, flags: c_int, text: []u8) Error![]const u8 {
    const octets = address.address[0..4];
    const loopback = std.mem.eql(u8, octets, &.{ 127, 0, 0, 1 });
    if (flags & ni_numerichost == 0 and loopback) return "localhost";
    if (flags & ni_namereqd != 0) return error.NoName;
    const quad = .{ octets[0], octets[1], octets[2], octets[3] };
    return std.fmt.bufPrint(text, "{d}.{d}.{d}.{d}", quad) catch unreachable;
}

/// Copies a name with its NUL into a caller's buffer, EAI_OVERFLOW when it does not fit.
fn copy_name(name: []const u8, destination: []u8) Error!void {
    if (name.len + 1 > destination.len) return error.Overflow;
    @memcpy(destination[0..name.len], name);
    destination[name.len] = 0;
}

test "numeric hosts and ports, kinds as musl's lookup_serv" {
    try std.testing.expectEqual([4]u8{ 10, 0, 2, 2 }, parse_ipv4("10.0.2.2").?);
    try std.testing.expect(parse_ipv4("10.0.2") == null);
    try std.testing.expect(parse_ipv4("10.0.2.256") == null);
    try std.testing.expect(parse_ipv4("localhost") == null);
    try std.testing.expect(parse_ipv4("1..2.3") == null);
    try std.testing.expectEqual(@as(u16, 8080), try port_of("8080", 0));
    try std.testing.expectEqual(@as(u16, 0), try port_of(null, 0));
    try std.testing.expectError(error.Service, port_of("http", 0));
    try std.testing.expectError(error.NoName, port_of("http", ai_numericserv));
    try std.testing.expectError(error.Service, port_of("65536", 0));
    var kinds: [2]Kind = undefined;
    try std.testing.expectEqual(@as(u32, 2), try kinds_of(0, 0, &kinds));
    try std.testing.expectEqual(sock_dgram, kinds[1].socktype);
    try std.testing.expectEqual(@as(u32, 1), try kinds_of(0, ipproto_udp, &kinds));
    try std.testing.expectEqual(ipproto_udp, kinds[0].protocol);
    try std.testing.expectError(error.Service, kinds_of(sock_stream, ipproto_udp, &kinds));
}

test "getaddrinfo without a name lookup: numeric and NULL hosts, flags, the pool, getnameinfo" {
    var hints = std.mem.zeroes(AddrInfo);
    hints.socktype = sock_stream;
    hints.flags = ai_canonname;
    var list: ?*AddrInfo = null;
    try std.testing.expectEqual(@as(c_int, 0), getaddrinfo("192.168.1.20", "443", &hints, &list));
    const first = list.?;
    try std.testing.expect(first.next == null);
    try std.testing.expectEqual(sock_stream, first.socktype);
    try std.testing.expectEqualStrings("192.168.1.20", std.mem.span(first.canonname.?));
    const bytes = @as([*]const u8, @ptrCast(first.addr.?))[0..16];
    try std.testing.expectEqualSlices(u8, &.{ 2, 0, 0x01, 0xbb, 192, 168, 1, 20 }, bytes[0..8]);
    var host: [64]u8 = undefined;
    var port: [8]u8 = undefined;
    try std.testing.expectEqual(@as(c_int, 0), getnameinfo(first.addr, 16, &host, 64, &port, 8, 0));
    try std.testing.expectEqualStrings("192.168.1.20", std.mem.sliceTo(&host, 0));
    try std.testing.expectEqualStrings("443", std.mem.sliceTo(&port, 0));
    const named = getnameinfo(first.addr, 16, &host, 64, null, 0, ni_namereqd);
    try std.testing.expectEqual(code(error.NoName), named);
    const short = getnameinfo(first.addr, 16, &host, 4, null, 0, 0);
    try std.testing.expectEqual(code(error.Overflow), short);
    freeaddrinfo(first);

    hints = std.mem.zeroes(AddrInfo);
    hints.flags = ai_passive;
    try std.testing.expectEqual(@as(c_int, 0), getaddrinfo(null, "80", &hints, &list));
    try std.testing.expect(list.?.next != null and list.?.next.?.next == null);
    const any = @as([*]const u8, @ptrCast(list.?.addr.?))[4..8];
    try std.testing.expectEqualSlices(u8, &.{ 0, 0, 0, 0 }, any);
    freeaddrinfo(list);
    hints.flags = ai_numerichost;
    const numeric = getaddrinfo("example.com", null, &hints, &list);
    try std.testing.expectEqual(code(error.NoName), numeric);
    try std.testing.expectEqual(code(error.NoName), getaddrinfo("::1", null, null, &list));
    try std.testing.expectEqual(code(error.NoName), getaddrinfo(null, null, null, &list));
    hints = std.mem.zeroes(AddrInfo);
    hints.family = 1;
    try std.testing.expectEqual(code(error.Family), getaddrinfo("1.2.3.4", null, &hints, &list));
    hints.family = 0;
    hints.flags = 0x4000;
    try std.testing.expectEqual(code(error.BadFlags), getaddrinfo("1.2.3.4", null, &hints, &list));

    var taken: [constants.resolve_lists_max]?*AddrInfo = undefined;
    for (&taken) |*slot| {
        try std.testing.expectEqual(@as(c_int, 0), getaddrinfo("1.2.3.4", null, null, slot));
    }
    try std.testing.expectEqual(code(error.Memory), getaddrinfo("1.2.3.4", null, null, &list));
    for (taken) |slot| freeaddrinfo(slot);
    try std.testing.expectEqual(@as(c_int, 0), getaddrinfo("1.2.3.4", null, null, &list));
    freeaddrinfo(list);
}

test "gethostbyname2_r lays out a numeric name's address, and asks for a bigger buffer" {
    var host: HostEnt = undefined;
    var result: ?*HostEnt = null;
    var error_code: c_int = 0;
    var buffer: [64]u8 = undefined;
    const inet = sockaddr.af_inet;
    const status = gethostbyname2_r("10.0.2.2", inet, &host, &buffer, 64, &result, &error_code);
    try std.testing.expectEqual(@as(c_int, 0), status);
    try std.testing.expect(result == &host);
    try std.testing.expectEqualStrings("10.0.2.2", std.mem.span(host.name.?));
    try std.testing.expect(host.aliases.?[0] == null);
    try std.testing.expectEqualSlices(u8, &.{ 10, 0, 2, 2 }, host.addr_list.?[0].?[0..4]);
    try std.testing.expect(host.addr_list.?[1] == null);
    const small = gethostbyname2_r("10.0.2.2", inet, &host, &buffer, 16, &result, &error_code);
    try std.testing.expectEqual(@as(c_int, @intFromEnum(std.os.linux.E.RANGE)), small);
    const v6 = gethostbyname2_r("::1", inet, &host, &buffer, 64, &result, &error_code);
    try std.testing.expectEqual(@as(c_int, @intFromEnum(std.os.linux.E.NOENT)), v6);
    try std.testing.expectEqual(host_not_found, error_code);
    try std.testing.expect(result == null);
}
