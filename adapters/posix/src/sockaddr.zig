//! struct sockaddr_in (what a program passes to bind, connect, sendto and gets from accept,
//! getsockname, recvfrom) ↔ the ABI's SocketAddress. sockaddr_in: family u16 (host order,
//! AF_INET 2), port u16 in network order, address 4 bytes in network order, 8 zero bytes.
//! SocketAddress: family (family_inet4), port in host order, address 16 bytes (IPv4 first).
//! Pure code.

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;

pub const af_unspec: u16 = 0;
pub const af_unix: u16 = 1;
pub const af_inet: u16 = 2;
pub const af_inet6: u16 = 10;
pub const sockaddr_in_bytes: u32 = 16;

pub const Error = error{ Invalid, FamilyUnsupported };

/// A program's sockaddr (its first `length` bytes) as a SocketAddress. Errors: Invalid when
/// it is shorter than sockaddr_in (EINVAL); FamilyUnsupported for any family but AF_INET
/// (EAFNOSUPPORT).
pub fn to_abi(bytes: []const u8) Error!abi.SocketAddress {
    if (bytes.len < 2) return error.Invalid;
    const family = std.mem.readInt(u16, bytes[0..2], .little);
    if (family != af_inet) return error.FamilyUnsupported;
    if (bytes.len < sockaddr_in_bytes) return error.Invalid;
    var result: abi.SocketAddress = .{
        .family = abi.family_inet4,
        .port = std.mem.readInt(u16, bytes[2..4], .big),
        .address = [_]u8{0} ** 16,
    };
    @memcpy(result.address[0..4], bytes[4..8]);
    assert(result.family == abi.family_inet4);
    return result;
}

/// A SocketAddress as sockaddr_in bytes.
pub fn from_abi(address: abi.SocketAddress) [sockaddr_in_bytes]u8 {
    assert(address.family == abi.family_inet4 or address.family == 0);
    var bytes = [_]u8{0} ** sockaddr_in_bytes;
    std.mem.writeInt(u16, bytes[0..2], af_inet, .little);
    std.mem.writeInt(u16, bytes[2..4], address.port, .big);
    @memcpy(bytes[4..8], address.address[0..4]);
    return bytes;
}

/// Copies `source` into a program's (address, *length) pair as getsockname does: at most the
/// buffer's length is written, and *length becomes the full size. Returns the bytes copied.
pub fn copy_out(source: []const u8, destination: []u8) usize {
    const count = @min(source.len, destination.len);
    @memcpy(destination[0..count], source[0..count]);
    return count;
}

test "sockaddr_in 127.0.0.1:8080 round-trips through SocketAddress" {
    const in = [_]u8{ 2, 0, 0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
    const address = try to_abi(&in);
    try std.testing.expectEqual(abi.family_inet4, address.family);
    try std.testing.expectEqual(@as(u16, 8080), address.port);
    try std.testing.expectEqualSlices(u8, &.{ 127, 0, 0, 1 }, address.address[0..4]);
    try std.testing.expectEqualSlices(u8, &([_]u8{0} ** 12), address.address[4..]);
    try std.testing.expectEqualSlices(u8, &in, &from_abi(address));
}

test "wrong families and short addresses are refused" {
    const in6 = [_]u8{ 10, 0 } ++ [_]u8{0} ** 26;
    try std.testing.expectError(error.FamilyUnsupported, to_abi(&in6));
    const unix = [_]u8{ 1, 0, '/', 0 };
    try std.testing.expectError(error.FamilyUnsupported, to_abi(&unix));
    const short = [_]u8{ 2, 0, 0, 80 };
    try std.testing.expectError(error.Invalid, to_abi(&short));
    try std.testing.expectError(error.Invalid, to_abi(&[_]u8{2}));
}

test "copy_out truncates to the program's buffer" {
    var small: [4]u8 = undefined;
    const bytes = from_abi(.{ .family = abi.family_inet4, .port = 80, .address = [_]u8{0} ** 16 });
    try std.testing.expectEqual(@as(usize, 4), copy_out(&bytes, &small));
    try std.testing.expectEqualSlices(u8, &.{ 2, 0, 0, 80 }, &small);
}
