//! lwIP's C API as Zig sees it: one @cImport of the headers the kernel uses, translated with
//! the same include paths and UK_LWIP_* sizes the C files are compiled with (build.zig, Lwip).

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
