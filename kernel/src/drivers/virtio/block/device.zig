//! virtio-blk (device id 2): reads sectors, synchronously. One request in flight: a 16-byte
//! header (type IN, sector), the data buffer, and a status byte, as a three-descriptor chain.
//! The kernel only reads the image disk, so only IN requests exist.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../../constants.zig");
const cpu = @import("../../../arch/x86_64/cpu.zig");
const pages = @import("../../../memory/pages.zig");
const mmio = @import("../mmio.zig");
const Queue = @import("../queue.zig").Queue;

pub const sector_bytes: u64 = 512;

const request_type_in: u32 = 0;
const status_ok: u8 = 0;
const feature_read_only: u64 = 1 << 5;
const config_capacity_offset: u64 = 0;

const RequestHeader = extern struct { kind: u32, reserved: u32, sector: u64 };

pub const Error = error{
    SetupFailed,
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
        if (sector > device.capacity_sectors or sectors > device.capacity_sectors - sector) return error.OutOfRange;
        var done: u64 = 0;
        while (done < destination.len) {
            const length = @min(destination.len - done, constants.block_request_bytes_max);
            try device.read_one(sector + done / sector_bytes, destination[done..][0..length]);
            done += length;
        }
        assert(done == destination.len);
    }

    fn read_one(device: *Device, sector: u64, destination: []u8) Error!void {
        assert(destination.len <= constants.block_request_bytes_max);
        device.request.* = .{ .kind = request_type_in, .reserved = 0, .sector = sector };
        device.status.* = 0xff;
        device.queue.post(&.{
            .{ .address = @intFromPtr(device.request), .length = @sizeOf(RequestHeader), .device_writes = false },
            .{ .address = @intFromPtr(destination.ptr), .length = @intCast(destination.len), .device_writes = true },
            .{ .address = @intFromPtr(device.status), .length = 1, .device_writes = true },
        });
        device.transport.notify(0);
        const written = device.queue.wait_used(cpu.rdtsc() + device.timeout_ticks, &cpu.rdtsc_function) orelse
            return error.Timeout;
        if (device.status.* != status_ok) return error.DeviceError;
        if (written < destination.len) return error.ShortRead;
    }
};
