//! `conformance`: every call of docs/abi.md, its results and its error paths. One line per check
//! (`ok NAME` / `FAIL NAME: WHY`), grouped under `# SECTION` lines; the exit status is the number
//! of failures (0: all pass).
//!
//! Where the definition allows more than one reading (e.g. io.read on the console: the handle is
//! "not of a kind this call accepts" (bad_handle) and the operation "does not apply to this
//! handle" (unsupported)), a check accepts each and prints which one it saw.
//!
//! Limits the definition leaves to the kernel come from etc/ukernel.env (ABI_SUITE_*).

const std = @import("std");
const ukernel = @import("ukernel");
const sys = @import("sys.zig");
const check = @import("check.zig");
const net = @import("net.zig");
const abi = sys.abi;
const E = abi.Error;

const ms: u64 = 1_000_000;

const Limits = struct {
    tasks: u64,
    files: u64,
    arenas: u64,
    stack: u64,
    handles: u64,
    channels: u64,
    depth: u64,
    message: u64,
};
var limits: Limits = undefined;

var big: [65536 + 8192]u8 align(4096) = undefined;
var buf: [4096]u8 align(64) = undefined;
var static_word: u64 align(64) = 0;

fn s(text: []const u8) u64 {
    return @intFromPtr(text.ptr);
}

/// Channels take two io.close calls: the first closes the channel (receivers drain it, then
/// see closed), the second releases the handle (kernel/src/ipc/channels.zig).
fn release(channel: u32) void {
    _ = sys.io_close(channel);
    _ = sys.io_close(channel);
}

fn spawn(entry: abi.TaskEntry, argument: u64, stack_bytes: u64) i64 {
    return sys.task_spawn(@intFromPtr(entry), argument, stack_bytes);
}

pub fn run(context: ukernel.Context) u8 {
    limits = .{
        .tasks = sys.env_int(context, "ABI_SUITE_TASKS_MAX", 64),
        .files = sys.env_int(context, "ABI_SUITE_FILES_MAX", 32),
        .arenas = sys.env_int(context, "ABI_SUITE_ARENAS_MAX", 64),
        .stack = sys.env_int(context, "ABI_SUITE_STACK_BYTES_MAX", 64 * 1024),
        .handles = sys.env_int(context, "ABI_SUITE_HANDLES_MAX", 256),
        .channels = sys.env_int(context, "ABI_SUITE_CHANNELS_MAX", 64),
        .depth = sys.env_int(context, "ABI_SUITE_CHANNEL_DEPTH_MAX", 1024),
        .message = sys.env_int(context, "ABI_SUITE_MESSAGE_BYTES_MAX", 64 * 1024),
    };
    context_checks(context);
    clock_checks();
    task_checks();
    join_checks();
    spawn_limit_checks();
    console_checks();
    file_checks(context);
    thread_pointer_checks();
    kind_limit_checks();
    channel_checks();
    close_checks();
    backpressure_checks();
    poll_checks();
    channel_limit_checks();
    arena_checks();
    alloc_checks();
    log_checks();
    trace_checks();
    random_checks();
    net.run();
    guard_page_checks();
    kernel_memory_checks();
    second_joiner_checks();
    self_join_check();
    ukernel.print("conformance: {d} passed, {d} failed\n", .{ check.passes, check.failures });
    return @intCast(@min(check.failures, 255));
}

// ---- Context and clock ------------------------------------------------------------------------

fn context_checks(context: ukernel.Context) void {
    check.section("context");
    _ = check.truth("context.abi_version", sys.start.abi_major == abi.version_major and sys.start.abi_minor >= abi.version_minor, "kernel ABI {d}.{d}.{d}, SDK {s}", .{ sys.start.abi_major, sys.start.abi_minor, sys.start.abi_patch, abi.version_string });
    _ = check.truth("context.table_size", sys.table.size_bytes == @sizeOf(abi.Table), "table is {d} bytes, SDK's is {d}", .{ sys.table.size_bytes, @sizeOf(abi.Table) });
    _ = check.truth("context.argv0", std.mem.eql(u8, std.mem.span(context.args[0]), "bin/main"), "argv[0] = {s}", .{context.args[0]});
    _ = check.truth("context.argv1", context.args.len >= 2 and std.mem.eql(u8, std.mem.span(context.args[1]), "conformance"), "argv[1] missing or not 'conformance'", .{});
    const marker = context.getenv("ABI_SUITE") orelse "";
    _ = check.truth("context.env", std.mem.eql(u8, marker, "1"), "ABI_SUITE={s}", .{marker});
}

fn clock_checks() void {
    check.section("clock");
    var last = sys.now();
    var backwards: u64 = 0;
    for (0..20_000) |_| {
        const t = sys.now();
        if (t < last) backwards += 1;
        last = t;
    }
    _ = check.truth("clock.now_ns.monotonic", backwards == 0, "{d} of 20000 readings went backwards", .{backwards});
    _ = check.truth("clock.now_ns.nonzero", sys.now() > 0, "now_ns() is 0", .{});
    const t0 = sys.now();
    _ = sys.task_sleep(ms);
    const elapsed = sys.since(t0);
    _ = check.truth("clock.now_ns.advances_over_sleep", elapsed >= ms and elapsed < 2000 * ms, "sleep(1 ms) measured {d} ns", .{elapsed});
    const h = spawn(&t_clock, 0, 0);
    if (check.quiet("clock.task", h)) |task| {
        const before = sys.now();
        _ = sys.task_join(sys.handle(task), sys.infinite);
        const after = sys.now();
        _ = check.truth("clock.now_ns.same_clock_in_tasks", task_clock >= before and task_clock <= after, "task read {d}, main {d}..{d}", .{ task_clock, before, after });
    }
}

var task_clock: u64 = 0;
fn t_clock(_: u64) callconv(.c) u32 {
    task_clock = sys.now();
    return 0;
}

// ---- Tasks -------------------------------------------------------------------------------------

fn t_return(argument: u64) callconv(.c) u32 {
    return @truncate(argument);
}
fn t_check_argument(argument: u64) callconv(.c) u32 {
    return if (argument == 0xdead_beef_cafe_f00d) 1 else 0;
}
fn t_exit(argument: u64) callconv(.c) u32 {
    sys.task_exit(@truncate(argument));
}
var self_ids: [4]i64 = .{ -1, -1, -1, -1 };
fn t_self(argument: u64) callconv(.c) u32 {
    self_ids[@intCast(argument)] = sys.task_self();
    return 0;
}
var counters: [3]u64 = .{ 0, 0, 0 };
var counters_stop: bool = false;
fn t_count(argument: u64) callconv(.c) u32 {
    while (!@atomicLoad(bool, &counters_stop, .acquire)) {
        counters[@intCast(argument)] += 1;
        _ = sys.task_yield();
    }
    return 0;
}
var ran_once: u64 = 0;
fn t_mark(_: u64) callconv(.c) u32 {
    ran_once += 1;
    return 0;
}
fn t_align(_: u64) callconv(.c) u32 {
    var local: [4]u32 align(16) = undefined;
    const pointer: *volatile [4]u32 = &local;
    pointer[0] = 1;
    return if (@intFromPtr(pointer) % 16 == 0) 1 else 0;
}
var fp_results: [2]f64 = .{ 0, 0 };
fn fp_work(seed: f64, yielding: bool) f64 {
    var x: f64 = seed;
    for (0..200) |i| {
        x = x * 1.000_001 + @sqrt(@as(f64, @floatFromInt(i)) + x / 3.0);
        if (yielding) _ = sys.task_yield();
    }
    return x;
}
fn t_fp(argument: u64) callconv(.c) u32 {
    fp_results[@intCast(argument)] = fp_work(@floatFromInt(argument + 1), true);
    return 0;
}
fn use_stack(comptime bytes: usize) u32 {
    var area: [bytes]u8 = undefined;
    const pointer: [*]volatile u8 = &area;
    var offset: usize = 0;
    while (offset < bytes) : (offset += 1024) pointer[offset] = @truncate(offset >> 10);
    pointer[bytes - 1] = 0x5a;
    var sum: u32 = 0;
    offset = 0;
    while (offset < bytes) : (offset += 1024) sum +%= pointer[offset];
    return sum +% pointer[bytes - 1];
}
fn t_stack_48k(_: u64) callconv(.c) u32 {
    return use_stack(48 * 1024);
}
fn t_stack_12k(_: u64) callconv(.c) u32 {
    return use_stack(12 * 1024);
}
fn expected_stack_sum(comptime bytes: usize) u32 {
    var sum: u32 = 0;
    var offset: usize = 0;
    while (offset < bytes) : (offset += 1024) sum +%= @as(u8, @truncate(offset >> 10));
    return sum +% 0x5a;
}
fn t_nested(_: u64) callconv(.c) u32 {
    const h = spawn(&t_return, 9, 0);
    if (h < 0) return 1000;
    const status = sys.task_join(sys.handle(h), sys.infinite);
    if (status < 0) return 2000;
    return @as(u32, @intCast(status)) + 1;
}

fn join_status(name: []const u8, h: i64, want: i64) void {
    if (h < 0) {
        var b: [32]u8 = undefined;
        check.fail(name, "spawn failed: {s}", .{sys.show(&b, h)});
        return;
    }
    _ = check.value(name, sys.task_join(sys.handle(h), sys.infinite), want);
}

fn task_checks() void {
    check.section("task");
    _ = check.value("task.self.first_is_0", sys.task_self(), 0);
    _ = check.value("task.yield.alone", sys.task_yield(), 0);

    const h = spawn(&t_return, 42, 0);
    if (check.ok("task.spawn", h)) |task| {
        _ = check.truth("task.spawn.handle_is_not_console", task != abi.handle_console, "task handle = console handle", .{});
        _ = check.value("task.join.returns_status", sys.task_join(sys.handle(task), sys.infinite), 42);
    }
    join_status("task.spawn.argument_passed", spawn(&t_check_argument, 0xdead_beef_cafe_f00d, 0), 1);
    join_status("task.exit.status", spawn(&t_exit, 0x1234_5678, 0), 0x1234_5678);
    join_status("task.exit.status_u32_max", spawn(&t_exit, 0xffff_ffff, 0), 0xffff_ffff);
    join_status("task.return.status_u32_max", spawn(&t_return, 0xffff_ffff, 0), 0xffff_ffff);

    // yield lets every other ready task run once.
    ran_once = 0;
    const marker = spawn(&t_mark, 0, 0);
    _ = sys.task_yield();
    _ = check.truth("task.yield.runs_ready_task", ran_once == 1, "after spawn + yield the task ran {d} times", .{ran_once});
    if (marker >= 0) _ = sys.task_join(sys.handle(marker), sys.infinite);

    counters = .{ 0, 0, 0 };
    counters_stop = false;
    const a = spawn(&t_count, 0, 0);
    const b = spawn(&t_count, 1, 0);
    for (0..10) |_| _ = sys.task_yield();
    const ca = counters[0];
    const cb = counters[1];
    _ = check.truth("task.yield.round_robin", ca >= 9 and ca <= 11 and cb >= 9 and cb <= 11, "after 10 yields the two yielding tasks counted {d} and {d} (want 10 each)", .{ ca, cb });
    @atomicStore(bool, &counters_stop, true, .release);
    if (a >= 0) _ = sys.task_join(sys.handle(a), sys.infinite);
    if (b >= 0) _ = sys.task_join(sys.handle(b), sys.infinite);

    self_ids = .{ -1, -1, -1, -1 };
    var selves: [3]i64 = undefined;
    for (&selves, 0..) |*slot, index| slot.* = spawn(&t_self, index, 0);
    for (selves) |task| if (task >= 0) {
        _ = sys.task_join(sys.handle(task), sys.infinite);
    };
    const distinct = self_ids[0] != self_ids[1] and self_ids[1] != self_ids[2] and self_ids[0] != self_ids[2];
    _ = check.truth("task.self.in_tasks", self_ids[0] > 0 and self_ids[1] > 0 and self_ids[2] > 0 and distinct, "ids {d} {d} {d} (want > 0 and distinct)", .{ self_ids[0], self_ids[1], self_ids[2] });

    join_status("task.stack_aligned_16", spawn(&t_align, 0, 0), 1);

    const expected = [2]f64{ fp_work(1, false), fp_work(2, false) };
    const f0 = spawn(&t_fp, 0, 0);
    const f1 = spawn(&t_fp, 1, 0);
    if (f0 >= 0) _ = sys.task_join(sys.handle(f0), sys.infinite);
    if (f1 >= 0) _ = sys.task_join(sys.handle(f1), sys.infinite);
    _ = check.truth("task.floating_point_across_yields", fp_results[0] == expected[0] and fp_results[1] == expected[1], "got {d} {d}, want {d} {d}", .{ fp_results[0], fp_results[1], expected[0], expected[1] });

    join_status("task.stack.default_holds_48k", spawn(&t_stack_48k, 0, 0), expected_stack_sum(48 * 1024));
    join_status("task.stack.max_holds_48k", spawn(&t_stack_48k, 0, limits.stack), expected_stack_sum(48 * 1024));
    join_status("task.stack.16k_holds_12k", spawn(&t_stack_12k, 0, 16 * 1024), expected_stack_sum(12 * 1024));
    join_status("task.spawn.nested", spawn(&t_nested, 0, 0), 10);

    _ = check.err("task.spawn.stack_over_max", spawn(&t_return, 0, limits.stack + 1), .out_of_range);
    _ = check.err("task.spawn.stack_1MiB", spawn(&t_return, 0, 1 << 20), .out_of_range);
    _ = check.err("task.spawn.stack_u64_max", spawn(&t_return, 0, sys.max_u64), .out_of_range);
    const tiny = spawn(&t_return, 3, 1);
    if (check.ok_or("task.spawn.stack_1_byte", tiny, &.{.out_of_range})) {
        if (tiny >= 0) _ = check.value("task.spawn.stack_1_byte.runs", sys.task_join(sys.handle(tiny), sys.infinite), 3);
    }
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "task.spawn.entry_{s}", .{label}) catch "task.spawn.entry", sys.task_spawn(address, 0, 0), .bad_pointer);
    }

    _ = check.value("task.sleep.zero", sys.task_sleep(0), 0);
    const t0 = sys.now();
    _ = check.value("task.sleep.returns_0", sys.task_sleep(2 * ms), 0);
    const slept = sys.since(t0);
    _ = check.truth("task.sleep.at_least", slept >= 2 * ms, "sleep(2 ms) took {d} ns", .{slept});
}

// ---- Join ---------------------------------------------------------------------------------------

var gate_results: [80]i64 = undefined;
/// Blocks receiving on channel (argument & 0xffffffff); stores the result in gate_results[argument >> 32].
fn t_gate(argument: u64) callconv(.c) u32 {
    var b: [16]u8 = undefined;
    const result = sys.recv(@truncate(argument), sys.addr(&b), b.len, 0);
    gate_results[@intCast(argument >> 32)] = result;
    return if (result == sys.err(.closed)) 100 else if (result >= 0) 200 else 300;
}
fn t_join_other(argument: u64) callconv(.c) u32 {
    const result = sys.task_join(@truncate(argument), sys.infinite);
    return if (result >= 0) @truncate(@as(u64, @intCast(result))) else 999;
}

fn join_checks() void {
    check.section("join");
    // A finished task: join with timeout 0 still returns its status.
    const done = spawn(&t_return, 5, 0);
    _ = sys.task_sleep(ms);
    if (done >= 0) {
        _ = check.value("task.join.finished_timeout_0", sys.task_join(sys.handle(done), 0), 5);
        _ = check.err("task.join.released_after_join", sys.task_join(sys.handle(done), 0), .bad_handle);
    } else check.fail("task.join.finished_timeout_0", "spawn failed", .{});

    const gate = sys.channel_create(1, 16);
    if (check.quiet("join.gate", gate) == null) return;
    const g = sys.handle(gate);
    const waiting = spawn(&t_gate, g, 0);
    if (check.quiet("join.spawn", waiting) == null) return;
    const w = sys.handle(waiting);
    _ = sys.task_yield();
    _ = check.err("task.join.running_timeout_0", sys.task_join(w, 0), .timed_out);
    const t0 = sys.now();
    _ = check.err("task.join.timeout_2ms", sys.task_join(w, 2 * ms), .timed_out);
    const waited = sys.since(t0);
    _ = check.truth("task.join.timeout_waits", waited >= 2 * ms and waited < 2000 * ms, "join(2 ms) returned after {d} ns", .{waited});
    _ = sys.send(g, s("go"), 2, 0);
    _ = check.value("task.join.after_timeout_still_joinable", sys.task_join(w, sys.infinite), 200);
    release(g);

    // Another task may join.
    const gate2 = sys.channel_create(1, 16);
    if (gate2 >= 0) {
        const g2 = sys.handle(gate2);
        const target = spawn(&t_gate, @as(u64, g2) | (1 << 32), 0);
        const joiner = spawn(&t_join_other, if (target >= 0) @as(u64, sys.handle(target)) else 0, 0);
        _ = sys.task_yield();
        _ = sys.send(g2, s("go"), 2, 0);
        join_status("task.join.from_another_task", joiner, 200);
        if (target >= 0) _ = check.err("task.join.released_by_other_joiner", sys.task_join(sys.handle(target), 0), .bad_handle);
        release(g2);
    }

    for ([_]u32{ 0, 999, 0x7fff_ffff, sys.max_u32 }) |bad| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "task.join.bad_handle_{d}", .{bad}) catch "task.join.bad", sys.task_join(bad, 0), .bad_handle);
    }
    _ = check.err("task.join.console", sys.task_join(abi.handle_console, 0), .bad_handle);
    const channel = sys.channel_create(1, 1);
    if (channel >= 0) {
        _ = check.err("task.join.channel", sys.task_join(sys.handle(channel), 0), .bad_handle);
        release(sys.handle(channel));
    }
}

fn spawn_limit_checks() void {
    check.section("spawn limit");
    const gate = sys.channel_create(1, 16);
    if (check.quiet("spawn_limit.gate", gate) == null) return;
    const g = sys.handle(gate);
    var handles: [1024]u32 = undefined;
    var count: usize = 0;
    var last: i64 = 0;
    while (count < handles.len) {
        last = spawn(&t_gate, g | (@as(u64, @min(count, 79)) << 32), 0);
        if (last < 0) break;
        handles[count] = sys.handle(last);
        count += 1;
    }
    _ = check.err("task.spawn.limit_reached", last, .limit_reached);
    _ = check.truth("task.spawn.limit_is_tasks_max", count + 1 == limits.tasks, "{d} tasks could be spawned besides the first; expected {d}", .{ count, limits.tasks - 1 });
    _ = sys.task_yield(); // every task blocks on the gate
    _ = check.value("io.close.wakes_blocked_receivers", sys.io_close(g), 0);
    var woken: usize = 0;
    for (handles[0..count]) |task| {
        if (sys.task_join(task, 5000 * ms) == 100) woken += 1;
    }
    _ = check.truth("ipc.recv.blocked_receivers_get_closed", woken == count, "{d} of {d} blocked receivers returned closed", .{ woken, count });
    // The slots are free again.
    var again: usize = 0;
    while (again < count) : (again += 1) {
        const result = spawn(&t_return, again, 0);
        if (result < 0) break;
        handles[again] = sys.handle(result);
    }
    var joined: usize = 0;
    for (handles[0..again], 0..) |task, index| {
        if (sys.task_join(task, sys.infinite) == index) joined += 1;
    }
    _ = check.truth("task.spawn.slots_reused", again == count and joined == count, "after joining, {d} of {d} spawns worked and {d} joined", .{ again, count, joined });
    _ = sys.io_close(g);
    const close_task = spawn(&t_return, 0, 0);
    if (close_task >= 0) {
        _ = check.errs("io.close.task", sys.io_close(sys.handle(close_task)), &.{ .unsupported, .bad_handle });
        _ = sys.task_join(sys.handle(close_task), sys.infinite);
    }
}

// ---- Console ------------------------------------------------------------------------------------

fn console_checks() void {
    check.section("console");
    const line = "console write ok\n";
    _ = check.value("io.write.console", sys.io_write(abi.handle_console, s(line), line.len), line.len);
    _ = check.value("io.write.console_empty", sys.io_write(abi.handle_console, s(line), 0), 0);
    _ = check.err("io.write.console_too_large", sys.io_write(abi.handle_console, sys.addr(&big), abi.write_bytes_max + 1), .too_large);
    _ = check.errs("io.write.console_length_2^40", sys.io_write(abi.handle_console, sys.addr(&big), 1 << 40), &.{ .too_large, .bad_pointer });
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "io.write.console_{s}", .{label}) catch "io.write", sys.io_write(abi.handle_console, address, 5), .bad_pointer);
    }
    _ = check.err("io.write.console_wrapping_range", sys.io_write(abi.handle_console, 0xffff_ffff_ffff_fff0, 32), .bad_pointer);
    _ = check.err("io.write.console_crosses_4GiB", sys.io_write(abi.handle_console, (4 << 30) - 8, 64), .bad_pointer);
    for ([_]u32{ 0, 999, sys.max_u32 }) |bad| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "io.write.bad_handle_{d}", .{bad}) catch "io.write.bad", sys.io_write(bad, s(line), 3), .bad_handle);
    }
    _ = check.errs("io.read.console", sys.io_read(abi.handle_console, sys.addr(&buf), 16), &.{ .unsupported, .bad_handle });
    _ = check.errs("io.close.console", sys.io_close(abi.handle_console), &.{ .unsupported, .bad_handle });
    const again = "console still open\n";
    _ = check.value("io.write.console_after_close_attempt", sys.io_write(abi.handle_console, s(again), again.len), again.len);
}

// ---- Files --------------------------------------------------------------------------------------

fn file_checks(context: ukernel.Context) void {
    check.section("files");
    const path = "etc/ukernel.env";
    const opened = sys.io_open(s(path), path.len, 0);
    if (check.ok("io.open.env", opened)) |file| {
        const h = sys.handle(file);
        // Read in 7-byte pieces to the end.
        var total: usize = 0;
        var reads: usize = 0;
        while (total + 7 <= big.len and reads < 20_000) : (reads += 1) {
            const n = sys.io_read(h, sys.addr(&big) + total, 7);
            if (n <= 0) {
                _ = check.value("io.read.eof_is_0", n, 0);
                break;
            }
            if (n > 7) {
                check.fail("io.read.at_most_buffer", "read returned {d} for a 7-byte buffer", .{n});
                break;
            }
            total += @intCast(n);
        }
        const content = big[0..total];
        var missing: usize = 0;
        for (context.env) |entry| {
            if (std.mem.indexOf(u8, content, std.mem.span(entry)) == null) missing += 1;
        }
        _ = check.truth("io.read.env_content", total > 0 and missing == 0, "read {d} bytes; {d} of {d} environment entries not found in it", .{ total, missing, context.env.len });
        _ = check.value("io.read.eof_again", sys.io_read(h, sys.addr(&buf), buf.len), 0);
        _ = check.value("io.read.zero_length", sys.io_read(h, sys.addr(&buf), 0), 0);
        for (sys.bad_addresses, sys.bad_address_names) |address, label| {
            var name: [64]u8 = undefined;
            _ = check.err(std.fmt.bufPrint(&name, "io.read.file_{s}", .{label}) catch "io.read", sys.io_read(h, address, 16), .bad_pointer);
        }
        _ = check.errs("io.read.file_length_2^40", sys.io_read(h, sys.addr(&buf), 1 << 40), &.{ .bad_pointer, .too_large });
        _ = check.errs("io.write.file", sys.io_write(h, s("x"), 1), &.{ .unsupported, .bad_handle });
        _ = check.errs("ipc.send.file", sys.send(h, s("x"), 1, sys.nonblocking), &.{.bad_handle});
        _ = check.errs("ipc.recv.file", sys.recv(h, sys.addr(&buf), 16, sys.nonblocking), &.{.bad_handle});
        _ = check.err("mem.arena_alloc.file", sys.arena_alloc(h, 8, 8), .bad_handle);
        _ = check.value("io.close.file", sys.io_close(h), 0);
        _ = check.err("io.close.file_twice", sys.io_close(h), .bad_handle);
        _ = check.err("io.read.after_close", sys.io_read(h, sys.addr(&buf), 16), .bad_handle);
    }

    // The ELF: header bytes, and reading the whole file in 64 KiB pieces ends.
    const elf_path = "bin/main";
    const elf = sys.io_open(s(elf_path), elf_path.len, 0);
    if (check.ok("io.open.bin_main", elf)) |file| {
        const h = sys.handle(file);
        const n = sys.io_read(h, sys.addr(&buf), 4);
        _ = check.truth("io.read.elf_magic", n == 4 and std.mem.eql(u8, buf[0..4], "\x7fELF"), "first read returned {d}: {x}", .{ n, buf[0..4] });
        var total: u64 = 4;
        var rounds: usize = 0;
        var last: i64 = 0;
        while (rounds < 10_000) : (rounds += 1) {
            last = sys.io_read(h, sys.addr(&big), 65536);
            if (last <= 0) break;
            total += @intCast(last);
        }
        _ = check.truth("io.read.whole_file", last == 0 and total > 4096, "read {d} bytes, last result {d}", .{ total, last });
        _ = sys.io_close(h);
    }

    stat_list_checks();

    _ = check.err("io.open.not_found", sys.io_open(s("etc/nope"), 8, 0), .not_found);
    _ = check.err("io.open.not_found_prefix", sys.io_open(s("bin/mai"), 7, 0), .not_found);
    _ = check.err("io.open.not_found_longer", sys.io_open(s("bin/main2"), 9, 0), .not_found);
    _ = check.errs("io.open.empty_path", sys.io_open(s(path), 0, 0), &.{ .not_found, .out_of_range });
    _ = check.errs("io.open.absolute_path", sys.io_open(s("/etc/ukernel.env"), 16, 0), &.{ .not_found, .out_of_range });
    _ = check.errs("io.open.dotdot", sys.io_open(s("etc/../etc/ukernel.env"), 22, 0), &.{ .not_found, .out_of_range });
    const directory = sys.io_open(s("etc"), 3, 0);
    if (check.ok_or("io.open.directory", directory, &.{ .not_found, .out_of_range, .unsupported })) {
        if (directory >= 0) _ = sys.io_close(sys.handle(directory));
    }
    @memset(big[0..300], 'a');
    _ = check.errs("io.open.path_300_bytes", sys.io_open(sys.addr(&big), 300, 0), &.{ .not_found, .out_of_range });
    _ = check.errs("io.open.path_length_2^40", sys.io_open(sys.addr(&big), 1 << 40, 0), &.{ .bad_pointer, .out_of_range });
    _ = check.err("io.open.flags_1", sys.io_open(s(path), path.len, 1), .out_of_range);
    _ = check.err("io.open.flags_u32_max", sys.io_open(s(path), path.len, sys.max_u32), .out_of_range);
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "io.open.path_{s}", .{label}) catch "io.open", sys.io_open(address, 15, 0), .bad_pointer);
    }
    for ([_]u32{ 0, 999, sys.max_u32 }) |bad| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "io.read.bad_handle_{d}", .{bad}) catch "io.read.bad", sys.io_read(bad, sys.addr(&buf), 16), .bad_handle);
        _ = check.err(std.fmt.bufPrint(&name, "io.close.bad_handle_{d}", .{bad}) catch "io.close.bad", sys.io_close(bad), .bad_handle);
    }
}

/// Files, arenas and channels up to their limits, all held at once; then everything released
/// and created again. (The 256-entry handle table itself cannot fill: the per-kind limits add up
/// to less.)
fn kind_limit_checks() void {
    check.section("kind limits");
    const path = "etc/ukernel.env";
    var files: [512]u32 = undefined;
    var arenas: [512]u32 = undefined;
    var channels: [512]u32 = undefined;
    var nf: usize = 0;
    var na: usize = 0;
    var nc: usize = 0;
    var last: i64 = 0;
    while (nf < files.len) : (nf += 1) {
        last = sys.io_open(s(path), path.len, 0);
        if (last < 0) break;
        files[nf] = sys.handle(last);
    }
    _ = check.err("io.open.limit_reached", last, .limit_reached);
    _ = check.truth("io.open.limit_is_files_max", nf == limits.files, "{d} files open at once; limit {d}", .{ nf, limits.files });
    while (na < arenas.len) : (na += 1) {
        last = sys.arena_create(4096);
        if (last < 0) break;
        arenas[na] = sys.handle(last);
    }
    _ = check.err("mem.arena_create.limit_reached", last, .limit_reached);
    _ = check.truth("mem.arena_create.limit_is_arenas_max", na == limits.arenas, "{d} arenas at once; limit {d}", .{ na, limits.arenas });
    while (nc < channels.len) : (nc += 1) {
        last = sys.channel_create(1, 1);
        if (last < 0) break;
        channels[nc] = sys.handle(last);
    }
    _ = check.err("ipc.channel_create.limit_reached_with_others_held", last, .limit_reached);
    _ = check.truth("ipc.channel_create.limit_with_others_held", nc == limits.channels, "{d} channels with {d} files and {d} arenas open; limit {d}", .{ nc, nf, na, limits.channels });
    check.pass_note("handles.held_at_once", "{d} files + {d} arenas + {d} channels + console", .{ nf, na, nc });
    var failed: usize = 0;
    for (files[0..nf]) |h| {
        if (sys.io_close(h) != 0) failed += 1;
    }
    for (arenas[0..na]) |h| {
        if (sys.arena_destroy(h) != 0) failed += 1;
    }
    for (channels[0..nc]) |h| {
        if (sys.io_close(h) != 0 or sys.io_close(h) != 0) failed += 1;
    }
    _ = check.truth("handles.release_all", failed == 0, "{d} releases failed", .{failed});
    const file = sys.io_open(s(path), path.len, 0);
    const arena = sys.arena_create(4096);
    const channel = sys.channel_create(1, 1);
    _ = check.truth("handles.reusable_after_release", file >= 0 and arena >= 0 and channel >= 0, "open {s}, arena {s}, channel {s}", .{ sys.name(file), sys.name(arena), sys.name(channel) });
    if (file >= 0) _ = sys.io_close(sys.handle(file));
    if (arena >= 0) _ = sys.arena_destroy(sys.handle(arena));
    if (channel >= 0) release(sys.handle(channel));
}

// ---- Channels -----------------------------------------------------------------------------------

fn recv_text(name: []const u8, channel: u32, want: []const u8) void {
    @memset(buf[0..80], 0xee);
    const n = sys.recv(channel, sys.addr(&buf), 64, sys.nonblocking);
    if (n >= 0 and n == want.len and std.mem.eql(u8, buf[0..want.len], want) and buf[want.len] == 0xee and buf[64] == 0xee) {
        check.pass(name);
    } else {
        var b: [32]u8 = undefined;
        check.fail(name, "expected \"{s}\", got {s} \"{s}\"", .{ want, sys.show(&b, n), buf[0..@min(@as(usize, @intCast(@max(n, 0))), 64)] });
    }
}

fn channel_checks() void {
    check.section("channels");
    const depth: u32 = @intCast(limits.depth);
    const message: u32 = @intCast(limits.message);
    _ = check.err("ipc.channel_create.capacity_0", sys.channel_create(0, 16), .out_of_range);
    _ = check.err("ipc.channel_create.capacity_over_max", sys.channel_create(depth + 1, 16), .out_of_range);
    _ = check.err("ipc.channel_create.capacity_u32_max", sys.channel_create(sys.max_u32, 16), .out_of_range);
    _ = check.err("ipc.channel_create.message_0", sys.channel_create(1, 0), .out_of_range);
    _ = check.err("ipc.channel_create.message_over_max", sys.channel_create(1, message + 1), .out_of_range);
    _ = check.err("ipc.channel_create.message_u32_max", sys.channel_create(1, sys.max_u32), .out_of_range);
    const deep = sys.channel_create(depth, 1);
    if (check.ok("ipc.channel_create.capacity_max", deep)) |h| {
        var sent: u32 = 0;
        while (sent < depth + 1) : (sent += 1) if (sys.send(sys.handle(h), s("z"), 1, sys.nonblocking) != 0) break;
        _ = check.truth("ipc.send.holds_capacity_messages", sent == depth, "{d} nonblocking sends fit in a channel of capacity {d}", .{ sent, depth });
        release(sys.handle(h));
    }
    const wide = sys.channel_create(1, message);
    if (check.ok("ipc.channel_create.message_max", wide)) |h| {
        for (big[0..message], 0..) |*byte, index| byte.* = @truncate(index *% 7);
        _ = check.value("ipc.send.message_max", sys.send(sys.handle(h), sys.addr(&big), message, sys.nonblocking), 0);
        @memset(big[0..message], 0);
        const n = sys.recv(sys.handle(h), sys.addr(&big), message, sys.nonblocking);
        var intact = n == message;
        for (big[0..message], 0..) |byte, index| {
            if (byte != @as(u8, @truncate(index *% 7))) intact = false;
        }
        _ = check.truth("ipc.recv.message_max", intact, "recv returned {d}, content intact: {}", .{ n, intact });
        release(sys.handle(h));
    }

    const created = sys.channel_create(4, 64);
    const ch = sys.handle(check.ok("ipc.channel_create", created) orelse return);
    _ = check.err("ipc.recv.empty_would_block", sys.recv(ch, sys.addr(&buf), 64, sys.nonblocking), .would_block);
    _ = check.value("ipc.send.a", sys.send(ch, s("a"), 1, sys.nonblocking), 0);
    _ = check.value("ipc.send.bb", sys.send(ch, s("bb"), 2, sys.nonblocking), 0);
    _ = check.value("ipc.send.ccc", sys.send(ch, s("ccc"), 3, sys.nonblocking), 0);
    _ = check.value("ipc.send.dddd", sys.send(ch, s("dddd"), 4, 0), 0);
    _ = check.err("ipc.send.full_would_block", sys.send(ch, s("e"), 1, sys.nonblocking), .would_block);
    recv_text("ipc.recv.fifo_1", ch, "a");
    recv_text("ipc.recv.fifo_2", ch, "bb");
    recv_text("ipc.recv.fifo_3", ch, "ccc");
    @memset(buf[0..80], 0xee);
    _ = check.value("ipc.recv.blocking_with_message", sys.recv(ch, sys.addr(&buf), 64, 0), 4);
    _ = check.err("ipc.recv.drained_would_block", sys.recv(ch, sys.addr(&buf), 64, sys.nonblocking), .would_block);

    _ = check.err("ipc.send.over_message_max", sys.send(ch, sys.addr(&big), 65, sys.nonblocking), .too_large);
    _ = check.value("ipc.send.empty_message", sys.send(ch, s("x"), 0, sys.nonblocking), 0);
    _ = check.value("ipc.recv.empty_message", sys.recv(ch, sys.addr(&buf), 64, sys.nonblocking), 0);

    // A buffer shorter than the message: too_large, and the message stays.
    _ = sys.send(ch, s("0123456789"), 10, sys.nonblocking);
    _ = check.err("ipc.recv.buffer_too_small", sys.recv(ch, sys.addr(&buf), 5, sys.nonblocking), .too_large);
    recv_text("ipc.recv.too_small_keeps_message", ch, "0123456789");

    // Exact-size buffer: nothing written past it.
    _ = sys.send(ch, s("12345678"), 8, sys.nonblocking);
    @memset(buf[0..16], 0xee);
    const exact = sys.recv(ch, sys.addr(&buf), 8, sys.nonblocking);
    _ = check.truth("ipc.recv.exact_buffer_no_overrun", exact == 8 and std.mem.eql(u8, buf[0..8], "12345678") and buf[8] == 0xee, "recv returned {d}, byte after buffer 0x{x}", .{ exact, buf[8] });

    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "ipc.send.message_{s}", .{label}) catch "ipc.send", sys.send(ch, address, 4, sys.nonblocking), .bad_pointer);
    }
    _ = sys.send(ch, s("kept"), 4, sys.nonblocking);
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "ipc.recv.buffer_{s}", .{label}) catch "ipc.recv", sys.recv(ch, address, 64, sys.nonblocking), .bad_pointer);
    }
    recv_text("ipc.recv.bad_buffer_keeps_message", ch, "kept");
    _ = check.errs("ipc.recv.empty_bad_buffer", sys.recv(ch, sys.p_null, 64, sys.nonblocking), &.{ .bad_pointer, .would_block });

    for ([_]u32{ 0, 999, sys.max_u32, abi.handle_console }) |bad| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "ipc.send.bad_handle_{d}", .{bad}) catch "ipc.send.bad", sys.send(bad, s("x"), 1, sys.nonblocking), .bad_handle);
        _ = check.err(std.fmt.bufPrint(&name, "ipc.recv.bad_handle_{d}", .{bad}) catch "ipc.recv.bad", sys.recv(bad, sys.addr(&buf), 16, sys.nonblocking), .bad_handle);
    }

    // io.write / io.read on a channel: one message each.
    _ = check.value("io.write.channel", sys.io_write(ch, s("abc"), 3), 3);
    @memset(buf[0..8], 0);
    const n = sys.io_read(ch, sys.addr(&buf), 64);
    _ = check.truth("io.read.channel", n == 3 and std.mem.eql(u8, buf[0..3], "abc"), "io.read returned {d}", .{n});
    _ = check.err("io.write.channel_over_message_max", sys.io_write(ch, sys.addr(&big), 65), .too_large);
    _ = sys.send(ch, s("0123456789"), 10, sys.nonblocking);
    _ = check.err("io.read.channel_buffer_too_small", sys.io_read(ch, sys.addr(&buf), 4), .too_large);
    _ = sys.recv(ch, sys.addr(&buf), 64, sys.nonblocking);
    _ = check.value("io.close.channel", sys.io_close(ch), 0);
    _ = check.err("io.close.channel_closed_recv", sys.recv(ch, sys.addr(&buf), 64, sys.nonblocking), .closed);
    _ = check.value("io.close.channel_second_close_releases", sys.io_close(ch), 0);
    _ = check.err("io.close.channel_third_close", sys.io_close(ch), .bad_handle);
    _ = check.err("ipc.send.released_channel", sys.send(ch, s("x"), 1, sys.nonblocking), .bad_handle);
}

var blocked_results: [4]i64 = .{ 0, 0, 0, 0 };
fn t_blocked_send(argument: u64) callconv(.c) u32 {
    blocked_results[@intCast(argument >> 32)] = sys.send(@truncate(argument), s("late"), 4, 0);
    return 0;
}
fn t_blocked_recv(argument: u64) callconv(.c) u32 {
    var b: [16]u8 = undefined;
    blocked_results[@intCast(argument >> 32)] = sys.recv(@truncate(argument), sys.addr(&b), b.len, 0);
    return 0;
}

fn close_checks() void {
    check.section("channel close");
    // Drain, then closed.
    const created = sys.channel_create(4, 16);
    const ch = sys.handle(check.quiet("close.channel", created) orelse return);
    _ = sys.send(ch, s("one"), 3, sys.nonblocking);
    _ = sys.send(ch, s("two"), 3, sys.nonblocking);
    _ = check.value("io.close.channel_with_messages", sys.io_close(ch), 0);
    _ = check.err("ipc.send.after_close", sys.send(ch, s("x"), 1, sys.nonblocking), .closed);
    _ = check.err("ipc.send.after_close_blocking", sys.send(ch, s("x"), 1, 0), .closed);
    _ = check.err("io.write.after_close", sys.io_write(ch, s("x"), 1), .closed);
    recv_text("ipc.recv.after_close_drains_1", ch, "one");
    @memset(buf[0..8], 0);
    const second = sys.recv(ch, sys.addr(&buf), 16, 0);
    _ = check.truth("ipc.recv.after_close_drains_2_blocking", second == 3 and std.mem.eql(u8, buf[0..3], "two"), "got {d}", .{second});
    _ = check.err("ipc.recv.closed_and_drained", sys.recv(ch, sys.addr(&buf), 16, sys.nonblocking), .closed);
    _ = check.err("ipc.recv.closed_and_drained_blocking", sys.recv(ch, sys.addr(&buf), 16, 0), .closed);
    _ = check.err("io.read.closed_and_drained", sys.io_read(ch, sys.addr(&buf), 16), .closed);
    _ = check.ok_or("io.close.channel_twice", sys.io_close(ch), &.{.bad_handle});
    _ = sys.io_close(ch);

    // A receiver blocked on an empty channel gets closed.
    const c2 = sys.channel_create(1, 16);
    if (check.quiet("close.c2", c2)) |h| {
        blocked_results[0] = 12345;
        const task = spawn(&t_blocked_recv, sys.handle(h), 0);
        _ = sys.task_yield();
        _ = check.truth("ipc.recv.blocks_on_empty", blocked_results[0] == 12345, "the receiver returned {d} before anything was sent", .{blocked_results[0]});
        _ = sys.io_close(sys.handle(h));
        if (task >= 0) _ = sys.task_join(sys.handle(task), 5000 * ms);
        _ = check.err("io.close.wakes_blocked_receiver", blocked_results[0], .closed);
        _ = sys.io_close(sys.handle(h));
    }
    // A sender blocked on a full channel gets closed; the message already in it can still be read.
    const c3 = sys.channel_create(1, 16);
    if (check.quiet("close.c3", c3)) |h| {
        _ = sys.send(sys.handle(h), s("first"), 5, sys.nonblocking);
        blocked_results[1] = 12345;
        const task = spawn(&t_blocked_send, @as(u64, sys.handle(h)) | (1 << 32), 0);
        _ = sys.task_yield();
        _ = check.truth("ipc.send.blocks_on_full", blocked_results[1] == 12345, "the sender returned {d} on a full channel", .{blocked_results[1]});
        _ = sys.io_close(sys.handle(h));
        if (task >= 0) _ = sys.task_join(sys.handle(task), 5000 * ms);
        _ = check.err("io.close.wakes_blocked_sender", blocked_results[1], .closed);
        recv_text("ipc.recv.after_close_keeps_earlier_message", sys.handle(h), "first");
        _ = check.err("ipc.recv.blocked_senders_message_not_delivered", sys.recv(sys.handle(h), sys.addr(&buf), 16, sys.nonblocking), .closed);
        _ = sys.io_close(sys.handle(h));
    }
}

var receiver_done: bool = false;
var main_blocked_in_send: bool = false;
fn t_receiver_one(argument: u64) callconv(.c) u32 {
    var b: [16]u8 = undefined;
    const saw_main_blocked = main_blocked_in_send;
    const n = sys.recv(@truncate(argument), sys.addr(&b), b.len, 0);
    receiver_done = n >= 0;
    return if (saw_main_blocked) 1 else 0;
}

fn backpressure_checks() void {
    check.section("backpressure");
    const created = sys.channel_create(2, 16);
    const ch = sys.handle(check.quiet("backpressure.channel", created) orelse return);
    _ = sys.send(ch, s("m1"), 2, sys.nonblocking);
    _ = sys.send(ch, s("m2"), 2, sys.nonblocking);
    _ = check.err("ipc.send.try_send_full", sys.send(ch, s("m3"), 2, sys.nonblocking), .would_block);
    receiver_done = false;
    main_blocked_in_send = false;
    const receiver = spawn(&t_receiver_one, ch, 0);
    main_blocked_in_send = true;
    const result = sys.send(ch, s("m3"), 2, 0);
    main_blocked_in_send = false;
    _ = check.value("ipc.send.blocking_full_completes", result, 0);
    _ = check.truth("ipc.send.blocking_waited_for_receiver", receiver_done, "the blocking send returned before the receiver made room", .{});
    if (receiver >= 0) _ = check.value("ipc.send.receiver_ran_while_sender_blocked", sys.task_join(sys.handle(receiver), sys.infinite), 1);
    recv_text("ipc.recv.after_backpressure_fifo_1", ch, "m2");
    recv_text("ipc.recv.after_backpressure_fifo_2", ch, "m3");
    release(ch);
}

// ---- Poll ---------------------------------------------------------------------------------------

var poll_sent_at: u64 = 0;
fn t_sleep_send(argument: u64) callconv(.c) u32 {
    _ = sys.task_sleep(ms);
    poll_sent_at = sys.now();
    return if (sys.send(@truncate(argument), s("w"), 1, 0) == 0) 0 else 1;
}

fn poll1(channel: u32, events: u16, timeout: u64, revents: *u16) i64 {
    var items = [1]abi.PollItem{.{ .handle = channel, .events = events, .revents = 0xffff }};
    const result = sys.io_poll(sys.addr(&items), 1, timeout);
    revents.* = items[0].revents;
    return result;
}

fn poll_expect(name: []const u8, channel: u32, events: u16, timeout: u64, want_count: i64, want_revents: u16) void {
    var revents: u16 = 0;
    const result = poll1(channel, events, timeout, &revents);
    var b: [32]u8 = undefined;
    if (result == want_count and revents == want_revents) check.pass(name) else check.fail(name, "expected ok({d}) revents=0x{x}, got {s} revents=0x{x}", .{ want_count, want_revents, sys.show(&b, result), revents });
}

fn poll_checks() void {
    check.section("poll");
    const R = abi.poll_readable;
    const W = abi.poll_writable;
    const C = abi.poll_closed;
    const created = sys.channel_create(2, 16);
    const ch = sys.handle(check.quiet("poll.channel", created) orelse return);
    poll_expect("io.poll.empty_not_readable", ch, R, 0, 0, 0);
    poll_expect("io.poll.empty_writable", ch, W, 0, 1, W);
    poll_expect("io.poll.empty_read_write", ch, R | W, 0, 1, W);
    _ = sys.send(ch, s("p"), 1, sys.nonblocking);
    poll_expect("io.poll.one_message_readable_writable", ch, R | W, 0, 1, R | W);
    _ = sys.send(ch, s("q"), 1, sys.nonblocking);
    poll_expect("io.poll.full_not_writable", ch, W, 0, 0, 0);
    poll_expect("io.poll.full_readable", ch, R | W, 0, 1, R);
    poll_expect("io.poll.no_events_requested", ch, 0, 0, 0, 0);
    _ = sys.recv(ch, sys.addr(&buf), 16, sys.nonblocking);
    _ = sys.recv(ch, sys.addr(&buf), 16, sys.nonblocking);

    var t0 = sys.now();
    poll_expect("io.poll.timeout_returns_0", ch, R, 2 * ms, 0, 0);
    var waited = sys.since(t0);
    _ = check.truth("io.poll.timeout_waits", waited >= 2 * ms and waited < 2000 * ms, "poll(2 ms) returned after {d} ns", .{waited});

    const sender = spawn(&t_sleep_send, ch, 0);
    t0 = sys.now();
    poll_expect("io.poll.wakes_on_send", ch, R, sys.infinite, 1, R);
    const woke = sys.now();
    _ = check.truth("io.poll.woke_after_send", poll_sent_at != 0 and woke >= poll_sent_at and woke - t0 >= ms, "woke at {d}, sent at {d}, started {d}", .{ woke, poll_sent_at, t0 });
    if (sender >= 0) _ = sys.task_join(sys.handle(sender), sys.infinite);
    _ = sys.recv(ch, sys.addr(&buf), 16, sys.nonblocking);

    // Two items, only the second ready.
    const other = sys.channel_create(1, 16);
    if (other >= 0) {
        const o = sys.handle(other);
        _ = sys.send(o, s("r"), 1, sys.nonblocking);
        var items = [2]abi.PollItem{ .{ .handle = ch, .events = R, .revents = 0xffff }, .{ .handle = o, .events = R, .revents = 0xffff } };
        const result = sys.io_poll(sys.addr(&items), 2, 0);
        _ = check.truth("io.poll.two_items_one_ready", result == 1 and items[0].revents == 0 and items[1].revents == R, "result {d}, revents 0x{x} 0x{x}", .{ result, items[0].revents, items[1].revents });
        // Closed with a message left: readable, not yet closed; drained: closed.
        _ = sys.io_close(o);
        poll_expect("io.poll.closed_with_message_readable", o, R, 0, 1, R);
        _ = sys.recv(o, sys.addr(&buf), 16, sys.nonblocking);
        var revents: u16 = 0;
        const drained = poll1(o, R, 0, &revents);
        _ = check.truth("io.poll.closed_and_drained", drained == 1 and revents & C != 0 and revents & R == 0, "result {d} revents 0x{x} (want 1, closed set, readable clear)", .{ drained, revents });
        const forever = poll1(o, R, sys.infinite, &revents);
        _ = check.truth("io.poll.closed_does_not_block", forever == 1 and revents & C != 0, "result {d} revents 0x{x}", .{ forever, revents });
        _ = sys.io_close(o);
        poll_expect("io.poll.released_handle_not_ready", o, R, 0, 0, 0);
    }

    t0 = sys.now();
    _ = check.ok_or("io.poll.no_items_timeout_0", sys.io_poll(sys.addr(&buf), 0, 0), &.{});
    _ = check.ok_or("io.poll.no_items_null", sys.io_poll(0, 0, 0), &.{.bad_pointer});
    t0 = sys.now();
    _ = check.value("io.poll.no_items_sleeps", sys.io_poll(sys.addr(&buf), 0, ms), 0);
    waited = sys.since(t0);
    _ = check.truth("io.poll.no_items_waits_timeout", waited >= ms, "poll(no items, 1 ms) returned after {d} ns", .{waited});
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "io.poll.items_{s}", .{label}) catch "io.poll", sys.io_poll(address, 1, 0), .bad_pointer);
    }
    _ = check.errs("io.poll.count_u32_max", sys.io_poll(sys.addr(&buf), sys.max_u32, 0), &.{ .too_large, .bad_pointer });
    _ = check.err("io.poll.count_100000", sys.io_poll(sys.addr(&big), 100_000, 0), .too_large);
    var bad_items = [1]abi.PollItem{.{ .handle = 999, .events = R, .revents = 0xffff }};
    const bad = sys.io_poll(sys.addr(&bad_items), 1, 0);
    _ = check.truth("io.poll.bad_handle_item", bad >= 0 and bad_items[0].revents & R == 0, "result {d}, revents 0x{x} (want no crash, not readable)", .{ bad, bad_items[0].revents });
    // Misaligned items: either accepted or bad_pointer, never a crash.
    const misaligned = sys.addr(&buf) + 2;
    const item: abi.PollItem = .{ .handle = ch, .events = W, .revents = 0 };
    @memcpy(buf[2..10], std.mem.asBytes(&item));
    _ = check.ok_or("io.poll.misaligned_items", sys.io_poll(misaligned, 1, 0), &.{.bad_pointer});
    release(ch);
}

fn channel_limit_checks() void {
    check.section("channel limit");
    var handles: [1024]u32 = undefined;
    var count: usize = 0;
    var last: i64 = 0;
    while (count < handles.len) {
        last = sys.channel_create(1, 1);
        if (last < 0) break;
        handles[count] = sys.handle(last);
        count += 1;
    }
    _ = check.err("ipc.channel_create.limit_reached", last, .limit_reached);
    _ = check.truth("ipc.channel_create.limit_is_channels_max", count == limits.channels, "{d} channels could be created with every earlier channel released; limit {d}", .{ count, limits.channels });
    for (handles[0..count]) |h| _ = sys.io_close(h);
    const held = sys.channel_create(1, 1);
    _ = check.err("ipc.channel_create.closed_channels_still_count", held, .limit_reached);
    for (handles[0..count]) |h| _ = sys.io_close(h);
    const again = sys.channel_create(1, 1);
    if (check.ok("ipc.channel_create.after_release", again)) |h| release(sys.handle(h));
}

// ---- Memory -------------------------------------------------------------------------------------

fn zeroed(address: u64, bytes: u64) bool {
    const pointer: [*]const u8 = @ptrFromInt(address);
    for (pointer[0..bytes]) |byte| if (byte != 0) return false;
    return true;
}

fn arena_checks() void {
    check.section("arenas");
    const created = sys.arena_create(64 * 1024);
    const arena = sys.handle(check.ok("mem.arena_create", created) orelse return);
    const first = sys.arena_alloc(arena, 100, 16);
    if (check.ok("mem.arena_alloc", first)) |address| {
        const a: u64 = @intCast(address);
        _ = check.truth("mem.arena_alloc.aligned_16", a % 16 == 0, "address 0x{x}", .{a});
        _ = check.truth("mem.arena_alloc.zeroed", zeroed(a, 100), "memory not zeroed", .{});
        @memset(@as([*]u8, @ptrFromInt(a))[0..100], 0xaa);
        const page = sys.arena_alloc(arena, 10, 4096);
        if (page >= 0) {
            const p: u64 = @intCast(page);
            _ = check.truth("mem.arena_alloc.aligned_4096", p % 4096 == 0 and (p >= a + 100 or p + 10 <= a), "address 0x{x} (first at 0x{x})", .{ p, a });
        } else check.fail("mem.arena_alloc.aligned_4096", "alloc failed: {s}", .{sys.name(page)});
    }
    for ([_]u64{ 0, 3, 6, 8192, 1 << 63, sys.max_u64 }) |alignment| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "mem.arena_alloc.alignment_{d}", .{alignment}) catch "mem.arena_alloc.alignment", sys.arena_alloc(arena, 8, alignment), .out_of_range);
    }
    for ([_]u64{ 1, 2, 4, 8, 64, 256, 4096 }) |alignment| {
        const result = sys.arena_alloc(arena, 3, alignment);
        var name: [64]u8 = undefined;
        _ = check.truth(std.fmt.bufPrint(&name, "mem.arena_alloc.alignment_{d}_ok", .{alignment}) catch "mem.arena_alloc.align", result >= 0 and @as(u64, @intCast(@max(result, 0))) % alignment == 0, "result {d}", .{result});
    }
    _ = check.errs("mem.arena_alloc.2^40", sys.arena_alloc(arena, 1 << 40, 8), &.{ .no_memory, .out_of_range });
    _ = check.errs("mem.arena_alloc.u64_max", sys.arena_alloc(arena, sys.max_u64, 8), &.{ .no_memory, .out_of_range });
    _ = check.ok_or("mem.arena_alloc.zero_bytes", sys.arena_alloc(arena, 0, 8), &.{.out_of_range});
    _ = check.value("mem.arena_destroy", sys.arena_destroy(arena), 0);
    _ = check.err("mem.arena_alloc.after_destroy", sys.arena_alloc(arena, 8, 8), .bad_handle);
    _ = check.err("mem.arena_reset.after_destroy", sys.arena_reset(arena), .bad_handle);
    _ = check.err("mem.arena_destroy.twice", sys.arena_destroy(arena), .bad_handle);

    // Exhaustion, reset, zeroing after reset.
    const small = sys.arena_create(64 * 1024);
    if (check.quiet("arena.small", small)) |h| {
        const e = sys.handle(h);
        var addresses: [128]u64 = undefined;
        var count: usize = 0;
        var last: i64 = 0;
        while (count < addresses.len) {
            last = sys.arena_alloc(e, 1024, 8);
            if (last < 0) break;
            addresses[count] = @intCast(last);
            @memset(@as([*]u8, @ptrFromInt(addresses[count]))[0..1024], @truncate(count + 1));
            count += 1;
        }
        _ = check.err("mem.arena_alloc.exhausted_no_memory", last, .no_memory);
        _ = check.truth("mem.arena_alloc.capacity", count >= 48 and count <= 64, "{d} allocations of 1 KiB fit in a 64 KiB arena", .{count});
        var intact = true;
        for (addresses[0..count], 0..) |address, index| {
            for (@as([*]const u8, @ptrFromInt(address))[0..1024]) |byte| if (byte != @as(u8, @truncate(index + 1))) {
                intact = false;
            };
        }
        _ = check.truth("mem.arena_alloc.no_overlap", intact, "allocations overwrote each other", .{});
        _ = check.value("mem.arena_reset", sys.arena_reset(e), 0);
        var again: usize = 0;
        var all_zero = true;
        while (again < addresses.len) : (again += 1) {
            const result = sys.arena_alloc(e, 1024, 8);
            if (result < 0) break;
            if (!zeroed(@intCast(result), 1024)) all_zero = false;
        }
        _ = check.truth("mem.arena_reset.frees_all", again == count, "{d} allocations after reset, {d} before", .{ again, count });
        _ = check.truth("mem.arena_reset.memory_zeroed_again", all_zero, "memory handed out after reset was not zeroed", .{});
        _ = sys.arena_destroy(e);
    }

    _ = check.errs("mem.arena_create.zero", sys.arena_create(0), &.{.out_of_range});
    _ = check.errs("mem.arena_create.2^50", sys.arena_create(1 << 50), &.{ .no_memory, .out_of_range });
    _ = check.errs("mem.arena_create.u64_max", sys.arena_create(sys.max_u64), &.{ .no_memory, .out_of_range });

    // Destroy returns memory: 64 arenas of 4 MiB, used in full, one after the other.
    var worked: usize = 0;
    for (0..64) |_| {
        const result = sys.arena_create(4 << 20);
        if (result < 0) break;
        const a = sys.handle(result);
        const block = sys.arena_alloc(a, 4 << 20, 4096);
        _ = sys.arena_destroy(a);
        if (block < 0) break;
        worked += 1;
    }
    _ = check.truth("mem.arena_destroy.returns_memory", worked == 64, "only {d} of 64 create/alloc 4 MiB/destroy rounds worked (256 MiB in total, VM has less)", .{worked});

    // Wrong kinds.
    const channel = sys.channel_create(1, 1);
    if (channel >= 0) {
        _ = check.err("mem.arena_alloc.channel", sys.arena_alloc(sys.handle(channel), 8, 8), .bad_handle);
        _ = check.err("mem.arena_destroy.channel", sys.arena_destroy(sys.handle(channel)), .bad_handle);
        _ = check.err("mem.arena_reset.channel", sys.arena_reset(sys.handle(channel)), .bad_handle);
        release(sys.handle(channel));
    }
    _ = check.err("mem.arena_alloc.console", sys.arena_alloc(abi.handle_console, 8, 8), .bad_handle);
    _ = check.err("mem.arena_destroy.console", sys.arena_destroy(abi.handle_console), .bad_handle);
    for ([_]u32{ 0, 999, sys.max_u32 }) |bad| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "mem.arena_alloc.bad_handle_{d}", .{bad}) catch "mem.arena_alloc.bad", sys.arena_alloc(bad, 8, 8), .bad_handle);
        _ = check.err(std.fmt.bufPrint(&name, "mem.arena_reset.bad_handle_{d}", .{bad}) catch "mem.arena_reset.bad", sys.arena_reset(bad), .bad_handle);
        _ = check.err(std.fmt.bufPrint(&name, "mem.arena_destroy.bad_handle_{d}", .{bad}) catch "mem.arena_destroy.bad", sys.arena_destroy(bad), .bad_handle);
    }
    const arena_handle = sys.arena_create(4096);
    if (arena_handle >= 0) {
        const a = sys.handle(arena_handle);
        _ = check.errs("io.read.arena", sys.io_read(a, sys.addr(&buf), 16), &.{ .bad_handle, .unsupported });
        _ = check.errs("io.write.arena", sys.io_write(a, s("x"), 1), &.{ .bad_handle, .unsupported });
        _ = check.err("ipc.send.arena", sys.send(a, s("x"), 1, sys.nonblocking), .bad_handle);
        _ = check.err("task.join.arena", sys.task_join(a, 0), .bad_handle);
        _ = check.errs("io.close.arena", sys.io_close(a), &.{ .unsupported, .bad_handle });
        _ = sys.arena_destroy(a);
    }
}

const Allocation = struct { address: u64, bytes: u64, fill: u8 };

fn alloc_checks() void {
    check.section("alloc");
    var live: [64]Allocation = undefined;
    var count: usize = 0;
    var misaligned: usize = 0;
    var dirty: usize = 0;
    var failed: usize = 0;
    for ([_]u64{ 1, 7, 16, 100, 4096, 4097, 65536, 1 << 20 }) |bytes| {
        for ([_]u64{ 1, 8, 64, 4096 }) |alignment| {
            const result = sys.mem_alloc(bytes, alignment);
            if (result < 0) {
                failed += 1;
                continue;
            }
            const address: u64 = @intCast(result);
            if (address % alignment != 0) misaligned += 1;
            if (!zeroed(address, bytes)) dirty += 1;
            const fill: u8 = @truncate(count + 1);
            @memset(@as([*]u8, @ptrFromInt(address))[0..bytes], fill);
            live[count] = .{ .address = address, .bytes = bytes, .fill = fill };
            count += 1;
        }
    }
    _ = check.truth("mem.alloc.sizes_and_alignments", failed == 0, "{d} of 32 allocations failed", .{failed});
    _ = check.truth("mem.alloc.aligned", misaligned == 0, "{d} allocations misaligned", .{misaligned});
    _ = check.truth("mem.alloc.zeroed", dirty == 0, "{d} allocations not zeroed", .{dirty});
    var corrupted: usize = 0;
    for (live[0..count]) |allocation| {
        for (@as([*]const u8, @ptrFromInt(allocation.address))[0..allocation.bytes]) |byte| if (byte != allocation.fill) {
            corrupted += 1;
            break;
        };
    }
    _ = check.truth("mem.alloc.no_overlap", corrupted == 0, "{d} allocations overwritten by others", .{corrupted});
    var freed: usize = 0;
    for (live[0..count]) |allocation| {
        if (sys.mem_free(allocation.address, allocation.bytes) == 0) freed += 1;
    }
    _ = check.truth("mem.free.round_trip", freed == count, "{d} of {d} frees returned 0", .{ freed, count });

    // Freed memory is reused: 300 × 1 MiB is more than the VM has.
    var rounds: usize = 0;
    while (rounds < 300) : (rounds += 1) {
        const result = sys.mem_alloc(1 << 20, 4096);
        if (result < 0) break;
        @as(*volatile u8, @ptrFromInt(@as(u64, @intCast(result)) + 12345)).* = 1;
        if (sys.mem_free(@intCast(result), 1 << 20) != 0) break;
    }
    _ = check.truth("mem.free.returns_memory", rounds == 300, "only {d} of 300 alloc/free rounds of 1 MiB worked", .{rounds});

    // Churn: random sizes, contents checked before each free.
    var rng: sys.Rng = .{ .state = 42 };
    var pool: [32]Allocation = undefined;
    var used: usize = 0;
    var broken: usize = 0;
    var errors: usize = 0;
    for (0..3000) |step| {
        if (used == pool.len or (used > 0 and rng.chance(45))) {
            const index: usize = @intCast(rng.below(used));
            const allocation = pool[index];
            for (@as([*]const u8, @ptrFromInt(allocation.address))[0..allocation.bytes]) |byte| if (byte != allocation.fill) {
                broken += 1;
                break;
            };
            if (sys.mem_free(allocation.address, allocation.bytes) != 0) errors += 1;
            pool[index] = pool[used - 1];
            used -= 1;
        } else {
            const bytes = 1 + rng.below(if (rng.chance(10)) 200_000 else 2000);
            const alignment = @as(u64, 1) << @intCast(rng.below(13));
            const result = sys.mem_alloc(bytes, alignment);
            if (result < 0) {
                errors += 1;
                continue;
            }
            const address: u64 = @intCast(result);
            if (address % alignment != 0 or !zeroed(address, bytes)) broken += 1;
            const fill: u8 = @truncate(step | 1);
            @memset(@as([*]u8, @ptrFromInt(address))[0..bytes], fill);
            pool[used] = .{ .address = address, .bytes = bytes, .fill = fill };
            used += 1;
        }
    }
    for (pool[0..used]) |allocation| _ = sys.mem_free(allocation.address, allocation.bytes);
    _ = check.truth("mem.alloc.churn", broken == 0 and errors == 0, "3000 random alloc/free steps: {d} corrupted/misaligned/dirty, {d} failed calls", .{ broken, errors });

    for ([_]u64{ 0, 3, 6, 8192, 1 << 63 }) |alignment| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "mem.alloc.alignment_{d}", .{alignment}) catch "mem.alloc.alignment", sys.mem_alloc(8, alignment), .out_of_range);
    }
    _ = check.errs("mem.alloc.2^40", sys.mem_alloc(1 << 40, 8), &.{ .no_memory, .out_of_range });
    _ = check.errs("mem.alloc.u64_max", sys.mem_alloc(sys.max_u64, 8), &.{ .no_memory, .out_of_range });
    const zero = sys.mem_alloc(0, 8);
    if (check.ok_or("mem.alloc.zero_bytes", zero, &.{.out_of_range}) and zero > 0) _ = sys.mem_free(@intCast(zero), 0);

    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "mem.free.{s}", .{label}) catch "mem.free", sys.mem_free(address, 8), .bad_pointer);
    }
    _ = check.errs("mem.free.static_variable", sys.mem_free(sys.addr(&static_word), 8), &.{ .bad_pointer, .out_of_range });
    const one = sys.mem_alloc(64, 8);
    if (check.quiet("free.one", one)) |result| {
        const address: u64 = @intCast(result);
        _ = check.errs("mem.free.wrong_size_0", sys.mem_free(address, 0), &.{ .out_of_range, .bad_pointer });
        _ = check.errs("mem.free.wrong_size_2^40", sys.mem_free(address, 1 << 40), &.{ .out_of_range, .bad_pointer });
        _ = check.errs("mem.free.interior_pointer", sys.mem_free(address + 8, 56), &.{ .bad_pointer, .out_of_range });
        _ = check.value("mem.free", sys.mem_free(address, 64), 0);
        _ = check.errs("mem.free.double", sys.mem_free(address, 64), &.{ .bad_pointer, .out_of_range });
    }
}

// ---- Logs ---------------------------------------------------------------------------------------

fn field(key: []const u8, value_text: []const u8) abi.LogField {
    return .{ .key_pointer = s(key), .key_length = key.len, .value_pointer = s(value_text), .value_length = value_text.len };
}

fn log_checks() void {
    check.section("log");
    const message = "conformance log record";
    for (0..4) |level| {
        var name: [64]u8 = undefined;
        _ = check.value(std.fmt.bufPrint(&name, "log.write.level_{d}", .{level}) catch "log.write", sys.log_write(@intCast(level), s(message), message.len, 0, 0), 0);
    }
    _ = check.err("log.write.level_4", sys.log_write(4, s(message), message.len, 0, 0), .out_of_range);
    _ = check.err("log.write.level_u32_max", sys.log_write(sys.max_u32, s(message), message.len, 0, 0), .out_of_range);
    var fields: [20]abi.LogField = undefined;
    const keys = [_][]const u8{ "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11", "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19" };
    for (&fields, keys) |*f, key| f.* = field(key, "v");
    fields[0] = field("user", "ada");
    fields[1] = field("count", "3");
    _ = check.value("log.write.two_fields", sys.log_write(abi.log_level_info, s("with fields"), 11, sys.addr(&fields), 2), 0);
    _ = check.value("log.write.fields_max", sys.log_write(abi.log_level_info, s("sixteen fields"), 14, sys.addr(&fields), abi.log_fields_max), 0);
    _ = check.errs("log.write.fields_over_max", sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&fields), abi.log_fields_max + 1), &.{ .too_large, .out_of_range });
    _ = check.errs("log.write.fields_u32_max", sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&fields), sys.max_u32), &.{ .too_large, .out_of_range, .bad_pointer });
    _ = check.value("log.write.empty_message_with_field", sys.log_write(abi.log_level_info, s("x"), 0, sys.addr(&fields), 1), 0);
    _ = check.ok_or("log.write.null_fields_count_0", sys.log_write(abi.log_level_info, s("no fields"), 9, 0, 0), &.{.bad_pointer});
    _ = check.err("log.write.message_over_max", sys.log_write(abi.log_level_info, sys.addr(&big), abi.write_bytes_max + 1, 0, 0), .too_large);
    // write_bytes_max itself is allowed for the message, but the record would not fit an
    // events block with its header: refused rather than dropped.
    _ = check.err("log.write.record_over_events_block", sys.log_write(abi.log_level_info, sys.addr(&big), abi.write_bytes_max, 0, 0), .too_large);
    @memset(big[0..4096], 'm');
    _ = check.value("log.write.message_4096", sys.log_write(abi.log_level_debug, sys.addr(&big), 4096, 0, 0), 0);
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "log.write.message_{s}", .{label}) catch "log.write.message", sys.log_write(abi.log_level_info, address, 5, 0, 0), .bad_pointer);
        _ = check.err(std.fmt.bufPrint(&name, "log.write.fields_{s}", .{label}) catch "log.write.fields", sys.log_write(abi.log_level_info, s("x"), 1, address, 1), .bad_pointer);
    }
    var bad_fields = [1]abi.LogField{field("key", "value")};
    bad_fields[0].key_pointer = 0;
    _ = check.err("log.write.field_key_null", sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&bad_fields), 1), .bad_pointer);
    bad_fields[0] = field("key", "value");
    bad_fields[0].value_pointer = sys.p_high;
    _ = check.err("log.write.field_value_high", sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&bad_fields), 1), .bad_pointer);
    bad_fields[0] = field("key", "value");
    bad_fields[0].key_pointer = sys.addr(&big);
    bad_fields[0].key_length = 300;
    _ = check.errs("log.write.field_key_300_bytes", sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&bad_fields), 1), &.{ .too_large, .out_of_range });
    bad_fields[0] = field("key", "value");
    bad_fields[0].value_pointer = sys.addr(&big);
    bad_fields[0].value_length = 70_000;
    _ = check.errs("log.write.field_value_70000_bytes", sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&bad_fields), 1), &.{ .too_large, .out_of_range });
    bad_fields[0] = field("key", "value");
    bad_fields[0].value_length = 1 << 40;
    _ = check.errs("log.write.field_value_length_2^40", sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&bad_fields), 1), &.{ .too_large, .out_of_range, .bad_pointer });
    const misaligned = sys.addr(&buf) + 3;
    const one = field("misaligned", "yes");
    @memcpy(buf[3 .. 3 + @sizeOf(abi.LogField)], std.mem.asBytes(&one));
    _ = check.ok_or("log.write.misaligned_fields", sys.log_write(abi.log_level_info, s("x"), 1, misaligned, 1), &.{.bad_pointer});
}

// ---- Traces -------------------------------------------------------------------------------------

var child_spans: [2]i64 = .{ 0, 0 };
var child_durations: [2]i64 = .{ -1, -1 };
fn t_span_child(argument: u64) callconv(.c) u32 {
    const index: usize = @intCast(argument);
    const name = "conformance.child";
    child_spans[index] = sys.span_begin(s(name), name.len);
    _ = sys.task_yield();
    _ = sys.trace_event(s("conformance.child_event"), 23, argument);
    _ = sys.task_yield();
    child_durations[index] = if (child_spans[index] > 0) sys.span_end(@intCast(child_spans[index])) else -1;
    return 0;
}

fn trace_checks() void {
    check.section("trace");
    const outer = sys.span_begin(s("conformance.outer"), 17);
    const inner = sys.span_begin(s("conformance.inner"), 17);
    _ = check.truth("trace.span_begin.ids", outer > 0 and inner > 0 and outer != inner, "ids {d} and {d} (want > 0, distinct)", .{ outer, inner });
    ukernel.print("spans: outer={d} inner={d}\n", .{ outer, inner });
    _ = sys.task_sleep(ms);
    const inner_ns = if (inner > 0) sys.span_end(@intCast(inner)) else -1;
    const outer_ns = if (outer > 0) sys.span_end(@intCast(outer)) else -1;
    _ = check.truth("trace.span_end.duration", inner_ns >= ms and outer_ns >= inner_ns, "inner {d} ns (slept 1 ms), outer {d} ns", .{ inner_ns, outer_ns });
    if (inner > 0) _ = check.err("trace.span_end.twice", sys.span_end(@intCast(inner)), .out_of_range);
    _ = check.err("trace.span_end.zero", sys.span_end(0), .out_of_range);
    _ = check.err("trace.span_end.u64_max", sys.span_end(sys.max_u64), .out_of_range);
    _ = check.err("trace.span_end.never_issued", sys.span_end(@as(u64, @intCast(@max(outer, 0))) + 1_000_000), .out_of_range);

    // Spans in two tasks while the first task has one open: ids unique, every end works.
    const parent = sys.span_begin(s("conformance.parent"), 18);
    child_spans = .{ 0, 0 };
    child_durations = .{ -1, -1 };
    const a = spawn(&t_span_child, 0, 0);
    const b = spawn(&t_span_child, 1, 0);
    _ = sys.task_yield();
    const sibling = sys.span_begin(s("conformance.sibling"), 19);
    _ = sys.task_yield();
    if (a >= 0) _ = sys.task_join(sys.handle(a), sys.infinite);
    if (b >= 0) _ = sys.task_join(sys.handle(b), sys.infinite);
    const sibling_ns = if (sibling > 0) sys.span_end(@intCast(sibling)) else -1;
    const parent_ns = if (parent > 0) sys.span_end(@intCast(parent)) else -1;
    const ids = [_]i64{ parent, sibling, child_spans[0], child_spans[1] };
    var unique = true;
    for (ids, 0..) |x, i| for (ids[i + 1 ..]) |y| {
        if (x == y) unique = false;
    };
    _ = check.truth("trace.spans_across_tasks", unique and parent > 0 and sibling > 0 and child_spans[0] > 0 and child_spans[1] > 0 and child_durations[0] >= 0 and child_durations[1] >= 0 and sibling_ns >= 0 and parent_ns >= sibling_ns, "ids {d} {d} {d} {d}, durations {d} {d} {d} {d}", .{ ids[0], ids[1], ids[2], ids[3], child_durations[0], child_durations[1], sibling_ns, parent_ns });
    ukernel.print("spans: parent={d} sibling={d} child0={d} child1={d}\n", .{ ids[0], ids[1], ids[2], ids[3] });

    // Out of order: ending the outer span first.
    const x = sys.span_begin(s("conformance.x"), 13);
    const y = sys.span_begin(s("conformance.y"), 13);
    if (x > 0 and y > 0) {
        _ = check.ok_or("trace.span_end.out_of_order_outer", sys.span_end(@intCast(x)), &.{.out_of_range});
        _ = check.ok_or("trace.span_end.out_of_order_inner", sys.span_end(@intCast(y)), &.{.out_of_range});
    }

    // Many spans: ids never repeat.
    var previous: [100]i64 = undefined;
    var repeats: usize = 0;
    for (&previous, 0..) |*slot, index| {
        slot.* = sys.span_begin(s("conformance.many"), 16);
        if (slot.* > 0) _ = sys.span_end(@intCast(slot.*));
        for (previous[0..index]) |earlier| if (earlier == slot.*) {
            repeats += 1;
        };
    }
    _ = check.truth("trace.span_ids_unique", repeats == 0 and previous[0] > 0, "{d} repeated ids in 100 spans", .{repeats});

    // Open spans until the kernel's limit (if it has one within 1024), then close them all.
    var open: [1024]u64 = undefined;
    var count: usize = 0;
    var last: i64 = 0;
    while (count < open.len) {
        last = sys.span_begin(s("conformance.deep"), 16);
        if (last <= 0) break;
        open[count] = @intCast(last);
        count += 1;
    }
    if (last < 0) _ = check.err("trace.span_begin.limit_reached", last, .limit_reached) else check.pass_note("trace.span_begin.no_limit_within_1024", "{d} open", .{count});
    const opened = count;
    var ended: usize = 0;
    while (count > 0) {
        count -= 1;
        if (sys.span_end(open[count]) >= 0) ended += 1;
    }
    _ = check.truth("trace.span_end.after_limit", ended == opened and opened > 0, "ended {d} of {d} open spans", .{ ended, opened });

    const name64 = "conformance.name64." ++ ("x" ** 45);
    comptime std.debug.assert(name64.len == 64);
    const long = sys.span_begin(s(name64), 64);
    if (check.ok("trace.span_begin.name_64", long)) |id| _ = sys.span_end(@intCast(id));
    _ = check.err("trace.span_begin.name_65", sys.span_begin(sys.addr(&big), 65), .too_large);
    _ = check.errs("trace.span_begin.name_2^40", sys.span_begin(sys.addr(&big), 1 << 40), &.{ .too_large, .bad_pointer });
    const empty = sys.span_begin(s("x"), 0);
    if (check.ok_or("trace.span_begin.empty_name", empty, &.{.out_of_range}) and empty > 0) _ = sys.span_end(@intCast(empty));
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "trace.span_begin.name_{s}", .{label}) catch "trace.span_begin", sys.span_begin(address, 5), .bad_pointer);
        _ = check.err(std.fmt.bufPrint(&name, "trace.event.name_{s}", .{label}) catch "trace.event", sys.trace_event(address, 5, 1), .bad_pointer);
    }
    _ = check.value("trace.event", sys.trace_event(s("conformance.event"), 17, 42), 0);
    _ = check.value("trace.event.value_u64_max", sys.trace_event(s("conformance.event"), 17, sys.max_u64), 0);
    _ = check.value("trace.event.name_64", sys.trace_event(s(name64), 64, 1), 0);
    _ = check.err("trace.event.name_65", sys.trace_event(sys.addr(&big), 65, 1), .too_large);
    _ = check.ok_or("trace.event.empty_name", sys.trace_event(s("x"), 0, 1), &.{.out_of_range});
}

// ---- Random -------------------------------------------------------------------------------------

var task_random: [32]u8 = undefined;
fn t_random(_: u64) callconv(.c) u32 {
    return if (sys.random_fill(sys.addr(&task_random), task_random.len) == task_random.len) 0 else 1;
}

fn random_checks() void {
    check.section("random");
    var first: [64]u8 = .{0} ** 64;
    var second: [64]u8 = .{0} ** 64;
    _ = check.value("random.fill", sys.random_fill(sys.addr(&first), first.len), 64);
    _ = sys.random_fill(sys.addr(&second), second.len);
    var zeros: usize = 0;
    for (first) |byte| {
        if (byte == 0) zeros += 1;
    }
    _ = check.truth("random.fill.not_zero", zeros < 16, "{d} of 64 bytes are zero", .{zeros});
    _ = check.truth("random.fill.differs", !std.mem.eql(u8, &first, &second), "two fills gave the same 64 bytes", .{});
    const t = spawn(&t_random, 0, 0);
    if (t >= 0) _ = sys.task_join(sys.handle(t), sys.infinite);
    _ = check.truth("random.fill.in_task_differs", !std.mem.eql(u8, task_random[0..32], first[0..32]) and !std.mem.eql(u8, task_random[0..32], second[0..32]), "a task's fill equals the first task's", .{});

    // 64 KiB: a loose chi-square test on the byte histogram (255 degrees of freedom; 400 is
    // exceeded by chance with p < 1e-8).
    const n = sys.random_fill(sys.addr(&big), 65536);
    if (n > 0) {
        var histogram = [_]u64{0} ** 256;
        const filled: usize = @intCast(n);
        for (big[0..filled]) |byte| histogram[byte] += 1;
        const expected: f64 = @as(f64, @floatFromInt(filled)) / 256.0;
        var chi: f64 = 0;
        for (histogram) |c| {
            const d = @as(f64, @floatFromInt(c)) - expected;
            chi += d * d / expected;
        }
        _ = check.truth("random.fill.64k_uniform", filled >= 4096 and chi < 400, "filled {d} bytes, chi-square {d:.1}", .{ filled, chi });
    } else check.fail("random.fill.64k_uniform", "fill(64 KiB) returned {s}", .{sys.name(n)});

    // Exactly the requested bytes, nothing around them.
    @memset(buf[0..16], 0xee);
    const five = sys.random_fill(sys.addr(&buf) + 3, 5);
    _ = check.truth("random.fill.exact_range", five == 5 and buf[0] == 0xee and buf[1] == 0xee and buf[2] == 0xee and buf[8] == 0xee and buf[9] == 0xee, "returned {d}; bytes before/after changed", .{five});
    _ = check.value("random.fill.zero_length", sys.random_fill(sys.addr(&buf), 0), 0);
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "random.fill.{s}", .{label}) catch "random.fill", sys.random_fill(address, 8), .bad_pointer);
    }
    _ = check.errs("random.fill.length_2^40", sys.random_fill(sys.addr(&big), 1 << 40), &.{ .too_large, .bad_pointer });
    _ = check.err("random.fill.wrapping_range", sys.random_fill(0xffff_ffff_ffff_fff0, 32), .bad_pointer);
}

// ---- Guard pages: unmapped pages inside the mapped range ------------------------------------------

/// Every call taking a pointer refuses one into a task stack's guard page, or a range running
/// into one, with bad_pointer; the bytes just inside the stack stay usable. A kernel that only
/// checks bounds reads or writes the guard page and faults (the run ends with 101).
fn guard_page_checks() void {
    check.section("guard pages");
    const layout = sys.stack_layout();
    const last = sys.slots_beside_first;
    const guards = [_]u64{ layout.guard(0) + 16, layout.guard(1), layout.guard(5) + 4095, layout.guard(last) + 100 };
    const labels = [_][]const u8{ "first_task", "second_slot", "slot5_last_byte", "last_slot_beside_first" };
    const file = sys.io_open(s("etc/ukernel.env"), 15, 0);
    const channel = sys.channel_create(4, 64);
    if (check.quiet("guard.open", file) == null or check.quiet("guard.channel", channel) == null) return;
    const f = sys.handle(file);
    const ch = sys.handle(channel);
    for (guards, labels) |address, label| {
        var fields = [1]abi.LogField{.{ .key_pointer = address, .key_length = 3, .value_pointer = s("v"), .value_length = 1 }};
        const results = [_]i64{
            sys.io_write(abi.handle_console, address, 5),
            sys.random_fill(address, 8),
            sys.io_open(address, 15, 0),
            sys.io_read(f, address, 16),
            sys.span_begin(address, 5),
            sys.trace_event(address, 5, 1),
            sys.io_poll(address, 1, 0),
            sys.log_write(abi.log_level_info, address, 5, 0, 0),
            sys.log_write(abi.log_level_info, s("x"), 1, address, 1),
            sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&fields), 1),
            sys.send(ch, address, 4, sys.nonblocking),
            sys.recv(ch, address, 64, sys.nonblocking),
            sys.task_spawn(address, 0, 0),
        };
        const calls = [_][]const u8{
            "io.write.console", "random.fill",   "io.open",  "io.read.file",
            "trace.span_begin", "trace.event",   "io.poll",  "log.write.message",
            "log.write.fields", "log.write.key", "ipc.send", "ipc.recv",
            "task.spawn.entry",
        };
        for (results, calls) |got, call| {
            var name: [96]u8 = undefined;
            _ = check.err(std.fmt.bufPrint(&name, "{s}.guard_{s}", .{ call, label }) catch call, got, .bad_pointer);
        }
    }
    guard_edge_checks(layout, ch);
    _ = sys.io_close(f);
    release(ch);
}

/// Range edges: the first and last bytes of the first task's stack are usable; one byte more
/// runs into a guard page.
fn guard_edge_checks(layout: sys.StackLayout, ch: u32) void {
    _ = check.value("random.fill.stack_last_bytes", sys.random_fill(layout.top - 8, 8), 8);
    _ = check.value("random.fill.stack_first_bytes", sys.random_fill(layout.bottom, 8), 8);
    _ = check.err("random.fill.into_guard_above", sys.random_fill(layout.top - 8, 9), .bad_pointer);
    _ = check.err("random.fill.from_guard_below", sys.random_fill(layout.bottom - 1, 9), .bad_pointer);
    _ = check.err("io.write.console_into_guard", sys.io_write(abi.handle_console, layout.top - 4, 8), .bad_pointer);
    _ = check.err("io.open.path_into_guard", sys.io_open(layout.top - 4, 10, 0), .bad_pointer);
    _ = check.err("io.poll.items_into_guard", sys.io_poll(layout.top - @sizeOf(abi.PollItem), 2, 0), .bad_pointer);
    _ = check.err("ipc.send.into_guard", sys.send(ch, layout.top - 2, 4, sys.nonblocking), .bad_pointer);
    _ = check.err("trace.span_begin.into_guard", sys.span_begin(layout.top - 2, 4), .bad_pointer);
    var fields = [1]abi.LogField{.{ .key_pointer = s("k"), .key_length = 1, .value_pointer = layout.top - 2, .value_length = 4 }};
    _ = check.err("log.write.value_into_guard", sys.log_write(abi.log_level_info, s("x"), 1, sys.addr(&fields), 1), .bad_pointer);
    _ = check.err("mem.free.guard", sys.mem_free(layout.guard(1), 8), .bad_pointer);
}

/// The kernel reads and writes nothing of its own for a workload: the call table and the calls'
/// code are the kernel image's, the only kernel addresses a workload is handed.
fn kernel_memory_checks() void {
    check.section("kernel memory");
    const table = sys.addr(sys.table);
    const code = @intFromPtr(sys.table.task_yield);
    const channel = sys.channel_create(4, 64);
    if (check.quiet("kernel_memory.channel", channel) == null) return;
    const ch = sys.handle(channel);
    _ = check.err("io.write.console_kernel_table", sys.io_write(abi.handle_console, table, 8), .bad_pointer);
    _ = check.err("ipc.send.kernel_code", sys.send(ch, code, 16, sys.nonblocking), .bad_pointer);
    _ = check.err("io.open.path_kernel_table", sys.io_open(table, 8, 0), .bad_pointer);
    _ = check.err("trace.event.name_kernel_code", sys.trace_event(code, 8, 1), .bad_pointer);
    _ = check.err("random.fill.kernel_table", sys.random_fill(table, 8), .bad_pointer);
    _ = check.err("ipc.recv.kernel_table", sys.recv(ch, table, 64, sys.nonblocking), .bad_pointer);
    _ = check.err("task.spawn.entry_kernel_code", sys.task_spawn(code, 0, 0), .bad_pointer);
    release(ch);
}

// ---- Last: joins that have crashed or hung kernels --------------------------------------------------

/// Two tasks join the same task: one gets its status, the other must not wait for ever (the
/// handle is released by the first join: bad_handle).
fn second_joiner_checks() void {
    check.section("two joiners");
    const gate = sys.channel_create(1, 16);
    if (check.quiet("joiners.gate", gate) == null) return;
    const g = sys.handle(gate);
    const target = spawn(&t_gate, @as(u64, g) | (2 << 32), 0);
    if (check.quiet("joiners.target", target) == null) return;
    const first = spawn(&t_join_other, sys.handle(target), 0);
    const second = spawn(&t_join_other, sys.handle(target), 0);
    _ = sys.task_yield();
    _ = sys.send(g, s("go"), 2, 0);
    const a = if (first >= 0) sys.task_join(sys.handle(first), 2000 * ms) else first;
    const b = if (second >= 0) sys.task_join(sys.handle(second), 2000 * ms) else second;
    // One joiner gets the status (200), the other bad_handle (999 from t_join_other).
    const ok = (a == 200 and b == 999) or (a == 999 and b == 200);
    _ = check.truth("task.join.second_joiner_returns", ok, "joiners returned {s} and {s} (want 200 and 999, i.e. status and bad_handle; timed_out = still waiting after 2 s)", .{ name_of(a), name_of(b) });
    release(g);
}

var name_buffers: [2][32]u8 = undefined;
var name_next: usize = 0;
fn name_of(result: i64) []const u8 {
    name_next = (name_next + 1) % 2;
    return sys.show(&name_buffers[name_next], result);
}

var self_handle: u32 = 0;
var self_join_result: i64 = 12345;
fn t_join_self(_: u64) callconv(.c) u32 {
    _ = sys.task_yield(); // let the first task store our handle
    self_join_result = sys.task_join(self_handle, 10 * ms);
    return 0;
}

/// A task joins its own handle: an error (bad_handle, or timed_out after its timeout), never a
/// kernel crash. Last, because a kernel that crashes here ends the run.
fn self_join_check() void {
    check.section("self join");
    ukernel.print("self join: a task joins its own handle (a crash here is a kernel bug)\n", .{});
    const task = spawn(&t_join_self, 0, 0);
    if (check.quiet("self_join.spawn", task) == null) return;
    self_handle = sys.handle(task);
    const status = sys.task_join(self_handle, 2000 * ms);
    _ = check.truth("task.join.self", status == 0 and (self_join_result == sys.err(.bad_handle) or self_join_result == sys.err(.timed_out)), "the task's self-join returned {s}; its join returned {s}", .{ name_of(self_join_result), name_of(status) });
}

// ---- io.stat, io.read_at, io.list (ABI 0.3) ------------------------------------------------

fn stat_list_checks() void {
    var stat: abi.FileStat = undefined;
    const env_path = "etc/ukernel.env";
    _ = check.value("io.stat.file", sys.io_stat(s(env_path), env_path.len, sys.addr(&stat)), 0);
    _ = check.truth("io.stat.file_fields", stat.kind == abi.file_kind_file and stat.size > 0 and stat.mode == 0o644, "kind {d} size {d} mode {o}", .{ stat.kind, stat.size, stat.mode });
    _ = check.value("io.stat.directory", sys.io_stat(s("etc"), 3, sys.addr(&stat)), 0);
    _ = check.truth("io.stat.directory_kind", stat.kind == abi.file_kind_directory and stat.size == 0, "kind {d} size {d}", .{ stat.kind, stat.size });
    _ = check.value("io.stat.root", sys.io_stat(s(env_path), 0, sys.addr(&stat)), 0);
    _ = check.truth("io.stat.root_kind", stat.kind == abi.file_kind_directory, "kind {d}", .{stat.kind});
    _ = check.err("io.stat.not_found", sys.io_stat(s("etc/nope"), 8, sys.addr(&stat)), .not_found);
    _ = check.err("io.stat.stat_null", sys.io_stat(s(env_path), env_path.len, 0), .bad_pointer);
    _ = check.err("io.stat.path_300_bytes", sys.io_stat(sys.addr(&big), 300, sys.addr(&stat)), .out_of_range);
    for (sys.bad_addresses, sys.bad_address_names) |address, label| {
        var name: [64]u8 = undefined;
        _ = check.err(std.fmt.bufPrint(&name, "io.stat.path_{s}", .{label}) catch "io.stat", sys.io_stat(address, 3, sys.addr(&stat)), .bad_pointer);
        _ = check.err(std.fmt.bufPrint(&name, "io.stat.out_{s}", .{label}) catch "io.stat", sys.io_stat(s("etc"), 3, address), .bad_pointer);
    }
    read_at_checks();
    list_checks();
}

fn read_at_checks() void {
    const path = "bin/main";
    const opened = sys.io_open(s(path), path.len, 0);
    const file = check.ok("io.open.for_read_at", opened) orelse return;
    const h = sys.handle(file);
    defer _ = sys.io_close(h);
    var stat: abi.FileStat = undefined;
    _ = sys.io_stat(s(path), path.len, sys.addr(&stat));
    _ = check.value("io.read_at.offset_1", sys.io_read_at(h, sys.addr(&buf), 3, 1), 3);
    _ = check.truth("io.read_at.bytes", std.mem.eql(u8, buf[0..3], "ELF"), "read {x}", .{buf[0..3]});
    // read_at leaves the position alone: io.read still starts at 0.
    _ = check.value("io.read.after_read_at", sys.io_read(h, sys.addr(&buf), 4), 4);
    _ = check.truth("io.read.position_untouched", std.mem.eql(u8, buf[0..4], "\x7fELF"), "read {x}", .{buf[0..4]});
    _ = check.value("io.read_at.tail", sys.io_read_at(h, sys.addr(&buf), 16, stat.size - 5), 5);
    _ = check.value("io.read_at.at_end", sys.io_read_at(h, sys.addr(&buf), 16, stat.size), 0);
    _ = check.value("io.read_at.past_end", sys.io_read_at(h, sys.addr(&buf), 16, sys.max_u64), 0);
    _ = check.errs("io.read_at.length_2^40", sys.io_read_at(h, sys.addr(&buf), 1 << 40, 0), &.{ .bad_pointer, .too_large });
    _ = check.err("io.read_at.buffer_null", sys.io_read_at(h, 0, 16, 0), .bad_pointer);
    _ = check.err("io.read_at.console", sys.io_read_at(abi.handle_console, sys.addr(&buf), 16, 0), .unsupported);
    _ = check.err("io.read_at.bad_handle", sys.io_read_at(999, sys.addr(&buf), 16, 0), .bad_handle);
    read_at_across_blocks(stat.size);
}

/// The kernel loads and verifies a file in 16 KiB blocks (UKFS 2) on first touch: pieces read
/// with io.read_at at and across block boundaries, before any sequential read loaded those
/// blocks, must be the bytes a sequential io.read of the whole file finds there.
fn read_at_across_blocks(size: u64) void {
    const block: u64 = 16 * 1024;
    const piece: u64 = 300;
    const wanted = [_]u64{ 0, block - 7, block, 2 * block - 150, 3 * block + 1, 5 * block - 299, size - piece };
    var samples: [wanted.len][piece]u8 = undefined;
    const path = "bin/main";
    const opened = sys.io_open(s(path), path.len, 0);
    const file = check.ok("io.read_at.blocks_open", opened) orelse return;
    var short: usize = 0;
    for (wanted, 0..) |offset, index| {
        if (offset + piece > size) continue;
        if (sys.io_read_at(sys.handle(file), sys.addr(&samples[index]), piece, offset) != piece) short += 1;
    }
    _ = sys.io_close(sys.handle(file));
    _ = check.truth("io.read_at.blocks_full_pieces", short == 0, "{d} of {d} pieces came back short", .{ short, wanted.len });
    // Now the whole file in sequence, through a fresh handle, 4 KiB at a time; compare.
    const again = sys.io_open(s(path), path.len, 0);
    const sequential = check.ok("io.read_at.blocks_open_again", again) orelse return;
    defer _ = sys.io_close(sys.handle(sequential));
    var position: u64 = 0;
    var mismatched: usize = 0;
    var rounds: usize = 0;
    while (rounds < 100_000) : (rounds += 1) {
        const n = sys.io_read(sys.handle(sequential), sys.addr(&big), 4096);
        if (n <= 0) break;
        const chunk = big[0..@intCast(n)];
        for (wanted, 0..) |offset, index| {
            if (offset + piece > size) continue;
            const start = @max(offset, position);
            const end = @min(offset + piece, position + chunk.len);
            if (start >= end) continue;
            const ours = samples[index][start - offset .. end - offset];
            if (!std.mem.eql(u8, ours, chunk[start - position .. end - position])) mismatched += 1;
        }
        position += chunk.len;
    }
    _ = check.truth("io.read_at.across_blocks", position == size and mismatched == 0, "sequential read {d} of {d} bytes; {d} overlaps differ from io.read_at's", .{ position, size, mismatched });
}

fn list_checks() void {
    var entry: abi.DirEntry = undefined;
    var names: [8][]const u8 = undefined;
    var name_store: [8][256]u8 = undefined;
    var count: usize = 0;
    var cursor: i64 = 0;
    while (count < names.len) {
        cursor = sys.io_list(s(""), 0, @intCast(cursor), sys.addr(&entry));
        if (cursor <= 0) break;
        @memcpy(name_store[count][0..entry.name_bytes], entry.name[0..entry.name_bytes]);
        names[count] = name_store[count][0..entry.name_bytes];
        count += 1;
    }
    const root_ok = cursor == 0 and count >= 2 and std.mem.eql(u8, names[0], "bin") and std.mem.eql(u8, names[1], "etc");
    _ = check.truth("io.list.root", root_ok, "{d} entries, last result {d}", .{ count, cursor });
    const first = sys.io_list(s("etc"), 3, 0, sys.addr(&entry));
    _ = check.truth("io.list.etc", first > 0 and std.mem.eql(u8, entry.name[0..entry.name_bytes], "ukernel.env") and entry.kind == abi.file_kind_file and entry.size > 0, "result {d}, name {s}", .{ first, entry.name[0..@min(entry.name_bytes, 256)] });
    _ = check.err("io.list.file", sys.io_list(s("etc/ukernel.env"), 15, 0, sys.addr(&entry)), .not_found);
    _ = check.err("io.list.missing", sys.io_list(s("nope"), 4, 0, sys.addr(&entry)), .not_found);
    _ = check.err("io.list.entry_null", sys.io_list(s("etc"), 3, 0, 0), .bad_pointer);
}

// ---- task.set_thread_pointer (ABI 0.3) ---------------------------------------------------------

/// Thread control blocks whose first word is their own address, as musl's are.
var control_blocks: [2][4]u64 = undefined;
var thread_pointer_seen: [2]u64 = .{ 0, 0 };

fn thread_pointer_task(_: u64) callconv(.c) u32 {
    control_blocks[1][0] = @intFromPtr(&control_blocks[1]);
    _ = sys.task_set_thread_pointer(@intFromPtr(&control_blocks[1]));
    _ = sys.task_yield();
    thread_pointer_seen[1] = sys.read_fs_0();
    return 0;
}

pub fn thread_pointer_checks() void {
    check.section("thread pointer");
    _ = check.err("task.set_thread_pointer.noncanonical", sys.task_set_thread_pointer(sys.p_noncanonical), .out_of_range);
    control_blocks[0][0] = @intFromPtr(&control_blocks[0]);
    _ = check.value("task.set_thread_pointer", sys.task_set_thread_pointer(@intFromPtr(&control_blocks[0])), 0);
    _ = check.value("task.set_thread_pointer.fs_0", @intCast(sys.read_fs_0()), @intCast(@intFromPtr(&control_blocks[0])));
    const spawned = sys.task_spawn(@intFromPtr(&thread_pointer_task), 0, 16 * 1024);
    if (check.ok("task.spawn.thread_pointer_task", spawned)) |task| {
        _ = sys.task_yield();
        thread_pointer_seen[0] = sys.read_fs_0();
        _ = sys.task_join(sys.handle(task), sys.infinite);
    }
    const own = thread_pointer_seen[0] == @intFromPtr(&control_blocks[0]) and thread_pointer_seen[1] == @intFromPtr(&control_blocks[1]);
    _ = check.truth("task.set_thread_pointer.per_task", own, "task 0 read {x}, task 1 read {x}", .{ thread_pointer_seen[0], thread_pointer_seen[1] });
    _ = check.value("task.set_thread_pointer.clear", sys.task_set_thread_pointer(0), 0);
}
