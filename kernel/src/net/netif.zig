//! The NIC as lwIP's network interface: frames from the virtio-net driver go into lwIP
//! (`ethernet_input` through `netif.input`), lwIP's frames go out through `link_output`.
//!
//! Received frames are copied into one pool pbuf each (PBUF_POOL_BUFSIZE holds a whole frame),
//! and the RX buffer goes straight back to the device: a frame lwIP keeps (out-of-order queues,
//! unread socket data) never holds a ring slot. Transmitted pbuf chains are copied by the driver
//! into its TX buffers; notifications are batched (`flush` once per poll or ABI call).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const cpu = @import("../arch/x86_64/cpu.zig");
const lwip_api = @import("lwip.zig");
const lwip = lwip_api.c;
const net_device = @import("../drivers/virtio/net/device.zig");

/// Counters the stack reports (guest memory and error figures).
pub const Stats = struct {
    /// Received frames dropped because the pbuf pool was empty.
    rx_no_buffer: u64 = 0,
    /// Frames lwIP refused at input.
    rx_refused: u64 = 0,
    /// Transmits refused: the TX ring was full, or the frame too long.
    tx_dropped: u64 = 0,
};

var device: ?*net_device.Device = null;
pub var interface: lwip.struct_netif = undefined;
pub var stats: Stats = .{};

/// Whether a NIC is attached.
pub fn attached() bool {
    return device != null;
}

/// Adds the NIC as lwIP's default interface (no address yet: stack.zig configures it).
pub fn attach(nic: *net_device.Device) void {
    assert(device == null);
    device = nic;
    const added = lwip.netif_add(
        &interface,
        null,
        null,
        null,
        null,
        &interface_init,
        &lwip.netif_input,
    );
    assert(added != null);
    lwip.netif_set_default(&interface);
    // No link state from the device (Firecracker offers no STATUS): the link is up (§5.1.4).
    lwip.netif_set_link_up(&interface);
    lwip.netif_set_up(&interface);
}

/// Moves up to one ring's worth of received frames into lwIP (the caller, stack.poll, publishes
/// what lwIP sent meanwhile, once). Bounded: a flood waits for the next poll, it never holds the
/// scheduler.
pub fn poll() void {
    const nic = device orelse return;
    var frames: u32 = 0;
    while (frames < constants.net_queue_size) : (frames += 1) {
        const frame = nic.receive() orelse break;
        input(frame);
        nic.receive_done();
    }
    if (nic.transmit_room_returned()) output_retry();
}

/// The TX ring was full and has room again: TCP connections holding data (their segments were
/// refused, ERR_MEM) send now rather than at their retransmission timeout.
fn output_retry() void {
    var connections = lwip_api.ActiveConnections.init();
    while (connections.next()) |connection| {
        if (connection.unsent != null) _ = lwip.tcp_output(connection);
    }
}

/// Publishes queued transmits and waits, spinning at most `deadline_tsc`, until the device has
/// sent them: the VM is about to stop, and a datagram sent just before would be lost. True when
/// everything left.
pub fn drain(deadline_tsc: u64) bool {
    const nic = device orelse return true;
    nic.flush();
    var spins: u64 = 0;
    while (spins < constants.idle_spin_iterations_max) : (spins += 1) {
        if (nic.transmit_idle()) return true;
        if (cpu.rdtsc() >= deadline_tsc) return false;
        cpu.pause();
    }
    return false;
}

/// Publishes queued transmits (one notify at most): the end of an ABI call that sent.
pub fn flush() void {
    const nic = device orelse return;
    nic.flush();
}

/// Before the idle halt: arms the NIC's interrupt (interrupt_arm first publishes what lwIP
/// queued: a frame left unnotified would wait for the halt to end), and says whether frames
/// already wait (do not halt).
pub fn pending() bool {
    const nic = device orelse return false;
    return nic.interrupt_arm();
}

fn input(frame: []const u8) void {
    assert(frame.len <= constants.net_frame_bytes_max);
    const length: u16 = @intCast(frame.len);
    const buffer: *lwip.struct_pbuf =
        lwip.pbuf_alloc(lwip.PBUF_RAW, length, lwip.PBUF_POOL) orelse {
            stats.rx_no_buffer += 1;
            return;
        };
    assert(buffer.tot_len == length);
    _ = lwip.pbuf_take(buffer, frame.ptr, length);
    if (interface.input.?(buffer, &interface) != lwip.ERR_OK) {
        stats.rx_refused += 1;
        _ = lwip.pbuf_free(buffer);
    }
}

fn interface_init(netif: [*c]lwip.struct_netif) callconv(.c) lwip.err_t {
    const nic = device.?;
    netif.*.hwaddr_len = 6;
    netif.*.hwaddr = nic.mac();
    netif.*.mtu = @intCast(nic.mtu());
    netif.*.flags = lwip.NETIF_FLAG_BROADCAST | lwip.NETIF_FLAG_ETHARP |
        lwip.NETIF_FLAG_ETHERNET;
    netif.*.name = .{ 'e', 'n' };
    netif.*.output = &lwip.etharp_output;
    netif.*.linkoutput = &link_output;
    return lwip.ERR_OK;
}

/// lwIP's frame, as a pbuf chain it keeps ownership of: the driver copies it.
fn link_output(_: [*c]lwip.struct_netif, chain: [*c]lwip.struct_pbuf) callconv(.c) lwip.err_t {
    const nic = device.?;
    var parts: [constants.net_frame_parts_max][]const u8 = undefined;
    var count: u32 = 0;
    var link: ?*lwip.struct_pbuf = chain;
    while (link) |buffer| : (link = buffer.next) {
        if (count == parts.len) {
            stats.tx_dropped += 1;
            return lwip.ERR_MEM;
        }
        const payload: [*]const u8 = @ptrCast(buffer.payload.?);
        parts[count] = payload[0..buffer.len];
        count += 1;
    }
    nic.transmit(parts[0..count]) catch {
        stats.tx_dropped += 1;
        return lwip.ERR_MEM;
    };
    return lwip.ERR_OK;
}
