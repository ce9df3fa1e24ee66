//! The TCP/IP stack: lwIP 2.2.1's raw API (NO_SYS), driven from the scheduler.
//!
//! lwIP runs in exactly one context: ring-3 kernel code between tasks (the scheduler's waker,
//! which `start` installs) and the ABI calls of the running task, which never yield inside an lwIP
//! call. Interrupts never touch it: the NIC's interrupt only ends the idle halt. The stack is the
//! scheduler's waker: `poll` moves received frames into lwIP, runs the loopback queue and
//! lwIP's timers; `netif.pending` arms the NIC's interrupt before a halt; `timers_deadline`
//! says when lwIP's next timer is due. The loopback interface (127.0.0.1) always exists, so
//! sockets work inside a guest without a NIC.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const cpu = @import("../arch/x86_64/cpu.zig");
const clock_module = @import("../time/clock.zig");
const lwip = @import("lwip.zig").c;
const port = @import("port.zig");
const scheduler = @import("../sched/scheduler.zig");
const platform = @import("../sched/platform.zig");
const records = @import("../console/records.zig");
const net_device = @import("../drivers/virtio/net/device.zig");
const config = @import("config.zig");
const netif = @import("netif.zig");

/// sys_timeouts_sleeptime's answer when no timer is pending (SYS_TIMEOUTS_SLEEPTIME_INFINITE).
const timeouts_infinite_ms: u32 = 0xFFFF_FFFF;

var started = false;

/// Starts lwIP (its pools, heap and timers) and the loopback interface, and makes the
/// scheduler poll it, once: at boot when there is a NIC, else at the workload's first socket
/// (a workload without sockets never pays for the stack). Idempotent.
pub fn start() void {
    if (started) return;
    port.init();
    lwip.lwip_init();
    started = true;
    assert(lwip.netif_list != null); // The loopback interface, added by lwip_init.
    assert(scheduler.waker == null);
    scheduler.waker = .{ .arm = &netif.pending, .poll = &poll, .deadline = &timers_deadline };
}

/// Handles whatever is pending: loopback packets and due timers. Never blocks; bounded by the
/// queues' sizes.
fn poll() void {
    assert(started);
    netif.poll();
    lwip.netif_poll_all();
    lwip.sys_check_timeouts();
    dns_apply();
    netif.flush();
}

/// Publishes what lwIP queued for the NIC (one notify at most): the socket calls end with it,
/// so a reply leaves at once rather than at the next poll.
pub fn flush() void {
    if (started) netif.flush();
}

/// The TSC deadline of lwIP's next timer (now when one is due), deadline_none for none.
fn timers_deadline() u64 {
    assert(started);
    const clock = &clock_module.global;
    const sleep_ms = lwip.sys_timeouts_sleeptime();
    if (sleep_ms == timeouts_infinite_ms) return scheduler.deadline_none;
    const sleep_ns = @min(@as(u64, sleep_ms) * std.time.ns_per_ms, constants.timeout_ns_max);
    return cpu.rdtsc() +| clock.ticks_for_ns(sleep_ns);
}

/// How the interface got its address, for the @uk:net record and the boot summary.
pub const Source = enum { static, dhcp, none };

var configured_source: Source = .none;
var dns_override: ?config.Dns = null;

/// Starts the stack with the NIC as the default interface and configures it: the static
/// address from the command line, else DHCP, waited for (bounded by net_dhcp_wait_ns_max) so
/// the workload starts with its address. Reports the result in the @uk:net record.
pub fn start_with_nic(nic: *net_device.Device, wanted: config.Config) void {
    const start_tsc = cpu.rdtsc();
    start();
    netif.attach(nic);
    if (wanted.dns) |dns| {
        dns_override = dns;
        port.uk_lwip_dns_port = dns.port;
        dns_apply();
    }
    if (wanted.static) |static| {
        configure_static(static);
        configured_source = .static;
    } else {
        const started_dhcp = lwip.dhcp_start(&netif.interface);
        assert(started_dhcp == lwip.ERR_OK); // The interface is up: dhcp_start cannot refuse.
        if (wait_dhcp()) configured_source = .dhcp;
    }
    report(nic, start_tsc);
}

fn configure_static(static: config.Config.Static) void {
    var address: lwip.ip4_addr_t = .{ .addr = @bitCast(static.address) };
    var mask: lwip.ip4_addr_t = .{ .addr = @bitCast(config.netmask(static.prefix_bits)) };
    var gateway: lwip.ip4_addr_t = .{ .addr = @bitCast(static.gateway orelse .{ 0, 0, 0, 0 }) };
    lwip.netif_set_addr(&netif.interface, &address, &mask, &gateway);
    assert(netif.interface.ip_addr.addr == address.addr);
}

/// Polls and halts until DHCP bound an address or the wait's bound passed.
fn wait_dhcp() bool {
    const clock = &clock_module.global;
    const deadline = cpu.rdtsc() +| clock.ticks_for_ns(constants.net_dhcp_wait_ns_max);
    var round: u32 = 0;
    while (round < constants.net_config_rounds_max) : (round += 1) {
        poll();
        if (lwip.dhcp_supplied_address(&netif.interface) != 0) return true;
        const now = cpu.rdtsc();
        if (now >= deadline) return false;
        if (netif.pending()) continue;
        platform.halt_until(@min(timers_deadline(), deadline));
    }
    return false;
}

/// The resolver the command line named wins over DHCP's (a DHCP renewal sets it again).
fn dns_apply() void {
    const dns = dns_override orelse return;
    const wanted: u32 = @bitCast(dns.address);
    const current = lwip.dns_getserver(0);
    if (current.*.addr == wanted) return;
    var address: lwip.ip_addr_t = .{ .addr = wanted };
    lwip.dns_setserver(0, &address);
}

fn report(nic: *const net_device.Device, start_tsc: u64) void {
    const clock = &clock_module.global;
    const interface = &netif.interface;
    const dns = lwip.dns_getserver(0);
    records.net(.{
        .mac = nic.mac(),
        .source = @tagName(configured_source),
        .address = @bitCast(interface.ip_addr.addr),
        .netmask = @bitCast(interface.netmask.addr),
        .gateway = @bitCast(interface.gw.addr),
        .dns = @bitCast(dns.*.addr),
        .dns_port = port.uk_lwip_dns_port,
        .config_ns = clock.ns_since_entry(cpu.rdtsc()) - clock.ns_since_entry(start_tsc),
    });
}
