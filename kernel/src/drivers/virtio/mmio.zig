//! The virtio-mmio transport, version 2 only (Firecracker offers nothing else; QEMU runs with
//! force-legacy=off). Registers 0x00–0xff are accessed 32 bits at a time, the status goes
//! strictly 0 → ACK → DRIVER → FEATURES_OK → DRIVER_OK, and every queue is set up before
//! DRIVER_OK (Firecracker activates a device only if all its queues are ready).
//!
//! Every register access is a VM exit: the transport is touched at set-up and to notify, and
//! completions are found by polling the used ring in memory. A device that interrupts (virtio-net)
//! has its line routed by `route_interrupt`; the ring-0 handler reads InterruptStatus and writes
//! InterruptACK (arch/x86_64/device_interrupts.zig).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const Queue = @import("queue.zig").Queue;
const device_interrupts = @import("../../arch/x86_64/device_interrupts.zig");
const supervisor = @import("../../arch/x86_64/supervisor.zig");
const Announced = @import("mmio_token.zig").Device;

const Register = enum(u32) {
    magic = 0x000,
    version = 0x004,
    device_id = 0x008,
    vendor_id = 0x00c,
    device_features = 0x010,
    device_features_select = 0x014,
    driver_features = 0x020,
    driver_features_select = 0x024,
    queue_select = 0x030,
    queue_size_max = 0x034,
    queue_size = 0x038,
    queue_ready = 0x044,
    queue_notify = 0x050,
    interrupt_status = 0x060,
    interrupt_ack = 0x064,
    status = 0x070,
    queue_descriptor_low = 0x080,
    queue_descriptor_high = 0x084,
    queue_driver_low = 0x090,
    queue_driver_high = 0x094,
    queue_device_low = 0x0a0,
    queue_device_high = 0x0a4,
    config_generation = 0x0fc,
};

pub const config_offset: u64 = 0x100;
const magic_value: u32 = 0x7472_6976; // "virt"

pub const status_acknowledge: u32 = 1;
pub const status_driver: u32 = 2;
pub const status_driver_ok: u32 = 4;
pub const status_features_ok: u32 = 8;
pub const status_failed: u32 = 0x80;

/// VIRTIO_F_VERSION_1: feature bit 32, required of a modern device.
pub const feature_version_1: u64 = 1 << 32;

pub const DeviceId = enum(u32) { network = 1, block = 2, entropy = 4, vsock = 19, _ };

pub const ProbeError = error{ NotVirtio, LegacyTransport, NoDevice };
pub const SetupError = error{ FeaturesRejected, QueueUnavailable, QueueTooSmall };

pub const Transport = struct {
    base: u64,

    pub fn read(transport: Transport, register: Register) u32 {
        const pointer: *volatile u32 = @ptrFromInt(transport.base + @intFromEnum(register));
        return pointer.*;
    }

    pub fn write(transport: Transport, register: Register, value: u32) void {
        const pointer: *volatile u32 = @ptrFromInt(transport.base + @intFromEnum(register));
        pointer.* = value;
    }

    pub fn config_read(transport: Transport, comptime T: type, offset: u64) T {
        const pointer: *volatile T = @ptrFromInt(transport.base + config_offset + offset);
        return pointer.*;
    }

    /// Checks the magic and version; returns the device type (NoDevice for an empty slot).
    pub fn probe(transport: Transport) ProbeError!DeviceId {
        if (transport.read(.magic) != magic_value) return error.NotVirtio;
        if (transport.read(.version) != 2) return error.LegacyTransport;
        const id = transport.read(.device_id);
        if (id == 0) return error.NoDevice;
        return @enumFromInt(id);
    }

    /// Resets the device and negotiates features: `wanted` ∩ offered, plus VERSION_1, which the
    /// device must offer. Leaves the device in FEATURES_OK, ready for queue set-up.
    pub fn begin(transport: Transport, wanted: u64) SetupError!u64 {
        transport.write(.status, 0);
        transport.write(.status, status_acknowledge);
        transport.write(.status, status_acknowledge | status_driver);
        const offered = transport.features_offered();
        if (offered & feature_version_1 == 0) return transport.fail(error.FeaturesRejected);
        const accepted = (offered & wanted) | feature_version_1;
        transport.write(.driver_features_select, 0);
        transport.write(.driver_features, @truncate(accepted));
        transport.write(.driver_features_select, 1);
        transport.write(.driver_features, @truncate(accepted >> 32));
        const with_features = status_acknowledge | status_driver | status_features_ok;
        transport.write(.status, with_features);
        if (transport.read(.status) & status_features_ok == 0) {
            return transport.fail(error.FeaturesRejected);
        }
        return accepted;
    }

    fn features_offered(transport: Transport) u64 {
        transport.write(.device_features_select, 0);
        const low = transport.read(.device_features);
        transport.write(.device_features_select, 1);
        const high = transport.read(.device_features);
        return (@as(u64, high) << 32) | low;
    }

    /// Hands queue `index` (already laid out in memory) to the device. QueueReady is not read
    /// first: `begin` reset the device, and a reset clears every queue's ready bit (virtio 1.2
    /// §4.2.2.1), so the read would cost a VM exit to learn nothing.
    pub fn setup_queue(transport: Transport, index: u32, queue: *const Queue) SetupError!void {
        transport.write(.queue_select, index);
        const size_max = transport.read(.queue_size_max);
        if (size_max == 0) return transport.fail(error.QueueUnavailable);
        if (size_max < queue.size) return transport.fail(error.QueueTooSmall);
        transport.write(.queue_size, queue.size);
        write64(
            transport,
            .queue_descriptor_low,
            .queue_descriptor_high,
            queue.descriptors_address(),
        );
        write64(transport, .queue_driver_low, .queue_driver_high, queue.available_address());
        write64(transport, .queue_device_low, .queue_device_high, queue.used_address());
        transport.write(.queue_ready, 1);
    }

    /// All queues are set up: the device may start.
    pub fn finish(transport: Transport) void {
        const status = status_acknowledge | status_driver | status_features_ok | status_driver_ok;
        transport.write(.status, status);
    }

    pub fn notify(transport: Transport, queue_index: u32) void {
        transport.write(.queue_notify, queue_index);
    }

    /// Routes the device's interrupt line (the GSI of its command-line token) to a vector of its
    /// own; returns the line (device_interrupts.zig). The trigger mode follows the VMM, told
    /// apart by the token's window size: QEMU microvm announces 512-byte windows and drives a
    /// level (high while InterruptStatus ≠ 0), Firecracker 4 KiB ones and pulses an edge
    /// (docs/architecture.md, "Interrupts"; networking.md §2.2–2.4).
    /// Ring 3; one supervisor call. error.Refused: a GSI past the IOAPIC's pins, one routed
    /// already, or no free line.
    pub fn route_interrupt(transport: Transport, announced: Announced) error{Refused}!u32 {
        assert(announced.base == transport.base);
        assert(announced.irq <= 0xff);
        const trigger: u64 = @intFromEnum(line_trigger(announced.size));
        const line = supervisor.call(
            .route_device_interrupt,
            announced.irq | (trigger << 8),
            transport.base + @intFromEnum(Register.interrupt_status),
            transport.base + @intFromEnum(Register.interrupt_ack),
        );
        if (line == supervisor.refused) return error.Refused;
        assert(line < constants.device_interrupt_lines_max);
        return @intCast(line);
    }

    fn fail(transport: Transport, err: SetupError) SetupError {
        transport.write(.status, transport.read(.status) | status_failed);
        return err;
    }
};

/// The trigger mode of a virtio-mmio line, from the size of the device's window (see
/// route_interrupt): below a page, QEMU's level; a page or more, Firecracker's edge.
pub fn line_trigger(window_bytes: u64) device_interrupts.Trigger {
    return if (window_bytes < 4096) .level else .edge;
}

fn write64(transport: Transport, low: Register, high: Register, value: u64) void {
    transport.write(low, @truncate(value));
    transport.write(high, @truncate(value >> 32));
}

comptime {
    assert(config_offset == 0x100);
}

test "line trigger: level on QEMU microvm's 512-byte windows, edge on Firecracker's 4 KiB" {
    try std.testing.expectEqual(device_interrupts.Trigger.level, line_trigger(512));
    try std.testing.expectEqual(device_interrupts.Trigger.edge, line_trigger(4096));
}
