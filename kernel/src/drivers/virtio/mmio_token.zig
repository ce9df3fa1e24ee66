//! `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` command-line tokens: how both VMMs announce
//! virtio-mmio devices. Firecracker writes `4K@0xc0001000:5`, QEMU microvm `512@0xfeb00e00:12`.
//! Sizes take K/M/G suffixes; numbers may be decimal or 0x-hex. Pure code, host-tested.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../../constants.zig");
const cmdline_module = @import("../../boot/cmdline.zig");
const Cmdline = cmdline_module.Cmdline;

pub const key = "virtio_mmio.device";

pub const Device = struct {
    base: u64,
    size: u64,
    irq: u32,
};

pub const ParseError = error{ MissingAt, MissingIrq, BadSize, BadBase, BadIrq, OutsideMmioWindow };

pub fn parse(value: []const u8) ParseError!Device {
    const at = std.mem.indexOfScalar(u8, value, '@') orelse return error.MissingAt;
    const size = parse_size(value[0..at]) orelse return error.BadSize;
    const rest = value[at + 1 ..];
    const colon = std.mem.indexOfScalar(u8, rest, ':') orelse return error.MissingIrq;
    const base = parse_number(rest[0..colon]) orelse return error.BadBase;
    // An optional platform-device id may follow the IRQ (Linux syntax); it is ignored.
    const irq_text = rest[colon + 1 ..];
    const irq_end = std.mem.indexOfScalar(u8, irq_text, ':') orelse irq_text.len;
    const irq = parse_number(irq_text[0..irq_end]) orelse return error.BadIrq;
    if (irq > 255) return error.BadIrq;
    if (base < constants.mmio_window_base) return error.OutsideMmioWindow;
    if (base + size > constants.identity_map_bytes) return error.OutsideMmioWindow;
    assert(size > 0);
    return .{ .base = base, .size = size, .irq = @intCast(irq) };
}

fn parse_size(text: []const u8) ?u64 {
    if (text.len == 0) return null;
    const shift: u6 = switch (text[text.len - 1]) {
        'k', 'K' => 10,
        'm', 'M' => 20,
        'g', 'G' => 30,
        else => 0,
    };
    const digits = if (shift == 0) text else text[0 .. text.len - 1];
    const number = parse_number(digits) orelse return null;
    if (number == 0) return null;
    if (number > (@as(u64, 1) << 32)) return null;
    return number << shift;
}

fn parse_number(text: []const u8) ?u64 {
    if (text.len == 0) return null;
    if (std.mem.startsWith(u8, text, "0x") or std.mem.startsWith(u8, text, "0X")) {
        if (text.len == 2) return null;
        return std.fmt.parseUnsigned(u64, text[2..], 16) catch null;
    }
    return std.fmt.parseUnsigned(u64, text, 10) catch null;
}

/// The devices announced on a command line, in order, at most virtio_devices_max. Malformed
/// tokens are counted in `rejected` and otherwise skipped.
pub const DeviceList = struct {
    devices: [constants.virtio_devices_max]Device = undefined,
    count: u32 = 0,
    rejected: u32 = 0,
    dropped: u32 = 0,

    /// Fills `list` in place from the command line.
    pub fn parse_cmdline(list: *DeviceList, cmdline: Cmdline) void {
        list.count = 0;
        list.rejected = 0;
        list.dropped = 0;
        // Anywhere on the line: QEMU appends them after a ` -- `.
        var tokens = cmdline.all_tokens();
        while (tokens.next()) |token| {
            const parsed = cmdline_module.split_token(token);
            if (!std.mem.eql(u8, parsed.key, key)) continue;
            const device = parse(parsed.value) catch {
                list.rejected += 1;
                continue;
            };
            if (list.count == list.devices.len) {
                list.dropped += 1;
                continue;
            }
            list.devices[list.count] = device;
            list.count += 1;
        }
        assert(list.count <= constants.virtio_devices_max);
    }

    pub fn slice(list: *const DeviceList) []const Device {
        return list.devices[0..list.count];
    }
};

const testing = std.testing;

test "firecracker token" {
    const device = try parse("4K@0xc0001000:5");
    try testing.expectEqual(@as(u64, 0xc0001000), device.base);
    try testing.expectEqual(@as(u64, 4096), device.size);
    try testing.expectEqual(@as(u32, 5), device.irq);
}

test "qemu microvm token" {
    const device = try parse("512@0xfeb00e00:12");
    try testing.expectEqual(@as(u64, 0xfeb00e00), device.base);
    try testing.expectEqual(@as(u64, 512), device.size);
    try testing.expectEqual(@as(u32, 12), device.irq);
}

test "suffixes, hex sizes and a trailing platform id" {
    try testing.expectEqual(@as(u64, 1 << 20), (try parse("1M@0xd0000000:6")).size);
    try testing.expectEqual(@as(u64, 0x200), (try parse("0x200@0xfeb00000:5:3")).size);
}

test "malformed tokens are rejected with a reason" {
    try testing.expectError(error.MissingAt, parse("4K"));
    try testing.expectError(error.BadSize, parse("@0xc0001000:5"));
    try testing.expectError(error.BadSize, parse("0@0xc0001000:5"));
    try testing.expectError(error.BadSize, parse("4Q@0xc0001000:5"));
    try testing.expectError(error.MissingIrq, parse("4K@0xc0001000"));
    try testing.expectError(error.BadBase, parse("4K@0x:5"));
    try testing.expectError(error.BadBase, parse("4K@zz:5"));
    try testing.expectError(error.BadIrq, parse("4K@0xc0001000:"));
    try testing.expectError(error.BadIrq, parse("4K@0xc0001000:999"));
    try testing.expectError(error.OutsideMmioWindow, parse("4K@0x1000:5"));
    try testing.expectError(error.OutsideMmioWindow, parse("4K@0xfffff800:5"));
    try testing.expectError(error.BadSize, parse("99999999999999999999@0xc0001000:5"));
}

test "device list from a command line keeps order and counts rejects" {
    const cmdline = Cmdline.init("console=ttyS0 virtio_mmio.device=512@0xfeb00e00:12 " ++
        "virtio_mmio.device=bogus virtio_mmio.device=512@0xfeb00c00:11 -- app " ++
        "virtio_mmio.device=4K@0xc0001000:5");
    var list: DeviceList = undefined;
    list.parse_cmdline(cmdline);
    try testing.expectEqual(@as(u32, 3), list.count);
    try testing.expectEqual(@as(u64, 0xc0001000), list.slice()[2].base);
    try testing.expectEqual(@as(u32, 1), list.rejected);
    try testing.expectEqual(@as(u64, 0xfeb00e00), list.slice()[0].base);
    try testing.expectEqual(@as(u64, 0xfeb00c00), list.slice()[1].base);
}

test "the disk tokens QEMU appends are found after thousands of other tokens" {
    // Once, tokens past the 256th were dropped: the disks vanished and the run "succeeded".
    const device_token = "virtio_mmio.device=512@0xfeb00e00:12";
    var buffer: [constants.cmdline_bytes_max]u8 = undefined;
    for (&buffer, 0..) |*byte, index| byte.* = if (index % 2 == 0) 'a' else ' ';
    const start = buffer.len - device_token.len - 4;
    @memcpy(buffer[start..][0..4], " -- ");
    @memcpy(buffer[start + 4 ..][0..device_token.len], device_token);
    var list: DeviceList = undefined;
    list.parse_cmdline(Cmdline.init(&buffer));
    try testing.expectEqual(@as(u32, 1), list.count);
    try testing.expectEqual(@as(u64, 0xfeb00e00), list.slice()[0].base);
    try testing.expectEqual(@as(u32, 0), list.rejected);
}
