//! Log and trace records (docs/observability.md). Records are encoded into one buffer and leave
//! the guest in blocks written to the events device (a virtio-blk disk the host reads as a file):
//! one request per block, where the serial console would cost an exit per byte. The buffer is
//! flushed when full, when the scheduler idles, every events_flush_interval_ns while tasks run,
//! and at exit. Without an events device, records go to the console instead (text for logs,
//! `@uk:trace` records for traces).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const console = @import("../console/console.zig");
const clock_module = @import("../time/clock.zig");
const cpu = @import("../arch/x86_64/cpu.zig");
const block = @import("../drivers/virtio/block/device.zig");

pub const device_magic = "UKEVENTS";
const block_magic = "UKEB";
const block_header_bytes: u32 = 32;
const record_header_bytes: u32 = 20;

pub const Kind = enum(u8) { log = 1, span_begin = 2, span_end = 3, event = 4 };

pub const Field = struct { key: []const u8, value: []const u8 };

var device: ?*block.Device = null;
var clock: *const clock_module.Clock = undefined;
/// Block header space, then payload; sector-aligned for DMA.
var buffer: [constants.events_buffer_bytes + block_header_bytes + block.sector_bytes]u8 align(4096) = undefined;
var payload_bytes: u32 = 0;
var next_sector: u64 = 1;
var sequence: u32 = 0;
var dropped_records: u32 = 0;
/// Records dropped because the device filled up or failed (reported at exit).
pub var dropped_total: u64 = 0;
var last_flush_tsc: u64 = 0;
var flush_interval_ticks: u64 = 0;
var device_full: bool = false;

pub fn init(events_device: ?*block.Device, boot_clock: *const clock_module.Clock) void {
    device = events_device;
    clock = boot_clock;
    flush_interval_ticks = boot_clock.ticks_for_ns(constants.events_flush_interval_ns);
    last_flush_tsc = cpu.rdtsc();
}

pub fn log(task: u32, level: u8, message: []const u8, fields: []const Field) void {
    const t_ns = clock.now_ns();
    if (device == null) return log_to_console(level, message, fields);
    var size: u64 = record_header_bytes + 8 + message.len;
    for (fields) |field| size += 4 + field.key.len + field.value.len;
    const record = reserve(size) orelse return;
    header(record, .log, level, task, t_ns, size);
    std.mem.writeInt(u32, record[20..24], @intCast(message.len), .little);
    record[24] = @intCast(fields.len);
    @memset(record[25..28], 0);
    @memcpy(record[28..][0..message.len], message);
    var offset: usize = 28 + message.len;
    for (fields) |field| {
        record[offset] = @intCast(field.key.len);
        record[offset + 1] = 0;
        std.mem.writeInt(u16, record[offset + 2 ..][0..2], @intCast(field.value.len), .little);
        @memcpy(record[offset + 4 ..][0..field.key.len], field.key);
        @memcpy(record[offset + 4 + field.key.len ..][0..field.value.len], field.value);
        offset += 4 + field.key.len + field.value.len;
    }
    assert(offset == size);
}

pub fn span_begin(task: u32, span: u64, parent: u64, name: []const u8) void {
    const t_ns = clock.now_ns();
    if (device == null) {
        var safe: [constants.name_bytes_max]u8 = undefined;
        console.print("@uk:trace v=1 kind=begin span={d} parent={d} task={d} t_ns={d} name={s}\n", .{ span, parent, task, t_ns, record_safe(name, &safe) });
        return;
    }
    const size = record_header_bytes + 24 + name.len;
    const record = reserve(size) orelse return;
    header(record, .span_begin, 0, task, t_ns, size);
    std.mem.writeInt(u64, record[20..28], span, .little);
    std.mem.writeInt(u64, record[28..36], parent, .little);
    record[36] = @intCast(name.len);
    @memset(record[37..44], 0);
    @memcpy(record[44..][0..name.len], name);
}

pub fn span_end(task: u32, span: u64) void {
    const t_ns = clock.now_ns();
    if (device == null) {
        console.print("@uk:trace v=1 kind=end span={d} task={d} t_ns={d}\n", .{ span, task, t_ns });
        return;
    }
    const size = record_header_bytes + 8;
    const record = reserve(size) orelse return;
    header(record, .span_end, 0, task, t_ns, size);
    std.mem.writeInt(u64, record[20..28], span, .little);
}

pub fn event(task: u32, name: []const u8, value: u64) void {
    const t_ns = clock.now_ns();
    if (device == null) {
        var safe: [constants.name_bytes_max]u8 = undefined;
        console.print("@uk:trace v=1 kind=event value={d} task={d} t_ns={d} name={s}\n", .{ value, task, t_ns, record_safe(name, &safe) });
        return;
    }
    const size = record_header_bytes + 16 + name.len;
    const record = reserve(size) orelse return;
    header(record, .event, 0, task, t_ns, size);
    std.mem.writeInt(u64, record[20..28], value, .little);
    record[28] = @intCast(name.len);
    @memset(record[29..36], 0);
    @memcpy(record[36..][0..name.len], name);
}

/// Called at scheduling points: flushes a non-empty buffer older than the flush interval.
pub fn maybe_flush() void {
    if (payload_bytes == 0) return;
    if (cpu.rdtsc() - last_flush_tsc < flush_interval_ticks) return;
    flush(false);
}

/// Writes the buffered records as one block (final: the last block of the run).
pub fn flush(final: bool) void {
    last_flush_tsc = cpu.rdtsc();
    const events_device = device orelse return;
    if (payload_bytes == 0 and !final) return;
    if (device_full) {
        dropped_total += dropped_records;
        dropped_records = 0;
        payload_bytes = 0;
        return;
    }
    const payload = buffer[block_header_bytes..][0..payload_bytes];
    const total = std.mem.alignForward(u64, block_header_bytes + payload_bytes, block.sector_bytes);
    @memcpy(buffer[0..4], block_magic);
    std.mem.writeInt(u16, buffer[4..6], 1, .little);
    std.mem.writeInt(u16, buffer[6..8], if (final) 1 else 0, .little);
    std.mem.writeInt(u32, buffer[8..12], sequence, .little);
    std.mem.writeInt(u32, buffer[12..16], payload_bytes, .little);
    std.mem.writeInt(u32, buffer[16..20], dropped_records, .little);
    std.mem.writeInt(u32, buffer[20..24], std.hash.Crc32.hash(payload), .little);
    @memset(buffer[24..32], 0);
    @memset(buffer[block_header_bytes + payload_bytes .. total], 0);
    const sectors = total / block.sector_bytes;
    // Keep the last sector free so the host always finds an end.
    if (next_sector + sectors >= events_device.capacity_sectors) {
        device_full = true;
        dropped_total += dropped_records + count_records(payload);
        dropped_records = 0;
        payload_bytes = 0;
        return;
    }
    events_device.write(next_sector, buffer[0..total]) catch {
        device_full = true;
        dropped_total += dropped_records + count_records(payload);
    };
    next_sector += sectors;
    sequence +%= 1;
    dropped_records = 0;
    payload_bytes = 0;
}

/// Room for a record of `size` bytes in the buffer (flushing first if needed), or null when the
/// record is dropped (and counted).
fn reserve(size: u64) ?[]u8 {
    assert(size >= record_header_bytes);
    if (size > constants.events_buffer_bytes) {
        dropped_records += 1;
        return null;
    }
    if (payload_bytes + size > constants.events_buffer_bytes) flush(false);
    if (payload_bytes + size > constants.events_buffer_bytes) {
        dropped_records += 1;
        return null;
    }
    const record = buffer[block_header_bytes + payload_bytes ..][0..size];
    payload_bytes += @intCast(size);
    return record;
}

fn header(record: []u8, kind: Kind, level: u8, task: u32, t_ns: u64, size: u64) void {
    std.mem.writeInt(u32, record[0..4], @intCast(size), .little);
    record[4] = @intFromEnum(kind);
    record[5] = level;
    @memset(record[6..8], 0);
    std.mem.writeInt(u32, record[8..12], task, .little);
    std.mem.writeInt(u64, record[12..20], t_ns, .little);
}

fn count_records(payload: []const u8) u64 {
    var count: u64 = 0;
    var offset: usize = 0;
    while (offset + 4 <= payload.len) : (count += 1) {
        const size = std.mem.readInt(u32, payload[offset..][0..4], .little);
        if (size < record_header_bytes) break;
        offset += size;
    }
    return count;
}

fn log_to_console(level: u8, message: []const u8, fields: []const Field) void {
    const names = [_][]const u8{ "debug", "info", "warn", "error" };
    var line: [constants.console_line_bytes_max]u8 = undefined;
    var writer = std.Io.Writer.fixed(&line);
    writer.print("{s}: {s}", .{ names[level], message }) catch {};
    for (fields) |field| writer.print(" {s}={s}", .{ field.key, field.value }) catch {};
    writer.writeByte('\n') catch {};
    console.write(writer.buffered());
}

/// A name reduced to the console record grammar (others become '_'), never empty.
fn record_safe(name: []const u8, out: *[constants.name_bytes_max]u8) []const u8 {
    if (name.len == 0) return "_";
    const length = @min(name.len, out.len);
    for (name[0..length], out[0..length]) |character, *safe| {
        safe.* = if (std.ascii.isAlphanumeric(character) or std.mem.indexOfScalar(u8, "_.:-/", character) != null) character else '_';
    }
    return out[0..length];
}

test "record_safe keeps the console grammar" {
    var out: [constants.name_bytes_max]u8 = undefined;
    try std.testing.expectEqualStrings("a_b.c:d", record_safe("a b.c:d", &out));
    try std.testing.expectEqualStrings("_", record_safe("", &out));
    try std.testing.expectEqualStrings("__", record_safe("\x1b\n", &out));
}
