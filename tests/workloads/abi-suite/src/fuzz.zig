//! `fuzz N SEED`: N random calls with random arguments (deterministic for a seed): handles drawn
//! from the ones this task created (live and released), the console, small and extreme numbers;
//! pointers valid (inside our own buffers, the first and last bytes of the first task's stack)
//! or invalid (null, page 0, the kernel half, non-canonical, past 4 GiB, wrapping ranges,
//! lengths of 2^40 and 2^64-1, the task stacks' guard pages and ranges running into them from
//! either side); flags, sizes and
//! alignments in and out of range. task.exit is never called from the first task.
//!
//! It must terminate, so blocking is only ever asked for when it cannot last: a model of every
//! channel this task created (capacity, messages queued, closed) decides whether a send or a
//! receive may block; joins wait for ever only on tasks that always end; poll and join timeouts
//! are at most 50 µs. Meanwhile background workers yield, sleep, poll and exchange messages, and
//! random short-lived tasks run, so the calls also meet a busy scheduler.
//!
//! Output that reaches the host (console writes, log and trace records) has a budget, so a run
//! costs the same whatever the seed; once spent, those calls get invalid arguments only.
//!
//! Prints `fuzz: calls=N errors=K`, then details. Exits 0 unless a contract the kernel must keep
//! broke (memory not zeroed or misaligned, the clock going backwards, a channel losing,
//! inventing or reordering its state against the model, a worker that never finishes): then it
//! prints `FAIL fuzz: …` lines and exits 1.

const std = @import("std");
const ukernel = @import("ukernel");
const sys = @import("sys.zig");
const fuzz_net = @import("fuzz_net.zig");
const abi = sys.abi;
const E = abi.Error;

const us: u64 = 1000;
/// Fuzz tasks end within microseconds; "waiting for ever" on one is bounded by this, so a kernel
/// that loses a task's end shows up as a FAIL line, not as a hang.
const join_bound_ns: u64 = 2_000_000_000;

// ---- Buffers ------------------------------------------------------------------------------------

/// Valid memory the kernel may read from or write to.
var scratch: [128 * 1024]u8 align(4096) = undefined;
/// Valid printable memory for anything that reaches the host.
var text: [256]u8 align(64) = undefined;
var items_buffer: [16]abi.PollItem = undefined;
var fields_buffer: [20]abi.LogField = undefined;

// ---- The model of what this task created ----------------------------------------------------------

const Kind = enum { channel, file, arena, task, worker, foreign };
const Entry = struct {
    handle: u32,
    kind: Kind,
    capacity: u32 = 0,
    message_max: u32 = 0,
    queued: u32 = 0,
    closed: bool = false,
};
var entries: [512]Entry = undefined;
var entry_count: usize = 0;
var stale: [16]u32 = .{0} ** 16;
var stale_next: usize = 0;

fn find(h: u32) ?*Entry {
    for (entries[0..entry_count]) |*entry| if (entry.handle == h) return entry;
    return null;
}
fn add(entry: Entry) void {
    if (find(entry.handle)) |old| {
        old.* = entry;
        return;
    }
    if (entry_count == entries.len) {
        failure("model", "more than {d} live handles", .{entries.len});
        return;
    }
    entries[entry_count] = entry;
    entry_count += 1;
}
fn remove(h: u32) void {
    for (entries[0..entry_count], 0..) |entry, index| if (entry.handle == h) {
        entries[index] = entries[entry_count - 1];
        entry_count -= 1;
        stale[stale_next % stale.len] = h;
        stale_next += 1;
        return;
    };
}

const Allocation = struct { address: u64, bytes: u64 };
var allocations: [128]Allocation = undefined;
var allocation_count: usize = 0;
var spans: [256]u64 = undefined;
var span_count: usize = 0;

// ---- Counters -----------------------------------------------------------------------------------

var calls: u64 = 0;
var errors: u64 = 0;
var undocumented: u64 = 0;
var anomalies: u64 = 0;
var output_budget: i64 = 1500;
var spawned: u64 = 0;
var last_now: u64 = 0;
var per_call = [_]u64{0} ** abi.calls.len;

/// Anomalies by what they concern, for the summary (the first 20 are printed in full).
var anomaly_kinds: [16][]const u8 = undefined;
var anomaly_counts: [16]u64 = .{0} ** 16;
var anomaly_kind_count: usize = 0;

fn failure(what: []const u8, comptime format: []const u8, arguments: anytype) void {
    anomalies += 1;
    for (anomaly_kinds[0..anomaly_kind_count], 0..) |kind, index| {
        if (std.mem.eql(u8, kind, what)) {
            anomaly_counts[index] += 1;
            break;
        }
    } else if (anomaly_kind_count < anomaly_kinds.len) {
        anomaly_kinds[anomaly_kind_count] = what;
        anomaly_counts[anomaly_kind_count] = 1;
        anomaly_kind_count += 1;
    }
    if (anomalies > 20) return;
    var buffer: [400]u8 = undefined;
    const why = std.fmt.bufPrint(&buffer, format, arguments) catch "…";
    ukernel.print("FAIL fuzz: {s}: {s} (after {d} calls)\n", .{ what, why, calls });
}

/// Counts a call and checks its error is one the definition lists for it.
fn result(comptime call: []const u8, value: i64, comptime allowed: []const E) i64 {
    return result_of(call, value, allowed);
}

/// result, for names known at run time only (fuzz_net.zig's calls).
fn result_of(call: []const u8, value: i64, allowed: []const E) i64 {
    calls += 1;
    for (abi.calls, 0..) |c, index| {
        if (std.mem.eql(u8, c.name, call)) per_call[index] += 1;
    }
    if (value >= 0) return value;
    errors += 1;
    for (allowed) |code| if (value == sys.err(code)) return value;
    undocumented += 1;
    // The net.* calls list every error they return: any other is a broken contract.
    if (std.mem.startsWith(u8, call, "net.")) failure(call, "returned {s}, not in its documented errors", .{sys.name(value)});
    if (undocumented <= 10) ukernel.print("note fuzz: {s} returned {s} ({d}), not in its documented errors\n", .{ call, sys.name(value), value });
    return value;
}

fn net_failure(what: []const u8, message: []const u8, value: u64) void {
    failure(what, "{s} ({d})", .{ message, value });
}

fn net_range(rng: *sys.Rng, length_max: u64) fuzz_net.Range {
    const r = scratch_range(rng, length_max);
    return .{ .pointer = r.pointer, .length = r.length, .valid = r.valid };
}

// ---- Argument generators ----------------------------------------------------------------------------

const Range = struct { pointer: u64, length: u64, valid: bool };

/// The first task's stack and the guard pages around the task stacks (sys.stack_layout).
var layout: sys.StackLayout = undefined;

/// A buffer: mostly valid (inside [base, base+capacity)), else one of the invalid kinds.
fn range(rng: *sys.Rng, base: u64, capacity: u64, length_max: u64) Range {
    const length = rng.below(@min(capacity, length_max) + 1);
    return switch (rng.below(32)) {
        0 => .{ .pointer = 0, .length = 1 + rng.below(64), .valid = false },
        1 => .{ .pointer = 8, .length = 1 + rng.below(64), .valid = false },
        2 => .{ .pointer = sys.p_high, .length = 1 + rng.below(64), .valid = false },
        3 => .{ .pointer = sys.p_noncanonical + rng.below(4096), .length = 1 + rng.below(64), .valid = false },
        4 => .{ .pointer = sys.p_unmapped + rng.below(1 << 20), .length = 1 + rng.below(64), .valid = false },
        5 => .{ .pointer = sys.max_u64 - 15, .length = 32, .valid = false },
        6 => .{ .pointer = base, .length = 1 << 40, .valid = false },
        7 => .{ .pointer = base + 1, .length = sys.max_u64, .valid = false },
        8 => .{ .pointer = (4 << 30) - 8, .length = 64, .valid = false },
        9 => .{ .pointer = 4095, .length = 2, .valid = false },
        10...16 => stack_range(rng),
        else => blk: {
            const offset = rng.below(capacity - length + 1);
            break :blk .{ .pointer = base + offset, .length = length, .valid = true };
        },
    };
}

/// Holes and edges: inside a guard page, running into one from either side, the first and
/// last bytes of the first task's stack (valid; its top 16 bytes are never used, its bottom is
/// far below anything this suite reaches), and lengths that wrap the address space.
fn stack_range(rng: *sys.Rng) Range {
    const slot = rng.below(sys.slots_beside_first + 1); // the slots at known addresses
    const k = 1 + rng.below(16);
    return switch (rng.below(7)) {
        0 => .{ .pointer = layout.guard(slot) + rng.below(4096), .length = 1 + rng.below(64), .valid = false },
        1 => .{ .pointer = layout.top - k, .length = k + 1 + rng.below(64), .valid = false },
        2 => .{ .pointer = layout.bottom - k, .length = k + rng.below(64), .valid = false },
        3 => .{ .pointer = layout.guard(1 + rng.below(sys.slots_beside_first)) - k, .length = k + 1 + rng.below(4096), .valid = false },
        4 => .{ .pointer = layout.top - k, .length = rng.below(k + 1), .valid = true },
        5 => .{ .pointer = layout.bottom, .length = rng.below(65), .valid = true },
        else => blk: {
            const pointer = layout.bottom + rng.below(4096);
            break :blk .{ .pointer = pointer, .length = (0 -% pointer) +% rng.below(16), .valid = false };
        },
    };
}

fn text_range(rng: *sys.Rng, length_max: u64) Range {
    return range(rng, sys.addr(&text), text.len, length_max);
}
fn scratch_range(rng: *sys.Rng, length_max: u64) Range {
    return range(rng, sys.addr(&scratch), scratch.len, length_max);
}

var ping: u32 = 0;
var pong: u32 = 0;

fn pick_handle(rng: *sys.Rng) u32 {
    const roll = rng.below(100);
    const h: u32 = if (roll < 55 and entry_count > 0)
        entries[@intCast(rng.below(entry_count))].handle
    else if (roll < 58 and fuzz_net.any(rng) != null)
        fuzz_net.any(rng).?
    else if (roll < 62)
        abi.handle_console
    else if (roll < 70)
        stale[@intCast(rng.below(stale.len))]
    else if (roll < 85)
        @intCast(rng.below(300))
    else if (roll < 92)
        @truncate(rng.next())
    else
        rng.pick(u32, &.{ 0, sys.max_u32, 0x8000_0000, 0x7fff_ffff, 256, 255, 2, 1024 });
    // The ping-pong workers' channels are theirs alone: a stolen message would stall them.
    if (h == ping or h == pong) return abi.handle_console;
    return h;
}

/// Half the time a live handle of `kind` (if there is one), else any handle.
fn pick_handle_for(rng: *sys.Rng, kind: Kind) u32 {
    if (rng.chance(50)) {
        var matching: usize = 0;
        for (entries[0..entry_count]) |entry| {
            if (entry.kind == kind) matching += 1;
        }
        if (matching > 0) {
            var chosen = rng.below(matching);
            for (entries[0..entry_count]) |entry| if (entry.kind == kind) {
                if (chosen == 0) return entry.handle;
                chosen -= 1;
            };
        }
    }
    return pick_handle(rng);
}

fn pick_flags(rng: *sys.Rng, may_block: bool) u32 {
    const flags = rng.pick(u32, &.{ 0, 0, 1, 1, 2, 3, sys.max_u32, 0x8000_0000 });
    return if (may_block) flags else flags | sys.nonblocking;
}

fn pick_timeout(rng: *sys.Rng) u64 {
    return rng.pick(u64, &.{ 0, 0, 1, 1 * us, 10 * us, 50 * us });
}

fn pick_alignment(rng: *sys.Rng) u64 {
    return switch (rng.below(10)) {
        0 => 0,
        1 => rng.pick(u64, &.{ 3, 6, 12, 8192, 1 << 63, sys.max_u64 }),
        2 => rng.next(),
        else => @as(u64, 1) << @intCast(rng.below(13)),
    };
}

fn pick_size(rng: *sys.Rng) u64 {
    return switch (rng.below(20)) {
        0 => 0,
        1 => rng.pick(u64, &.{ 1 << 40, sys.max_u64, 1 << 63, (1 << 32) + 1 }),
        2 => rng.below(16 << 20),
        3, 4 => rng.below(1 << 20),
        else => 1 + rng.below(4096),
    };
}

fn power_of_two_at_most_4096(alignment: u64) bool {
    return alignment != 0 and alignment <= 4096 and alignment & (alignment - 1) == 0;
}

/// Memory the kernel handed out must be aligned and zeroed; write over it afterwards.
fn check_memory(what: []const u8, address: u64, bytes: u64, alignment: u64) void {
    if (bytes > (1 << 32)) {
        failure(what, "handed out {d} bytes at 0x{x}", .{ bytes, address });
        return;
    }
    if (alignment != 0 and alignment & (alignment - 1) == 0 and address % alignment != 0) {
        failure(what, "address 0x{x} not aligned to {d}", .{ address, alignment });
    }
    if (address < 4096) {
        failure(what, "returned address 0x{x}", .{address});
        return;
    }
    const head = @min(bytes, 256);
    const pointer: [*]u8 = @ptrFromInt(address);
    for (pointer[0..head]) |byte| if (byte != 0) {
        failure(what, "{d} bytes at 0x{x} not zeroed", .{ bytes, address });
        break;
    };
    if (bytes > 512) for (pointer[bytes - 256 .. bytes]) |byte| if (byte != 0) {
        failure(what, "tail of {d} bytes at 0x{x} not zeroed", .{ bytes, address });
        break;
    };
    @memset(pointer[0..head], 0xa5);
    if (bytes > 512) @memset(pointer[bytes - 256 .. bytes], 0x5a);
}

// ---- Tasks the fuzzer starts ----------------------------------------------------------------------

var foreign_channel: u32 = 0;
var stop_workers: bool = false;

fn fz_task(argument: u64) callconv(.c) u32 {
    const seed = argument >> 8;
    switch (argument & 0xff) {
        0 => {},
        1 => for (0..seed % 4) |_| {
            _ = sys.task_yield();
        },
        2 => _ = sys.task_sleep(seed % (20 * us)),
        3 => sys.task_exit(@truncate(seed)),
        4 => {
            var bytes: [64]u8 = undefined;
            _ = sys.random_fill(sys.addr(&bytes), seed % 65);
        },
        5 => {
            var bytes: [64]u8 = undefined;
            if (seed & 1 == 0) {
                _ = sys.send(foreign_channel, sys.addr(&text), seed % 65, sys.nonblocking);
            } else {
                _ = sys.recv(foreign_channel, sys.addr(&bytes), bytes.len, sys.nonblocking);
            }
        },
        6 => {
            const bytes = 64 + seed % 4096;
            const address = sys.mem_alloc(bytes, 8);
            if (address > 0) {
                @memset(@as([*]u8, @ptrFromInt(@as(u64, @intCast(address))))[0..bytes], 0x77);
                _ = sys.mem_free(@intCast(address), bytes);
            }
        },
        7 => {
            const nested = sys.task_spawn(@intFromPtr(&fz_task), seed << 8, 0);
            if (nested >= 0) _ = sys.task_join(sys.handle(nested), join_bound_ns);
        },
        8 => {
            var items = [1]abi.PollItem{.{ .handle = foreign_channel, .events = abi.poll_readable | abi.poll_writable, .revents = 0 }};
            _ = sys.io_poll(sys.addr(&items), 1, seed % (20 * us));
        },
        9 => if (@atomicLoad(i64, &output_budget, .acquire) > 0) {
            output_budget -= 1;
            _ = sys.trace_event(sys.addr(&text), 12, seed);
        },
        else => {},
    }
    return @truncate(seed);
}

fn worker(argument: u64) callconv(.c) u32 {
    var rng: sys.Rng = .{ .state = argument };
    var iterations: u32 = 0;
    var bytes: [64]u8 = undefined;
    var last: u64 = 0;
    while (!@atomicLoad(bool, &stop_workers, .acquire)) : (iterations +%= 1) {
        switch (rng.below(7)) {
            0, 1 => _ = sys.task_yield(),
            2 => _ = sys.task_sleep(rng.below(10 * us)),
            3 => _ = sys.send(foreign_channel, sys.addr(&text), rng.below(65), sys.nonblocking),
            4 => _ = sys.recv(foreign_channel, sys.addr(&bytes), bytes.len, sys.nonblocking),
            5 => {
                var items = [1]abi.PollItem{.{ .handle = foreign_channel, .events = abi.poll_readable, .revents = 0 }};
                _ = sys.io_poll(sys.addr(&items), 1, rng.below(10 * us));
            },
            else => _ = sys.random_fill(sys.addr(&bytes), rng.below(65)),
        }
        const t = sys.now();
        if (t < last) clock_backwards_in_worker = true;
        last = t;
    }
    return iterations;
}
var clock_backwards_in_worker = false;

/// Ping-pong over two channels with blocking calls, until told to stop.
var round_trips: u32 = 0;
var main_starved: bool = false;
var ping_pong_broken: bool = false;
fn pinger(_: u64) callconv(.c) u32 {
    var bytes: [8]u8 = undefined;
    var sequence: u64 = 0;
    var seen_calls: u64 = calls;
    var seen_at: u64 = sys.now();
    while (!@atomicLoad(bool, &stop_workers, .acquire)) : (sequence += 1) {
        // The first task must keep making progress; if it has not made a call for 5 s while we
        // ping-pong, the scheduler is starving it: say so and stop, rather than hang the run.
        if (sequence % 1024 == 0) {
            const t = sys.now();
            if (calls != seen_calls) {
                seen_calls = calls;
                seen_at = t;
            } else if (t -| seen_at > 5_000_000_000) {
                main_starved = true;
                break;
            }
        }
        if (sys.send(ping, sys.addr(&sequence), 8, 0) != 0) break;
        if (sys.recv(pong, sys.addr(&bytes), bytes.len, 0) != 8) break;
        if (std.mem.readInt(u64, &bytes, .little) != sequence + 1) ping_pong_broken = true;
        round_trips += 1;
    }
    _ = sys.io_close(ping);
    return 0;
}
fn ponger(_: u64) callconv(.c) u32 {
    var bytes: [8]u8 = undefined;
    while (true) {
        const n = sys.recv(ping, sys.addr(&bytes), bytes.len, 0);
        if (n != 8) return if (n == sys.err(.closed)) 0 else 1;
        const next = std.mem.readInt(u64, &bytes, .little) + 1;
        std.mem.writeInt(u64, &bytes, next, .little);
        if (sys.send(pong, sys.addr(&bytes), 8, 0) != 0) return 2;
    }
}

// ---- The loop ----------------------------------------------------------------------------------------

const Op = enum {
    spawn,
    yield,
    sleep,
    join,
    self,
    open,
    read,
    write,
    close,
    poll,
    create,
    send,
    recv,
    arena_create,
    arena_alloc,
    arena_reset,
    arena_destroy,
    alloc,
    free,
    log,
    span_begin,
    span_end,
    event,
    now,
    random,
    /// One of fuzz_net.zig's net.* calls.
    net,
};
const weights = [_]u8{ 4, 4, 2, 5, 1, 4, 6, 5, 5, 5, 4, 8, 8, 3, 5, 2, 3, 5, 5, 3, 3, 3, 3, 2, 4, 24 };
comptime {
    std.debug.assert(weights.len == @typeInfo(Op).@"enum".fields.len);
}
const weight_total = blk: {
    var total: u64 = 0;
    for (weights) |w| total += w;
    break :blk total;
};

const net_weight_total = blk: {
    var total: u64 = 0;
    for (fuzz_net.weights) |w| total += w;
    break :blk total;
};
comptime {
    std.debug.assert(fuzz_net.weights.len == @typeInfo(fuzz_net.Op).@"enum".fields.len);
}
const now_index = for (abi.calls, 0..) |c, index|
{
    if (std.mem.eql(u8, c.name, "clock.now_ns")) break index;
} else unreachable;

fn pick_op(rng: *sys.Rng) Op {
    var roll = rng.below(weight_total);
    for (weights, 0..) |w, index| {
        if (roll < w) return @enumFromInt(index);
        roll -= w;
    }
    unreachable;
}

var trace_ops = false;

pub fn run(arguments: []const [*:0]const u8) u8 {
    trace_ops = arguments.len > 2 and std.mem.eql(u8, std.mem.span(arguments[2]), "trace");
    const n: u64 = if (arguments.len > 0) std.fmt.parseInt(u64, std.mem.span(arguments[0]), 0) catch 100_000 else 100_000;
    const seed: u64 = if (arguments.len > 1) std.fmt.parseInt(u64, std.mem.span(arguments[1]), 0) catch 1 else 1;
    var rng: sys.Rng = .{ .state = seed };
    layout = sys.stack_layout();
    fuzz_net.init(.{
        .result = &result_of,
        .failure = &net_failure,
        .pick_handle = &pick_handle,
        .scratch_range = &net_range,
        .is_socket = &fuzz_net.is_socket,
    });
    for (&text, 0..) |*byte, index| byte.* = "abcdefghijklmnopqrstuvwxyz0123456789._"[index % 38];
    text[text.len - 1] = '\n';
    for (&scratch, 0..) |*byte, index| byte.* = @truncate(index *% 31);
    ukernel.print("fuzz: {d} calls, seed {d}\n", .{ n, seed });

    // Background: a shared channel, workers, and a blocking ping-pong pair.
    const shared = sys.channel_create(8, 64);
    const ping_result = sys.channel_create(1, 8);
    const pong_result = sys.channel_create(1, 8);
    if (shared < 0 or ping_result < 0 or pong_result < 0) {
        ukernel.print("FAIL fuzz: cannot create the background channels ({s} {s} {s})\n", .{ sys.name(shared), sys.name(ping_result), sys.name(pong_result) });
        return 1;
    }
    foreign_channel = sys.handle(shared);
    ping = sys.handle(ping_result);
    pong = sys.handle(pong_result);
    add(.{ .handle = foreign_channel, .kind = .foreign });
    var workers: [5]i64 = undefined;
    for (workers[0..3], 0..) |*w, index| w.* = sys.task_spawn(@intFromPtr(&worker), seed +% index +% 1, 0);
    workers[3] = sys.task_spawn(@intFromPtr(&pinger), 0, 0);
    workers[4] = sys.task_spawn(@intFromPtr(&ponger), 0, 0);
    for (workers) |w| {
        if (w < 0) {
            ukernel.print("FAIL fuzz: cannot spawn the background tasks: {s}\n", .{sys.name(w)});
            return 1;
        }
        add(.{ .handle = sys.handle(w), .kind = .worker });
    }

    last_now = sys.now();
    const started = last_now;
    var index: u64 = 0;
    while (index < n) : (index += 1) {
        // Progress, so a hang can be placed: every 10000 calls, and the op about to run.
        if (index % 10_000 == 0 and index > 0) ukernel.print("fuzz: progress calls={d} errors={d}\n", .{ calls, errors });
        const op = pick_op(&rng);
        if (trace_ops) ukernel.print("op {d} {s}\n", .{ index, @tagName(op) });
        step(&rng, op);
    }
    const loop_ns = sys.since(started);

    // Clean up everything this task created; the workers must then finish.
    var cleanup_errors: u64 = 0;
    while (span_count > 0) {
        span_count -= 1;
        _ = sys.span_end(spans[span_count]);
    }
    for (allocations[0..allocation_count]) |a| {
        if (sys.mem_free(a.address, a.bytes) != 0) cleanup_errors += 1;
    }
    allocation_count = 0;
    cleanup_errors += fuzz_net.cleanup();
    var i: usize = 0;
    while (i < entry_count) {
        const entry = entries[i];
        switch (entry.kind) {
            .task => if (sys.task_join(entry.handle, 5_000_000_000) < 0) {
                cleanup_errors += 1;
                failure("cleanup", "fuzz task {d} did not end within 5 s", .{entry.handle});
            },
            .channel => _ = sys.io_close(entry.handle),
            .file => if (sys.io_close(entry.handle) != 0) {
                cleanup_errors += 1;
            },
            .arena => if (sys.arena_destroy(entry.handle) != 0) {
                cleanup_errors += 1;
            },
            .worker, .foreign => {
                i += 1;
                continue;
            },
        }
        remove(entry.handle);
    }
    @atomicStore(bool, &stop_workers, true, .release);
    var worker_iterations: u64 = 0;
    for (workers, 0..) |w, k| {
        const status = sys.task_join(sys.handle(w), 10_000_000_000);
        if (status < 0) {
            failure("workers", "background task {d} did not end within 10 s after the loop: {s}", .{ k, sys.name(status) });
        } else if (k < 3) worker_iterations += @intCast(status) else if (status != 0) {
            failure("workers", "ping-pong task {d} ended with status {d}", .{ k, status });
        }
    }
    _ = sys.io_close(foreign_channel);
    _ = sys.io_close(pong);
    if (ping_pong_broken) failure("ping-pong", "a reply did not match its request", .{});
    if (main_starved) failure("scheduler", "the first task made no call for 5 s while two tasks ping-ponged over channels; the ping-pong stopped to let it finish", .{});
    if (clock_backwards_in_worker) failure("clock", "now_ns went backwards in a worker", .{});

    ukernel.print("fuzz: calls={d} errors={d}\n", .{ calls, errors });
    fuzz_net.report();
    ukernel.print("fuzz: detail loop_ms={d} undocumented={d} anomalies={d} spawned={d} worker_iterations={d} round_trips={d} cleanup_errors={d} output_budget_left={d}\n", .{ loop_ns / 1_000_000, undocumented, anomalies, spawned, worker_iterations, round_trips, cleanup_errors, output_budget });
    var line: [1024]u8 = undefined;
    var writer = std.Io.Writer.fixed(&line);
    for (abi.calls, per_call, 0..) |c, count, position| {
        if (position % 9 == 0) writer.print("{s}fuzz: per-call", .{if (position == 0) "" else "\n"}) catch {};
        writer.print(" {s}={d}", .{ c.name, count }) catch {};
    }
    ukernel.print("{s}\n", .{writer.buffered()});
    if (anomaly_kind_count > 0) {
        writer = std.Io.Writer.fixed(&line);
        writer.print("fuzz: anomalies", .{}) catch {};
        for (anomaly_kinds[0..anomaly_kind_count], anomaly_counts[0..anomaly_kind_count]) |kind, count| writer.print(" {s}={d}", .{ kind, count }) catch {};
        ukernel.print("{s}\n", .{writer.buffered()});
    }
    return if (anomalies > 0) 1 else 0;
}

fn step(rng: *sys.Rng, op: Op) void {
    switch (op) {
        .spawn => {
            const stack = rng.pick(u64, &.{ 0, 0, 0, 4096, 8192, 16384, 65536, 65537, 1 << 20, sys.max_u64, 1, 100, 20000 });
            const small = stack != 0 and stack < 16384;
            const behaviour: u64 = if (small) rng.pick(u64, &.{ 0, 1, 3 }) else rng.below(10);
            const entry: u64 = if (rng.chance(85)) @intFromPtr(&fz_task) else rng.pick(u64, &sys.bad_addresses);
            const r = result("task.spawn", sys.task_spawn(entry, behaviour | (rng.below(1 << 20) << 8), stack), &.{ .bad_pointer, .out_of_range, .limit_reached, .no_memory });
            if (r >= 0) {
                spawned += 1;
                add(.{ .handle = sys.handle(r), .kind = .task });
            }
        },
        .yield => {
            const r = result("task.yield", sys.task_yield(), &.{});
            if (r != 0) failure("task.yield", "returned {d}", .{r});
        },
        .sleep => {
            const r = result("task.sleep", sys.task_sleep(rng.pick(u64, &.{ 0, 1, 1 * us, 10 * us, 50 * us })), &.{});
            if (r != 0) failure("task.sleep", "returned {d}", .{r});
        },
        .join => {
            const h = pick_handle_for(rng, .task);
            const known: ?Entry = if (find(h)) |e| e.* else null;
            if (known != null and known.?.kind == .worker) return step(rng, .yield);
            const forever = known != null and known.?.kind == .task and rng.chance(30);
            const r = result("task.join", sys.task_join(h, if (forever) join_bound_ns else pick_timeout(rng)), &.{ .bad_handle, .timed_out });
            if (known) |e| {
                if (r >= 0 and e.kind != .task) failure("task.join", "joined handle {d}, a {s}", .{ h, @tagName(e.kind) });
                if (e.kind == .task and r == sys.err(.bad_handle)) failure("task.join", "bad_handle for live task handle {d}", .{h});
                if (forever and r < 0) failure("task.join", "join of fuzz task {d} with 2 s timeout returned {s} (they end within µs)", .{ h, sys.name(r) });
                if (r >= 0 or (e.kind == .task and r == sys.err(.bad_handle))) remove(h);
            }
        },
        .self => {
            const r = result("task.self", sys.task_self(), &.{});
            if (r != 0) failure("task.self", "the first task's id is {d}", .{r});
        },
        .open => {
            const paths = [_][]const u8{ "etc/ukernel.env", "bin/main", "etc/nope", "", "etc", "/etc/ukernel.env", "bin/main/x", "etc/ukernel.env\x00" };
            var pointer: u64 = 0;
            var length: u64 = 0;
            switch (rng.below(5)) {
                0, 1, 2 => {
                    const path = rng.pick([]const u8, &paths);
                    pointer = sys.addr(path.ptr);
                    length = path.len;
                },
                3 => {
                    const r = scratch_range(rng, 300);
                    pointer = r.pointer;
                    length = r.length;
                },
                else => {
                    const r = text_range(rng, 64);
                    pointer = r.pointer;
                    length = r.length;
                },
            }
            const flags: u32 = if (rng.chance(80)) 0 else @truncate(rng.next());
            const r = result("io.open", sys.io_open(pointer, length, flags), &.{ .bad_pointer, .not_found, .out_of_range, .limit_reached, .io_failed, .no_memory });
            if (r >= 0) add(.{ .handle = sys.handle(r), .kind = .file });
        },
        .read => {
            const h = pick_handle_for(rng, if (rng.chance(50)) .file else .channel);
            const entry = find(h);
            // io.read blocks on an empty channel: only read one that has a message or is closed.
            if (entry) |e| if ((e.kind == .channel and !e.closed and e.queued == 0) or e.kind == .foreign) return step(rng, .recv);
            const b = scratch_range(rng, 65536 + 16);
            const r = result("io.read", sys.io_read(h, b.pointer, b.length), &.{ .bad_handle, .bad_pointer, .too_large, .closed, .unsupported, .would_block, .not_connected, .connection_reset, .no_route, .no_memory, .connection_refused, .timed_out });
            if (entry) |e| received(e, r, "io.read");
        },
        .write => {
            const h = pick_handle_for(rng, .channel);
            const entry = find(h);
            if (entry) |e| if ((e.kind == .channel and !e.closed and e.queued >= e.capacity) or e.kind == .foreign) return step(rng, .send);
            if (h == abi.handle_console) {
                var b = text_range(rng, 24);
                // Valid writes end the line (text ends in "\n"), so they never run into ours.
                if (b.valid) b.pointer = sys.addr(&text) + text.len - b.length;
                if (b.valid and b.length > 0 and output_budget <= 0) b = .{ .pointer = 0, .length = 4, .valid = false };
                if (rng.chance(5)) b = .{ .pointer = sys.addr(&scratch), .length = abi.write_bytes_max + 1 + rng.below(100), .valid = false };
                const r = result("io.write", sys.io_write(h, b.pointer, b.length), &.{ .bad_handle, .bad_pointer, .too_large, .closed, .unsupported, .would_block, .not_connected, .connection_reset, .no_route, .no_memory, .connection_refused, .timed_out });
                if (r > 0) output_budget -= 1;
                if (r >= 0 and !b.valid) failure("io.write", "console accepted invalid range 0x{x}+{d}", .{ b.pointer, b.length });
                return;
            }
            const b = scratch_range(rng, 65536 + 16);
            const r = result("io.write", sys.io_write(h, b.pointer, b.length), &.{ .bad_handle, .bad_pointer, .too_large, .closed, .unsupported, .would_block, .not_connected, .connection_reset, .no_route, .no_memory, .connection_refused, .timed_out });
            if (entry) |e| sent(e, r, b, "io.write");
        },
        .close => {
            const h = pick_handle(rng);
            const entry = find(h);
            if (h == abi.handle_console) return step(rng, .self);
            if (entry) |e| if (e.kind == .worker or e.kind == .foreign) return step(rng, .self);
            const r = result("io.close", sys.io_close(h), &.{ .bad_handle, .unsupported });
            if (r >= 0) fuzz_net.forget(h);
            if (entry) |e| {
                if (r >= 0) switch (e.kind) {
                    .channel => {
                        if (e.closed) remove(h) else e.closed = true;
                    },
                    else => remove(h),
                } else if (r == sys.err(.bad_handle) and (e.kind == .file or (e.kind == .channel and !e.closed))) {
                    failure("io.close", "bad_handle for open {s} {d}", .{ @tagName(e.kind), h });
                    remove(h);
                } else if (r == sys.err(.bad_handle) and e.kind == .channel) remove(h);
            }
        },
        .poll => {
            const count: u32 = @intCast(rng.below(9));
            for (items_buffer[0..count]) |*item| item.* = .{ .handle = pick_handle(rng), .events = @truncate(rng.below(8)), .revents = 0xffff };
            var pointer = sys.addr(&items_buffer);
            var n = count;
            switch (rng.below(12)) {
                0 => {
                    pointer = sys.addr(&scratch) + 1 + rng.below(7);
                    @memcpy(scratch[pointer - sys.addr(&scratch) ..][0 .. count * @sizeOf(abi.PollItem)], std.mem.sliceAsBytes(items_buffer[0..count]));
                },
                1 => pointer = rng.pick(u64, &sys.bad_addresses),
                2 => n = rng.pick(u32, &.{ 1 << 20, sys.max_u32, 4096, 257 }),
                else => {},
            }
            const r = result("io.poll", sys.io_poll(pointer, n, pick_timeout(rng)), &.{ .bad_pointer, .too_large });
            if (r > n) failure("io.poll", "{d} ready of {d} items", .{ r, n });
        },
        .create => {
            const capacity: u32 = switch (rng.below(6)) {
                0 => 0,
                1 => rng.pick(u32, &.{ 1024, 1025, sys.max_u32, 65536 }),
                2 => @truncate(rng.next()),
                else => @intCast(1 + rng.below(16)),
            };
            const message_max: u32 = switch (rng.below(6)) {
                0 => 0,
                1 => rng.pick(u32, &.{ 65536, 65537, sys.max_u32, 4096 }),
                2 => @truncate(rng.next()),
                else => @intCast(1 + rng.below(256)),
            };
            const r = result("ipc.channel_create", sys.channel_create(capacity, message_max), &.{ .out_of_range, .limit_reached, .no_memory });
            if (r >= 0) add(.{ .handle = sys.handle(r), .kind = .channel, .capacity = capacity, .message_max = message_max });
        },
        .send => {
            const h = pick_handle_for(rng, .channel);
            const entry = find(h);
            const may_block = if (entry) |e| e.kind == .channel and (e.closed or e.queued < e.capacity) else true;
            const b = scratch_range(rng, if (entry) |e| @as(u64, e.message_max) + 2 else 300);
            const r = result("ipc.send", sys.send(h, b.pointer, b.length, pick_flags(rng, may_block)), &.{ .bad_handle, .bad_pointer, .too_large, .would_block, .closed });
            if (entry) |e| sent(e, r, b, "ipc.send");
        },
        .recv => {
            const h = pick_handle_for(rng, .channel);
            const entry = find(h);
            const may_block = if (entry) |e| e.kind == .channel and (e.closed or e.queued > 0) else true;
            const b = scratch_range(rng, if (entry) |e| @as(u64, e.message_max) + 2 else 300);
            const r = result("ipc.recv", sys.recv(h, b.pointer, b.length, pick_flags(rng, may_block)), &.{ .bad_handle, .bad_pointer, .too_large, .would_block, .closed });
            if (entry) |e| received(e, r, "ipc.recv");
        },
        .arena_create => {
            const bytes: u64 = switch (rng.below(8)) {
                0 => 0,
                1 => rng.pick(u64, &.{ 1 << 40, sys.max_u64, 1 << 63, 64 << 20 }),
                2 => rng.below(4 << 20),
                else => 1 + rng.below(64 * 1024),
            };
            const r = result("mem.arena_create", sys.arena_create(bytes), &.{ .out_of_range, .limit_reached, .no_memory });
            if (r >= 0) add(.{ .handle = sys.handle(r), .kind = .arena });
        },
        .arena_alloc => {
            const h = pick_handle_for(rng, .arena);
            const bytes = pick_size(rng);
            const alignment = pick_alignment(rng);
            const r = result("mem.arena_alloc", sys.arena_alloc(h, bytes, alignment), &.{ .bad_handle, .out_of_range, .no_memory });
            if (r >= 0) check_memory("mem.arena_alloc", @intCast(r), bytes, alignment);
            if (r >= 0 and !power_of_two_at_most_4096(alignment)) failure("mem.arena_alloc", "accepted alignment {d}", .{alignment});
            if (find(h)) |e| if (r >= 0 and e.kind != .arena) failure("mem.arena_alloc", "allocated from a {s}", .{@tagName(e.kind)});
        },
        .arena_reset => {
            const h = pick_handle_for(rng, .arena);
            const r = result("mem.arena_reset", sys.arena_reset(h), &.{.bad_handle});
            if (find(h)) |e| if (e.kind == .arena and r != 0) failure("mem.arena_reset", "live arena {d}: {s}", .{ h, sys.name(r) });
        },
        .arena_destroy => {
            const h = pick_handle_for(rng, .arena);
            const entry = find(h);
            if (entry) |e| if (e.kind == .worker or e.kind == .foreign) return step(rng, .now);
            const r = result("mem.arena_destroy", sys.arena_destroy(h), &.{.bad_handle});
            if (entry) |e| {
                if (r >= 0 and e.kind != .arena) failure("mem.arena_destroy", "destroyed a {s}", .{@tagName(e.kind)});
                if (e.kind == .arena and r != 0) failure("mem.arena_destroy", "live arena {d}: {s}", .{ h, sys.name(r) });
                if (e.kind == .arena) remove(h);
            }
        },
        .alloc => {
            if (allocation_count == allocations.len) return step(rng, .free);
            const bytes = pick_size(rng);
            const alignment = pick_alignment(rng);
            const r = result("mem.alloc", sys.mem_alloc(bytes, alignment), &.{ .out_of_range, .no_memory });
            if (r >= 0 and !power_of_two_at_most_4096(alignment)) failure("mem.alloc", "accepted alignment {d}", .{alignment});
            if (r >= 0) {
                check_memory("mem.alloc", @intCast(r), bytes, alignment);
                allocations[allocation_count] = .{ .address = @intCast(r), .bytes = bytes };
                allocation_count += 1;
            }
        },
        .free => {
            if (allocation_count > 0 and rng.chance(70)) {
                const index: usize = @intCast(rng.below(allocation_count));
                const a = allocations[index];
                const r = result("mem.free", sys.mem_free(a.address, a.bytes), &.{ .bad_pointer, .out_of_range });
                if (r != 0) failure("mem.free", "freeing 0x{x} ({d} bytes, from mem.alloc): {s}", .{ a.address, a.bytes, sys.name(r) });
                allocations[index] = allocations[allocation_count - 1];
                allocation_count -= 1;
            } else if (allocation_count > 0 and rng.chance(30)) {
                const a = allocations[@intCast(rng.below(allocation_count))];
                const r = result("mem.free", sys.mem_free(a.address, rng.pick(u64, &.{ 0, 1 << 40, sys.max_u64 })), &.{ .bad_pointer, .out_of_range });
                if (r >= 0) failure("mem.free", "accepted a wrong size for 0x{x}", .{a.address});
            } else {
                const address = switch (rng.below(4)) {
                    0 => rng.pick(u64, &sys.bad_addresses),
                    1 => sys.addr(&scratch) + rng.below(scratch.len),
                    2 => sys.addr(&text),
                    else => rng.next(),
                };
                const r = result("mem.free", sys.mem_free(address, 1 + rng.below(4096)), &.{ .bad_pointer, .out_of_range });
                if (r >= 0) failure("mem.free", "accepted 0x{x}, never allocated", .{address});
            }
        },
        .log => {
            var level: u32 = if (rng.chance(85)) @intCast(rng.below(4)) else rng.pick(u32, &.{ 4, 5, sys.max_u32 });
            var message = text_range(rng, 48);
            if (rng.chance(3)) message = .{ .pointer = sys.addr(&scratch), .length = abi.write_bytes_max + 1, .valid = false };
            var count: u32 = @intCast(rng.below(4));
            if (rng.chance(10)) count = rng.pick(u32, &.{ 16, 17, 20, sys.max_u32 });
            var fields_valid = true;
            for (fields_buffer[0..@min(count, fields_buffer.len)]) |*f| {
                const key = text_range(rng, 20);
                const value = text_range(rng, 40);
                f.* = .{ .key_pointer = key.pointer, .key_length = key.length, .value_pointer = value.pointer, .value_length = value.length };
                if (!key.valid or !value.valid) fields_valid = false;
            }
            if (count > abi.log_fields_max) fields_valid = false;
            var fields = sys.addr(&fields_buffer);
            if (rng.chance(8)) {
                fields = rng.pick(u64, &sys.bad_addresses);
                if (count > 0) fields_valid = false;
            }
            // No budget left: only records the kernel must refuse.
            if (output_budget <= 0) level = 4;
            const valid = level < 4 and message.valid and fields_valid;
            const r = result("log.write", sys.log_write(level, message.pointer, message.length, fields, count), &.{ .out_of_range, .bad_pointer, .too_large });
            if (r >= 0) output_budget -= 1;
            if (r >= 0 and !valid) failure("log.write", "accepted level {d}, message 0x{x}+{d}, {d} fields at 0x{x}", .{ level, message.pointer, message.length, count, fields });
        },
        .span_begin => {
            var name = text_range(rng, 70);
            if (output_budget <= 0 or span_count == spans.len) name = .{ .pointer = sys.p_high, .length = 4, .valid = false };
            const r = result("trace.span_begin", sys.span_begin(name.pointer, name.length), &.{ .bad_pointer, .too_large, .limit_reached });
            if (r >= 0) {
                output_budget -= 1;
                if (!name.valid or name.length > abi.name_bytes_max) failure("trace.span_begin", "accepted name 0x{x}+{d}", .{ name.pointer, name.length });
                if (r == 0) failure("trace.span_begin", "span id 0", .{});
                spans[span_count] = @intCast(r);
                span_count += 1;
            }
        },
        .span_end => {
            if (span_count > 0 and rng.chance(70) and output_budget > 0) {
                const index: usize = @intCast(rng.below(span_count));
                const r = result("trace.span_end", sys.span_end(spans[index]), &.{.out_of_range});
                if (r >= 0) output_budget -= 1;
                spans[index] = spans[span_count - 1];
                span_count -= 1;
            } else {
                const id = rng.pick(u64, &.{ 0, sys.max_u64, 1 << 62 });
                const r = result("trace.span_end", sys.span_end(id), &.{.out_of_range});
                if (r >= 0) failure("trace.span_end", "accepted span id {d}", .{id});
            }
        },
        .event => {
            var name = text_range(rng, 70);
            if (output_budget <= 0) name = .{ .pointer = 0, .length = 4, .valid = false };
            const r = result("trace.event", sys.trace_event(name.pointer, name.length, rng.next()), &.{ .bad_pointer, .too_large });
            if (r >= 0) {
                output_budget -= 1;
                if (!name.valid or name.length > abi.name_bytes_max) failure("trace.event", "accepted name 0x{x}+{d}", .{ name.pointer, name.length });
            }
        },
        .net => {
            var roll = rng.below(net_weight_total);
            for (fuzz_net.weights, 0..) |w, index| {
                if (roll < w) return fuzz_net.step(rng, @enumFromInt(index));
                roll -= w;
            }
            unreachable;
        },
        .now => {
            calls += 1;
            per_call[now_index] += 1;
            const t = sys.now();
            if (t < last_now) failure("clock.now_ns", "went backwards from {d} to {d}", .{ last_now, t });
            last_now = t;
        },
        .random => {
            const b = scratch_range(rng, 4096);
            const r = result("random.fill", sys.random_fill(b.pointer, b.length), &.{ .bad_pointer, .too_large });
            if (r >= 0 and !b.valid) failure("random.fill", "accepted 0x{x}+{d}", .{ b.pointer, b.length });
            if (r > 0 and @as(u64, @intCast(r)) > b.length) failure("random.fill", "wrote {d} of {d} bytes", .{ r, b.length });
        },
    }
}

/// Updates the model after a send (ipc.send or io.write) to a handle it knows.
fn sent(e: *Entry, r: i64, b: Range, comptime call: []const u8) void {
    switch (e.kind) {
        .channel => {
            if (r >= 0) {
                if (!b.valid) failure(call, "channel {d} accepted invalid range 0x{x}+{d}", .{ e.handle, b.pointer, b.length });
                if (e.closed) failure(call, "closed channel {d} accepted a message", .{e.handle});
                if (e.queued >= e.capacity) failure(call, "full channel {d} ({d} queued) accepted a message", .{ e.handle, e.queued });
                if (b.length > e.message_max) failure(call, "channel {d} accepted {d} bytes, limit {d}", .{ e.handle, b.length, e.message_max });
                e.queued += 1;
            } else if (r == sys.err(.would_block) and !e.closed and e.queued < e.capacity) {
                failure(call, "would_block on channel {d} with {d} of {d} queued", .{ e.handle, e.queued, e.capacity });
            } else if (r == sys.err(.closed) and !e.closed) {
                failure(call, "closed from open channel {d}", .{e.handle});
            } else if (r == sys.err(.bad_handle)) {
                if (!e.closed) failure(call, "bad_handle for open channel {d}", .{e.handle});
                remove(e.handle);
            }
        },
        else => {},
    }
}

/// Updates the model after a receive (ipc.recv or io.read) from a handle it knows.
fn received(e: *Entry, r: i64, comptime call: []const u8) void {
    switch (e.kind) {
        .channel => {
            if (r >= 0) {
                if (e.queued == 0) failure(call, "empty channel {d} gave a message", .{e.handle}) else e.queued -= 1;
            } else if (r == sys.err(.would_block) and e.queued > 0) {
                failure(call, "would_block on channel {d} with {d} queued", .{ e.handle, e.queued });
            } else if (r == sys.err(.closed) and (e.queued > 0 or !e.closed)) {
                failure(call, "closed on channel {d}: {d} queued, closed {}", .{ e.handle, e.queued, e.closed });
            } else if (r == sys.err(.bad_handle)) {
                if (!e.closed) failure(call, "bad_handle for open channel {d}", .{e.handle});
                remove(e.handle);
            }
        },
        else => {},
    }
}
