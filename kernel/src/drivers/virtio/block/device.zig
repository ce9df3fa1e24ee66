//! virtio-blk (device id 2): reads and writes sectors. One request in flight: a 16-byte header
//! (type IN or OUT, sector), the data buffer, and a status byte, as a three-descriptor chain.
//! Reads wait for their request; a write may also be started and finished later (the events
//! device writes one block while the kernel fills the next). The image disk is only read; the
//! events device is only written.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../../constants.zig");
const cpu = @import("../../../arch/x86_64/cpu.zig");
const pages = @import("../../../memory/pages.zig");
const mmio = @import("../mmio.zig");
const Queue = @import("../queue.zig").Queue;

pub const sector_bytes: u64 = 512;

const request_type_in: u32 = 0;
const request_type_out: u32 = 1;
const status_ok: u8 = 0;
const feature_read_only: u64 = 1 << 5;
const config_capacity_offset: u64 = 0;

const RequestHeader = extern struct { kind: u32, reserved: u32, sector: u64 };

pub const Error = error{
    SetupFailed,
    ReadOnly,
    OutOfMemory,
    OutOfRange,
    Timeout,
    DeviceError,
    ShortRead,
};

pub const Device = struct {
    transport: mmio.Transport,
    queue: Queue,
    capacity_sectors: u64,
    read_only: bool,
    /// One page for the request header and the status byte.
    request: *RequestHeader,
    status: *volatile u8,
    /// TSC ticks a request may take before it is declared lost.
    timeout_ticks: u64,
    /// A write started by write_start and not yet finished.
    in_flight: bool = false,

    pub fn init(transport: mmio.Transport, timeout_ticks: u64) Error!Device {
        const accepted = transport.begin(feature_read_only) catch return error.SetupFailed;
        var queue = Queue.create(constants.virtqueue_size) orelse return error.OutOfMemory;
        transport.setup_queue(0, &queue) catch return error.SetupFailed;
        transport.finish();
        const page = pages.allocate(1) orelse return error.OutOfMemory;
        const capacity_low = transport.config_read(u32, config_capacity_offset);
        const capacity_high = transport.config_read(u32, config_capacity_offset + 4);
        return .{
            .transport = transport,
            .queue = queue,
            .capacity_sectors = (@as(u64, capacity_high) << 32) | capacity_low,
            .read_only = accepted & feature_read_only != 0,
            .request = @ptrCast(page),
            .status = @ptrCast(page + @sizeOf(RequestHeader)),
            .timeout_ticks = timeout_ticks,
        };
    }

    /// Reads `destination.len` bytes (a multiple of the sector size) starting at `sector`, in
    /// requests of at most block_request_bytes_max.
    pub fn read(device: *Device, sector: u64, destination: []u8) Error!void {
        assert(destination.len % sector_bytes == 0);
        const sectors = destination.len / sector_bytes;
        if (sector > device.capacity_sectors or
            sectors > device.capacity_sectors - sector) return error.OutOfRange;
        var done: u64 = 0;
        while (done < destination.len) {
            const length = @min(destination.len - done, constants.block_request_bytes_max);
            try device.read_one(sector + done / sector_bytes, destination[done..][0..length]);
            done += length;
        }
        assert(done == destination.len);
    }

    /// Writes `source` (a multiple of the sector size) starting at `sector`.
    pub fn write(device: *Device, sector: u64, source: []const u8) Error!void {
        assert(source.len % sector_bytes == 0);
        if (device.read_only) return error.ReadOnly;
        const sectors = source.len / sector_bytes;
        if (sector > device.capacity_sectors or
            sectors > device.capacity_sectors - sector) return error.OutOfRange;
        var done: u64 = 0;
        while (done < source.len) {
            const length = @min(source.len - done, constants.block_request_bytes_max);
            _ = try device.request_one(
                request_type_out,
                sector + done / sector_bytes,
                @constCast(source[done..][0..length]),
            );
            done += length;
        }
    }

    /// Starts writing `source` (one request: a multiple of the sector size, at most
    /// block_request_bytes_max) at `sector` and returns without waiting: the guest goes on while
    /// the host writes. `source` must stay untouched until write_finish.
    pub fn write_start(device: *Device, sector: u64, source: []const u8) Error!void {
        assert(!device.in_flight);
        assert(source.len % sector_bytes == 0 and source.len <= constants.block_request_bytes_max);
        if (device.read_only) return error.ReadOnly;
        const sectors = source.len / sector_bytes;
        if (sector > device.capacity_sectors or
            sectors > device.capacity_sectors - sector) return error.OutOfRange;
        device.submit(request_type_out, sector, @constCast(source));
        device.in_flight = true;
    }

    /// Waits (bounded by the request timeout) for the write write_start began.
    pub fn write_finish(device: *Device) Error!void {
        assert(device.in_flight);
        device.in_flight = false;
        _ = try device.complete(request_type_out);
    }

    fn read_one(device: *Device, sector: u64, destination: []u8) Error!void {
        const written = try device.request_one(request_type_in, sector, destination);
        if (written < destination.len) return error.ShortRead;
    }

    /// One request, waited for; returns the bytes the device reports written (status byte
    /// included).
    fn request_one(device: *Device, kind: u32, sector: u64, data: []u8) Error!u32 {
        assert(!device.in_flight);
        device.submit(kind, sector, data);
        return device.complete(kind);
    }

    fn submit(device: *Device, kind: u32, sector: u64, data: []u8) void {
        assert(data.len <= constants.block_request_bytes_max);
        device.request.* = .{ .kind = kind, .reserved = 0, .sector = sector };
        device.status.* = 0xff;
        device.queue.post(&.{
            .{
                .address = @intFromPtr(device.request),
                .length = @sizeOf(RequestHeader),
                .device_writes = false,
            },
            .{
                .address = @intFromPtr(data.ptr),
                .length = @intCast(data.len),
                .device_writes = kind == request_type_in,
            },
            .{ .address = @intFromPtr(device.status), .length = 1, .device_writes = true },
        });
        device.transport.notify(0);
    }

    fn complete(device: *Device, kind: u32) Error!u32 {
        const written = device.queue.wait_used(
            cpu.rdtsc() + device.timeout_ticks,
            &cpu.rdtsc_function,
        ) orelse
            return error.Timeout;
        if (device.status.* != status_ok) return error.DeviceError;
        return if (kind == request_type_in) written -| 1 else written;
    }
};
