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
const lwip_api = @import("lwip.zig");
const lwip = lwip_api.c;
const port = @import("port.zig");
const scheduler = @import("../sched/scheduler.zig");
const records = @import("../console/records.zig");
const net_device = @import("../drivers/virtio/net/device.zig");
const Announced = @import("../drivers/virtio/mmio_token.zig").Device;
const console = @import("../console/console.zig");
const config = @import("config.zig");
const netif = @import("netif.zig");

/// sys_timeouts_sleeptime's answer when no timer is pending (SYS_TIMEOUTS_SLEEPTIME_INFINITE).
const timeouts_infinite_ms: u32 = 0xFFFF_FFFF;

var started = false;

/// Starts lwIP (its pools, heap and timers) and the loopback interface, and makes the
/// scheduler poll it, once: at boot when there is a NIC, else at the workload's first socket
/// (a workload without sockets never pays for the stack). Idempotent; false when memory for
/// lwIP's heap is refused.
pub fn start() bool {
    if (started) return true;
    if (!port.take_heap()) return false;
    port.init();
    lwip.lwip_init();
    started = true;
    assert(lwip.netif_list != null); // The loopback interface, added by lwip_init.
    assert(scheduler.waker == null);
    scheduler.waker = .{ .arm = &pending, .poll = &poll, .deadline = &timers_deadline };
    return true;
}

/// Handles whatever is pending: the NIC's bring-up (the first poll after start_with_nic), DHCP's
/// answer, received frames, loopback packets, due timers. Never blocks; bounded by the queues'
/// sizes (the bring-up by the device's own bounded waits).
fn poll() void {
    assert(started);
    if (nic_pending) |wanted_nic| bring_up(wanted_nic);
    dhcp_check();
    netif.poll();
    lwip.netif_poll_all();
    lwip.sys_check_timeouts();
    half_open_reap();
    dns_apply();
    netif.flush();
}

/// lwIP's slow timer period, in ms (TCP_SLOW_INTERVAL: tcp_ticks counts these).
const slow_interval_ms: u32 = 500;
var half_open_checked_ms: u32 = 0;
/// Half-open connections dropped to make room in a full backlog (a figure for the counters).
var half_open_reaped: u64 = 0;

/// A SYN flood from addresses that never answer fills a listener's backlog with connections in
/// SYN_RCVD, which lwIP keeps 20 s (TCP_SYN_RCVD_TIMEOUT, not configurable): meanwhile every real
/// client's SYN is dropped. Twice a second, when a listener's backlog is full, its half-open
/// connections older than net_half_open_age_ms are aborted (a RST to the claimed sender).
fn half_open_reap() void {
    const now_ms = port.sys_now();
    if (now_ms -% half_open_checked_ms < slow_interval_ms) return;
    half_open_checked_ms = now_ms;
    const age_ticks: u32 = constants.net_half_open_age_ms / slow_interval_ms;
    var connections = lwip_api.ActiveConnections.init();
    while (connections.next()) |connection| {
        if (connection.state != lwip.SYN_RCVD) continue;
        const listener = connection.listener orelse continue;
        if (listener.*.accepts_pending < listener.*.backlog) continue;
        if (lwip.tcp_ticks -% connection.tmr < age_ticks) continue;
        lwip.tcp_abort(connection);
        half_open_reaped += 1;
    }
}

/// The workload is over and the VM stops next: what lwIP holds leaves first, bounded by
/// net_drain_ns_max — packets waiting for ARP, TCP data held back (Nagle, the peer's window;
/// sent as its ACKs come), and the NIC's TX ring — so a last datagram or response is not lost
/// on a live peer. Retransmissions to a peer that stopped answering are not waited for.
pub fn drain() void {
    if (!started) return;
    const clock = &clock_module.global;
    const deadline = cpu.rdtsc() +| clock.ticks_for_ns(constants.net_drain_ns_max);
    // Packets waiting for an ARP answer are in lwIP, not yet in the ring: let the answer come.
    // Addresses nobody answers for (a spoofed flood's) never resolve: the deadline ends it.
    // TCP data lwIP still holds (Nagle, the window) goes out as the peer's ACKs come back.
    const rounds_max = constants.idle_spin_iterations_max;
    var rounds: u64 = 0;
    while ((arp_queued() or tcp_unsent()) and cpu.rdtsc() < deadline and rounds < rounds_max) {
        poll();
        cpu.pause();
        rounds += 1;
    }
    lwip.netif_poll_all();
    _ = netif.drain(deadline);
    report_stats();
}

/// The @uk:netstat record: what crossed the NIC and what lwIP still holds.
fn report_stats() void {
    const memp = &lwip.lwip_stats.memp;
    const nic: ?*const net_device.Device = if (netif.attached()) &nic_device else null;
    const driver = if (nic) |device| device.stats else net_device.Stats{};
    records.net_stats(.{
        .rx_frames = driver.rx_frames,
        .tx_frames = driver.tx_frames,
        .rx_dropped = driver.rx_dropped + netif.stats.rx_no_buffer + netif.stats.rx_refused,
        .tx_dropped = netif.stats.tx_dropped,
        .notifies = driver.notifies,
        .interrupts = if (nic) |device| device.interrupts() else 0,
        .half_open_reaped = half_open_reaped,
        .pool_pbufs_used = memp[lwip.MEMP_PBUF_POOL].*.used,
        .pool_pbufs_max = memp[lwip.MEMP_PBUF_POOL].*.max,
        .tcp_pcbs_used = memp[lwip.MEMP_TCP_PCB].*.used,
        .tcp_segments_used = memp[lwip.MEMP_TCP_SEG].*.used,
        .heap_bytes_used = lwip.lwip_stats.mem.used,
        .heap_bytes_max = lwip.lwip_stats.mem.max,
    });
}

/// Whether a TCP connection still holds data not yet sent; pushes it (Nagle off: the run ends).
fn tcp_unsent() bool {
    var unsent = false;
    var connections = lwip_api.ActiveConnections.init();
    while (connections.next()) |connection| {
        if (connection.unsent == null) continue;
        unsent = true;
        connection.flags |= @as(@TypeOf(connection.flags), lwip.TF_NODELAY);
        _ = lwip.tcp_output(connection);
    }
    return unsent;
}

/// Packets lwIP holds until an address resolves (each takes an ARP_QUEUE pool element).
fn arp_queued() bool {
    return lwip.lwip_stats.memp[lwip.MEMP_ARP_QUEUE].*.used > 0;
}

/// Before a halt: whether work is already pending, so the scheduler polls instead of halting.
/// Loopback packets the tasks' own sends queued come first: no interrupt announces them, and
/// left for lwIP's next timer they waited up to 250 ms each way (a 64-byte round trip over
/// 127.0.0.1 took 93 ms instead of 0.9 µs). Else netif.pending arms the NIC's interrupt.
fn pending() bool {
    assert(started);
    if (nic_pending != null) return true; // The NIC's bring-up is the next poll's.
    var interface = lwip.netif_list;
    // The loopback interface and the NIC (each queues packets sent to its own address).
    var count: u32 = 0;
    while (interface != null and count < netifs_max) : (count += 1) {
        if (interface.*.loop_first != null) return true;
        interface = interface.*.next;
    }
    return netif.pending();
}

/// The interfaces `pending` looks at: the loopback one and the NIC.
const netifs_max: u32 = 2;

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
    const dhcp_deadline = dhcp_deadline_tsc orelse scheduler.deadline_none;
    if (sleep_ms == timeouts_infinite_ms) return dhcp_deadline;
    const sleep_ns = @min(@as(u64, sleep_ms) * std.time.ns_per_ms, constants.timeout_ns_max);
    return @min(dhcp_deadline, cpu.rdtsc() +| clock.ticks_for_ns(sleep_ns));
}

/// How the interface got its address, for the @uk:net record and the boot summary.
pub const Source = enum { static, dhcp, none };

var configured_source: Source = .none;
var dns_override: ?config.Dns = null;

/// The NIC announced at boot, set up at the stack's first poll (net_bring_up), and what the
/// command line asked for.
const Pending = struct { announced: Announced, wanted: config.Config };
var nic_pending: ?Pending = null;
var nic_device: net_device.Device = undefined;
/// Set up, waiting for DHCP until this TSC deadline (null: not waiting).
var dhcp_deadline_tsc: ?u64 = null;
var bring_up_tsc: u64 = 0;

/// What tasks waiting for the address block on (scheduler wait .socket); no socket or lookup
/// has this number (sockets.zig uses those below it).
pub const configuration_wait_object: u32 = constants.net_sockets_max + constants.net_resolves_max;

/// Starts the stack, and with it the NIC's bring-up, which happens off the path to the
/// workload's `main`: at the stack's first poll, that is the first time a task yields, blocks
/// or runs for waker_poll_interval_ns (a server listens first, then waits for connections; the
/// NIC's set-up is about 45 MMIO accesses, 1.5–3 ms under nested KVM). Then the static address
/// from the command line, or DHCP; calls that need the address (connect, sendto, resolve) wait
/// for it (`await_configured`). The @uk:net record reports the result.
pub fn start_with_nic(announced: Announced, wanted: config.Config) error{OutOfMemory}!void {
    if (!start()) return error.OutOfMemory;
    assert(nic_pending == null);
    nic_pending = .{ .announced = announced, .wanted = wanted };
}

/// Whether the network can carry traffic beyond loopback yet, waiting (the calling task only)
/// until the NIC is configured or `deadline_tsc`. True at once without a NIC.
pub fn await_configured(deadline_tsc: u64) bool {
    var waits: u32 = 0;
    while (nic_pending != null or dhcp_deadline_tsc != null) : (waits += 1) {
        assert(waits < constants.net_config_rounds_max);
        if (!scheduler.block(.socket, configuration_wait_object, deadline_tsc)) return false;
    }
    return true;
}

/// Sets the NIC up and starts its configuration (the first poll after start_with_nic).
fn bring_up(wanted_nic: Pending) void {
    nic_pending = null;
    bring_up_tsc = cpu.rdtsc();
    nic_device = net_device.Device.init(wanted_nic.announced) catch |err| {
        console.print("network: the virtio-net device at 0x{x} was not set up: {s}\n", .{
            wanted_nic.announced.base, @errorName(err),
        });
        scheduler.wake_all(.socket, configuration_wait_object);
        return;
    };
    netif.attach(&nic_device);
    if (wanted_nic.wanted.dns) |dns| {
        dns_override = dns;
        port.uk_lwip_dns_port = dns.port;
        dns_apply();
    }
    if (wanted_nic.wanted.static) |static| {
        configure_static(static);
        configured(.static);
        return;
    }
    // DHCP needs a UDP PCB and a little heap: the workload may already have taken every PCB.
    const started_dhcp = lwip.dhcp_start(&netif.interface);
    if (started_dhcp != lwip.ERR_OK) {
        console.print("network: DHCP could not start (lwIP error {d}: every UDP socket in " ++
            "use?); the NIC has no address\n", .{started_dhcp});
        configured(.none);
        return;
    }
    const clock = &clock_module.global;
    dhcp_deadline_tsc = bring_up_tsc +| clock.ticks_for_ns(constants.net_dhcp_wait_ns_max);
}

/// While DHCP runs: done when it bound an address, given up (source=none) at its deadline (DHCP
/// goes on trying in lwIP; the address then comes later, unreported).
fn dhcp_check() void {
    const deadline = dhcp_deadline_tsc orelse return;
    if (lwip.dhcp_supplied_address(&netif.interface) != 0) {
        dhcp_deadline_tsc = null;
        configured(.dhcp);
    } else if (cpu.rdtsc() >= deadline) {
        dhcp_deadline_tsc = null;
        configured(.none);
    }
}

fn configured(source: Source) void {
    configured_source = source;
    // The gateway's MAC, asked for now: the first packet off the subnet does not wait for it.
    const interface = &netif.interface;
    if (interface.gw.addr != 0) _ = lwip.etharp_request(interface, &interface.gw);
    report(&nic_device, bring_up_tsc);
    scheduler.wake_all(.socket, configuration_wait_object);
}

fn configure_static(static: config.Config.Static) void {
    var address: lwip.ip4_addr_t = .{ .addr = @bitCast(static.address) };
    var mask: lwip.ip4_addr_t = .{ .addr = @bitCast(config.netmask(static.prefix_bits)) };
    var gateway: lwip.ip4_addr_t = .{ .addr = @bitCast(static.gateway orelse .{ 0, 0, 0, 0 }) };
    lwip.netif_set_addr(&netif.interface, &address, &mask, &gateway);
    assert(netif.interface.ip_addr.addr == address.addr);
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
