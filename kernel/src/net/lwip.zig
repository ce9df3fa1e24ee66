//! lwIP's C API as Zig sees it: one @cImport of the headers the kernel uses, translated with
//! the same include paths and UK_LWIP_* sizes the C files are compiled with (build.zig, Lwip),
//! and a bounded walk of lwIP's active TCP connections.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");

pub const c = @cImport({
    @cInclude("lwip/init.h");
    @cInclude("lwip/timeouts.h");
    @cInclude("lwip/netif.h");
    @cInclude("lwip/pbuf.h");
    @cInclude("lwip/ip_addr.h");
    @cInclude("lwip/etharp.h");
    @cInclude("lwip/dhcp.h");
    @cInclude("lwip/dns.h");
    @cInclude("lwip/tcp.h");
    @cInclude("lwip/priv/tcp_priv.h");
    @cInclude("lwip/udp.h");
    @cInclude("lwip/stats.h");
    @cInclude("lwip/prot/ethernet.h");
    @cInclude("netif/ethernet.h");
});

/// lwIP's active TCP connections (`tcp_active_pcbs`), each taken before the caller sees it, so
/// the caller may abort or free the one it holds. Bounded by the PCB pool's size.
pub const ActiveConnections = struct {
    pcb: ?*c.struct_tcp_pcb,
    visited: u32 = 0,

    pub fn init() ActiveConnections {
        return .{ .pcb = c.tcp_active_pcbs };
    }

    pub fn next(walk: *ActiveConnections) ?*c.struct_tcp_pcb {
        const connection = walk.pcb orelse return null;
        assert(walk.visited < constants.lwip.tcp_pcbs);
        walk.visited += 1;
        walk.pcb = connection.next;
        return connection;
    }
};
