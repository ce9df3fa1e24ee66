//! The events channel (docs/observability.md): the workload's console output, its log and trace
//! records, and the kernel's own `@uk:` records are encoded into one buffer and leave the guest
//! in blocks written to the events device (a virtio-blk disk the host reads as a file): one
//! request per block, where the serial console would cost an exit per byte. The buffer is
//! flushed when full, when the scheduler idles (at most every events_flush_interval_ns), every
//! events_flush_interval_ns while tasks run (checked at every ABI call that adds a record), and
//! at exit.
//!
//! Only the kernel writes here, so a workload cannot forge the kernel's records: its console
//! bytes travel in `console` records, never parsed as records on the host. Without an events
//! device everything goes to the serial console instead (console.zig escapes workload lines
//! there so that they cannot parse as records either).

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const console = @import("../console/console.zig");
const clock_module = @import("../time/clock.zig");
const cpu = @import("../arch/x86_64/cpu.zig");
const block = @import("../drivers/virtio/block/device.zig");

// The device layout is shared with the CLI's decoder: generated from abi/contracts.json.
const contract = @import("../abi/contracts.zig").events;
pub const device_magic = contract.device_magic;
const block_magic = contract.block_magic;
const block_header_bytes: u32 = contract.block_header.bytes;
const record_header_bytes: u32 = contract.record_header.bytes;

/// console: workload console output (io.write on the console handle), raw bytes, any content.
/// kernel: a kernel record, one `@uk:` line (docs/console-protocol.md), without its newline.
pub const Kind = contract.RecordKind;

/// Console and kernel records: `u32 text_bytes`, 4 bytes zero, then the text.
const text_record_header_bytes: u32 = contract.text_record.bytes;
comptime {
    assert(contract.text_record.header.bytes == record_header_bytes);
    assert(contract.sector_bytes == block.sector_bytes);
}

pub const Field = struct { key: []const u8, value: []const u8 };

var device: ?*block.Device = null;
const clock = &clock_module.global;
/// Block header space, then payload; sector-aligned for DMA. Two of them: records go into one
/// while the other is being written.
const Buffer = [constants.events_buffer_bytes + block_header_bytes + block.sector_bytes]u8;
var buffers: [2]Buffer align(4096) = undefined;
var active: u1 = 0;
/// Records in the block being written (lost if the write fails).
var in_flight_records: u64 = 0;
var payload_bytes: u32 = 0;
var next_sector: u64 = 1;
var sequence: u32 = 0;
var dropped_records: u32 = 0;
/// Records dropped because the device filled up or failed (reported at exit).
pub var dropped_total: u64 = 0;
var last_flush_tsc: u64 = 0;
var flush_interval_ticks: u64 = 0;
var device_full: bool = false;
/// Set when a write to the device failed (an I/O error from the host, e.g. its disk is full),
/// as opposed to the device's capacity being used up; reported in the exit record.
pub var write_failed: bool = false;
/// Offset in the payload of the last record when it is a console record that may grow (the
/// same task wrote again before anything else was recorded), else null.
var console_tail: ?struct { offset: u32, task: u32 } = null;

/// Sets up the events device the first time a block must leave, when the kernel found one but
/// left it alone so far: its set-up costs some twenty MMIO exits (~0.8 ms under nested KVM),
/// which the workload's start need not wait for. Returns the device, or null when the disk is
/// not an events device after all.
pub const Attach = *const fn () ?*block.Device;
var attach: ?Attach = null;

/// `events_device`: set up already; `later`: a disk to set up at the first flush; neither: no
/// events channel (records go to the serial console).
pub fn init(events_device: ?*block.Device, later: ?Attach) void {
    assert(payload_bytes == 0);
    assert(events_device == null or later == null);
    device = events_device;
    attach = later;
    if (has_channel()) console.mark_hook = &mark_needed;
    flush_interval_ticks = clock.ticks_for_ns(constants.events_flush_interval_ns);
    last_flush_tsc = cpu.rdtsc();
}

/// Records go to the events device (now or once it is set up), not to the serial console.
fn has_channel() bool {
    return device != null or attach != null;
}

/// The device, set up on first use; null when there is none.
fn device_now() ?*block.Device {
    if (device) |events_device| return events_device;
    const attach_device = attach orelse return null;
    attach = null;
    device = attach_device();
    if (device == null) channel_lost();
    return device;
}

/// The disk set aside for events was not one: what the buffer holds goes to the serial console
/// (kernel records as records, output escaped; log and trace records are counted as dropped),
/// and so does everything after.
fn channel_lost() void {
    assert(device == null and attach == null);
    console.mark_hook = null;
    const payload = current_payload();
    var offset: usize = 0;
    var records: u32 = 0;
    const records_max = payload.len / record_header_bytes;
    const end = payload.len;
    while (offset + text_record_header_bytes <= end and records < records_max) : (records += 1) {
        const size = std.mem.readInt(u32, payload[offset..][0..4], .little);
        if (size < record_header_bytes or size > payload.len - offset) break;
        const record = payload[offset..][0..size];
        const text = record[text_record_header_bytes..];
        switch (record[4]) {
            // kernel_record wrote it: a `@uk:` line within console_line_bytes_max.
            @intFromEnum(Kind.kernel) => console.write_record(text),
            @intFromEnum(Kind.console) => console.write_workload(text),
            else => dropped_total += 1,
        }
        offset += size;
    }
    payload_bytes = 0;
    console_tail = null;
}

/// The bytes of a log record with this message and these fields.
pub fn log_record_bytes(message: []const u8, fields: []const Field) u64 {
    var size: u64 = record_header_bytes + 8 + message.len;
    for (fields) |field| size += 4 + field.key.len + field.value.len;
    assert(size >= record_header_bytes);
    return size;
}

/// Whether such a log record fits an events block at all (a larger one would be dropped):
/// log.write refuses it with too_large instead.
pub fn log_record_fits(message: []const u8, fields: []const Field) bool {
    return log_record_bytes(message, fields) <= constants.events_buffer_bytes;
}

pub fn log(task: u32, level: u8, message: []const u8, fields: []const Field) void {
    const t_ns = clock.now_ns();
    if (!has_channel()) return log_to_console(level, message, fields);
    const size = log_record_bytes(message, fields);
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
    if (!has_channel()) {
        var safe: [constants.name_bytes_max]u8 = undefined;
        trace_to_console(
            "kind=begin span={d} parent={d} task={d} t_ns={d} name={s}",
            .{ span, parent, task, t_ns, record_safe(name, &safe) },
        );
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
    if (!has_channel()) {
        trace_to_console("kind=end span={d} task={d} t_ns={d}", .{ span, task, t_ns });
        return;
    }
    const size = record_header_bytes + 8;
    const record = reserve(size) orelse return;
    header(record, .span_end, 0, task, t_ns, size);
    std.mem.writeInt(u64, record[20..28], span, .little);
}

pub fn event(task: u32, name: []const u8, value: u64) void {
    const t_ns = clock.now_ns();
    if (!has_channel()) {
        var safe: [constants.name_bytes_max]u8 = undefined;
        trace_to_console(
            "kind=event value={d} task={d} t_ns={d} name={s}",
            .{ value, task, t_ns, record_safe(name, &safe) },
        );
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

/// Records written since boot, and that count when serial text was last stamped.
var records_written: u64 = 0;
var records_marked: u64 = 0;

/// console.mark_hook: serial text needs a time stamp when records went out since the last one.
fn mark_needed() ?u64 {
    if (records_written == records_marked) return null;
    records_marked = records_written;
    return clock.now_ns();
}

/// The workload's console output. Consecutive writes of one task grow one record. Returns false
/// when there is no events device (the caller then uses the serial console). When the device
/// is full or failed the bytes are dropped and counted: they never go to the serial console,
/// which carries only the kernel's own output while an events device is attached.
pub fn console_output(task: u32, bytes: []const u8) bool {
    if (!has_channel()) return false;
    const chunk_bytes_max = constants.events_buffer_bytes - text_record_header_bytes;
    var rest = bytes;
    var chunks: u32 = 0;
    const chunks_max = bytes.len / chunk_bytes_max + 1;
    while (rest.len > 0 and chunks < chunks_max) : (chunks += 1) {
        const length: u32 = @intCast(@min(rest.len, chunk_bytes_max));
        if (!console_grow(task, rest[0..length])) console_record(task, rest[0..length]);
        rest = rest[length..];
    }
    assert(rest.len == 0);
    maybe_flush();
    return true;
}

/// Appends to the last record when it is this task's console record and there is room.
fn console_grow(task: u32, bytes: []const u8) bool {
    const tail = console_tail orelse return false;
    if (tail.task != task or device_full) return false;
    if (payload_bytes + bytes.len > constants.events_buffer_bytes) return false;
    const record = current()[block_header_bytes + tail.offset ..];
    const size = std.mem.readInt(u32, record[0..4], .little);
    assert(tail.offset + size == payload_bytes);
    @memcpy(current()[block_header_bytes + payload_bytes ..][0..bytes.len], bytes);
    payload_bytes += @intCast(bytes.len);
    records_written += 1;
    std.mem.writeInt(u32, record[0..4], size + @as(u32, @intCast(bytes.len)), .little);
    const text_bytes = std.mem.readInt(u32, record[20..24], .little);
    std.mem.writeInt(u32, record[20..24], text_bytes + @as(u32, @intCast(bytes.len)), .little);
    return true;
}

fn console_record(task: u32, bytes: []const u8) void {
    const t_ns = clock.now_ns();
    const record = reserve(text_record_header_bytes + bytes.len) orelse return;
    const offset: u32 = @intCast(record.ptr - current()[block_header_bytes..].ptr);
    text_record(record, .console, task, t_ns, bytes);
    console_tail = .{ .offset = offset, .task = task };
}

/// A kernel `@uk:` record (without its newline). False when it could not be recorded (no
/// device, device full or failed, or called in ring 0, where the device is not driven): the
/// caller then sends it on the serial console, which only the kernel writes while an events
/// device is attached.
pub fn kernel_record(line: []const u8) bool {
    assert(line.len > 0 and line[line.len - 1] != '\n');
    assert(line.len <= constants.console_line_bytes_max);
    if (!has_channel() or device_full or !cpu.in_ring3()) return false;
    const t_ns = clock.now_ns();
    const record = reserve(text_record_header_bytes + line.len) orelse return false;
    if (device_full) return false; // reserve() flushed and the device filled up
    text_record(record, .kernel, 0, t_ns, line);
    return true;
}

pub fn text_record(record: []u8, kind: Kind, task: u32, t_ns: u64, text: []const u8) void {
    assert(record.len == text_record_header_bytes + text.len);
    header(record, kind, 0, task, t_ns, record.len);
    std.mem.writeInt(u32, record[20..24], @intCast(text.len), .little);
    @memset(record[24..28], 0);
    @memcpy(record[28..][0..text.len], text);
}

/// The CPU is about to idle: flushes the buffer if the last flush is at least the flush interval
/// old, and returns when the rest must go (TSC; maxInt when nothing is buffered). So a server
/// that idles between requests sends its per-request records in one block per interval, not in
/// a block (a virtio-blk write, and a sector of the events device) per request.
pub fn flush_when_idle() u64 {
    if (payload_bytes == 0 or device_now() == null) return std.math.maxInt(u64);
    const due = last_flush_tsc +| flush_interval_ticks;
    if (cpu.rdtsc() < due) return due;
    flush(false);
    return std.math.maxInt(u64);
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
    console_tail = null;
    const events_device = device_now() orelse return;
    if (payload_bytes == 0 and !final) return;
    if (!device_full) {
        const total = seal(final);
        const sectors = total / block.sector_bytes;
        // Keep the last sector free so the host always finds an end.
        if (next_sector + sectors >= events_device.capacity_sectors) device_full = true;
        finish_in_flight(events_device); // one block in flight at a time
        if (!device_full) submit(events_device, current()[0..total], sectors);
    }
    if (device_full) dropped_total += dropped_records + count_records(current_payload());
    dropped_records = 0;
    payload_bytes = 0;
    if (final) finish_in_flight(events_device);
    assert(!final or !events_device.in_flight);
}

/// Writes the block header in front of the buffered records; returns the block's size.
fn seal(final: bool) u64 {
    const block_bytes = current();
    const payload = current_payload();
    const total = std.mem.alignForward(u64, block_header_bytes + payload_bytes, block.sector_bytes);
    assert(total <= block_bytes.len);
    @memcpy(block_bytes[0..4], block_magic);
    std.mem.writeInt(u16, block_bytes[4..6], contract.block_version, .little);
    std.mem.writeInt(u16, block_bytes[6..8], if (final) contract.block_flag_final else 0, .little);
    std.mem.writeInt(u32, block_bytes[8..12], sequence, .little);
    std.mem.writeInt(u32, block_bytes[12..16], payload_bytes, .little);
    std.mem.writeInt(u32, block_bytes[16..20], dropped_records, .little);
    std.mem.writeInt(u32, block_bytes[20..24], std.hash.Crc32.hash(payload), .little);
    // When the block left: with the host's arrival time this dates kernel entry on the host.
    std.mem.writeInt(u64, block_bytes[24..32], clock.now_ns(), .little);
    @memset(block_bytes[block_header_bytes + payload_bytes .. total], 0);
    return total;
}

/// Starts writing the sealed block and switches to the other buffer: the guest goes on filling
/// it while the host writes this one.
fn submit(events_device: *block.Device, block_bytes: []const u8, sectors: u64) void {
    assert(!events_device.in_flight);
    const records = dropped_records + count_records(current_payload());
    events_device.write_start(next_sector, block_bytes) catch {
        device_full = true;
        write_failed = true;
        return;
    };
    in_flight_records = records;
    next_sector += sectors;
    sequence +%= 1;
    active = 1 - active;
}

/// Waits for the block in flight; if the host failed to write it, its records are lost.
fn finish_in_flight(events_device: *block.Device) void {
    if (!events_device.in_flight) return;
    events_device.write_finish() catch {
        device_full = true;
        write_failed = true;
        dropped_total += in_flight_records;
    };
    in_flight_records = 0;
}

fn current() *Buffer {
    return &buffers[active];
}

fn current_payload() []const u8 {
    return current()[block_header_bytes..][0..payload_bytes];
}

/// Room for a record of `size` bytes in the buffer (flushing first if needed), or null when the
/// record is dropped (and counted).
fn reserve(size: u64) ?[]u8 {
    assert(size >= record_header_bytes);
    console_tail = null;
    if (size > constants.events_buffer_bytes) {
        dropped_records += 1;
        return null;
    }
    if (payload_bytes + size > constants.events_buffer_bytes) flush(false);
    if (payload_bytes + size > constants.events_buffer_bytes) {
        dropped_records += 1;
        return null;
    }
    const record = current()[block_header_bytes + payload_bytes ..][0..size];
    payload_bytes += @intCast(size);
    records_written += 1;
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
    console.write_workload(writer.buffered());
}

/// A `@uk:trace` record on the console (no events device). The names in it are reduced to the
/// record grammar by record_safe, so the line always fits.
fn trace_to_console(comptime format: []const u8, arguments: anytype) void {
    var line: [constants.console_line_bytes_max]u8 = undefined;
    var writer = std.Io.Writer.fixed(&line);
    writer.print(
        "@uk:trace v={d} " ++ format,
        .{constants.console_protocol_version} ++ arguments,
    ) catch
        unreachable;
    console.write_record(writer.buffered());
}

/// A name reduced to the console record grammar (others become '_'), never empty.
fn record_safe(name: []const u8, out: *[constants.name_bytes_max]u8) []const u8 {
    if (name.len == 0) return "_";
    const length = @min(name.len, out.len);
    for (name[0..length], out[0..length]) |character, *safe| {
        const punctuation = std.mem.indexOfScalar(u8, "_.:-/", character) != null;
        safe.* = if (std.ascii.isAlphanumeric(character) or punctuation) character else '_';
    }
    return out[0..length];
}

test "record_safe keeps the console grammar" {
    var out: [constants.name_bytes_max]u8 = undefined;
    try std.testing.expectEqualStrings("a_b.c:d", record_safe("a b.c:d", &out));
    try std.testing.expectEqualStrings("_", record_safe("", &out));
    try std.testing.expectEqualStrings("__", record_safe("\x1b\n", &out));
}
