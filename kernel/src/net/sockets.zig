//! Sockets: the net.* calls' state. Stand-in until the lwIP stack lands: every call fails
//! with Unsupported ("not available in this kernel").

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("../abi/abi.zig");

pub const Error = error{
    OutOfRange,
    TooLarge,
    LimitReached,
    NoMemory,
    Unsupported,
    AddressInUse,
    AlreadyConnected,
    WouldBlock,
    ConnectionRefused,
    ConnectionReset,
    TimedOut,
    NoRoute,
    NotConnected,
    Closed,
    NotFound,
    BadHandle,
};

pub const Kind = enum { stream, datagram };
pub const Address = abi.SocketAddress;
pub const Readiness = struct { readable: bool, writable: bool, closed: bool, failed: bool };
pub const Accepted = struct { index: u32, peer: Address };

pub fn create(kind: Kind, nonblocking: bool) Error!u32 {
    _ = kind;
    _ = nonblocking;
    return error.Unsupported;
}

pub fn bind(index: u32, address: Address) Error!void {
    _ = .{ index, address };
    return error.Unsupported;
}

pub fn listen(index: u32, backlog: u32) Error!void {
    _ = .{ index, backlog };
    return error.Unsupported;
}

pub fn accept(index: u32, nonblocking: bool) Error!Accepted {
    _ = .{ index, nonblocking };
    return error.Unsupported;
}

pub fn connect(index: u32, address: Address) Error!void {
    _ = .{ index, address };
    return error.Unsupported;
}

pub fn send(index: u32, data: []const u8, to: ?Address, nonblocking: bool) Error!usize {
    _ = .{ index, data, to, nonblocking };
    return error.Unsupported;
}

pub fn receive(index: u32, buffer: []u8, from: ?*Address, flags: u32) Error!usize {
    _ = .{ index, buffer, from, flags };
    return error.Unsupported;
}

pub fn shutdown(index: u32, how: u32) Error!void {
    _ = .{ index, how };
    return error.Unsupported;
}

pub fn local_address(index: u32) Address {
    _ = index;
    return std.mem.zeroes(Address);
}

pub fn peer_address(index: u32) Error!Address {
    _ = index;
    return error.NotConnected;
}

pub fn set_option(index: u32, option: u32, value: u64) Error!void {
    _ = .{ index, option, value };
    return error.Unsupported;
}

pub fn get_option(index: u32, option: u32) Error!u64 {
    _ = .{ index, option };
    return error.Unsupported;
}

pub fn is_datagram(index: u32) bool {
    _ = index;
    return false;
}

pub fn close(index: u32) void {
    _ = index;
    unreachable; // create never succeeds.
}

pub fn readiness(index: u32) Readiness {
    _ = index;
    return .{ .readable = false, .writable = false, .closed = true, .failed = false };
}

pub fn resolve(name: []const u8, out: []Address, timeout_ns: u64) Error!usize {
    assert(out.len > 0);
    _ = .{ name, timeout_ns };
    return error.Unsupported;
}
