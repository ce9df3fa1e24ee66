//! A worker pipeline on ukernel: a producer task feeds jobs into a channel, N worker tasks take
//! them (waiting with io.poll, simulating I/O with task.sleep) and send results to a second
//! channel, and main aggregates. Every stage opens trace spans (`ukernel trace` shows them).
//!
//!     ukernel run -- [jobs] [workers]      (defaults: 24 jobs, 3 workers)

const std = @import("std");
const ukernel = @import("ukernel");

const Job = extern struct { id: u64, input: u64 };
const Result = extern struct { id: u64, output: u64, worker: u64 };

var jobs: ukernel.Channel = undefined;
var results: ukernel.Channel = undefined;
var job_count: u64 = 24;

/// The workload's entry: the kernel calls it once the VM is up; its return value is the VM's
/// exit status.
pub fn main(context: ukernel.Context) !u8 {
    ukernel.print("hello from {s}: {d} argument(s)\n", .{ "PROJECT_NAME", context.args.len });
    if (context.args.len > 1) job_count = std.fmt.parseUnsigned(u64, std.mem.span(context.args[1]), 10) catch job_count;
    var workers: u64 = 3;
    if (context.args.len > 2) workers = std.fmt.parseUnsigned(u64, std.mem.span(context.args[2]), 10) catch workers;
    workers = std.math.clamp(workers, 1, 16);

    const pipeline = ukernel.trace.begin("pipeline");
    jobs = try ukernel.Channel.create(8, @sizeOf(Job));
    results = try ukernel.Channel.create(8, @sizeOf(Result));
    const producer_task = try ukernel.spawn(&producer, 0, 0);
    var worker_tasks: [16]u32 = undefined;
    for (worker_tasks[0..workers], 0..) |*task, index| task.* = try ukernel.spawn(&worker, index, 0);

    // Aggregate: one result per job.
    var sum: u64 = 0;
    var per_worker = [_]u64{0} ** 16;
    var received: u64 = 0;
    while (received < job_count) : (received += 1) {
        var result: Result = undefined;
        _ = try results.recv(std.mem.asBytes(&result));
        sum +%= result.output;
        per_worker[result.worker] += 1;
    }
    _ = try ukernel.join(producer_task, ukernel.abi.timeout_infinite);
    try jobs.close(); // Workers drain, then see `closed` and end.
    for (worker_tasks[0..workers]) |task| _ = try ukernel.join(task, ukernel.abi.timeout_infinite);
    const elapsed_ns = pipeline.end();

    var jobs_text: [20]u8 = undefined;
    var workers_text: [20]u8 = undefined;
    ukernel.log.fields(ukernel.abi.log_level_info, "pipeline done", &.{
        .{ .key = "jobs", .value = std.fmt.bufPrint(&jobs_text, "{d}", .{job_count}) catch "?" },
        .{ .key = "workers", .value = std.fmt.bufPrint(&workers_text, "{d}", .{workers}) catch "?" },
    });
    ukernel.print("pipeline: {d} jobs through {d} workers in {d} us, checksum {d}\n", .{ job_count, workers, elapsed_ns / 1000, sum });
    for (per_worker[0..workers], 0..) |count, index| ukernel.print("  worker {d}: {d} jobs\n", .{ index, count });
    return 0;
}

fn producer(_: u64) callconv(.c) u32 {
    var id: u64 = 0;
    while (id < job_count) : (id += 1) {
        const span = ukernel.trace.begin("produce");
        const job: Job = .{ .id = id, .input = id * 7 + 1 };
        jobs.send(std.mem.asBytes(&job)) catch return 1; // Waits while the channel is full.
        _ = span.end();
    }
    return 0;
}

fn worker(index: u64) callconv(.c) u32 {
    while (true) {
        // Wait for a job (or the channel's close) without busy-looping.
        var items = [_]ukernel.abi.PollItem{.{ .handle = jobs.handle, .events = ukernel.abi.poll_readable, .revents = 0 }};
        _ = ukernel.poll(&items, 50 * std.time.ns_per_ms) catch return 1;
        var job: Job = undefined;
        _ = jobs.try_recv(std.mem.asBytes(&job)) catch |err| switch (err) {
            error.WouldBlock => continue,
            error.Closed => return 0,
            else => return 1,
        };
        const span = ukernel.trace.begin("work");
        ukernel.sleep(std.time.ns_per_ms); // Stands in for I/O.
        var output: u64 = job.input;
        for (0..1000) |_| output = output *% 6364136223846793005 +% 1442695040888963407;
        ukernel.trace.event("job", job.id);
        _ = span.end();
        const result: Result = .{ .id = job.id, .output = output, .worker = index };
        results.send(std.mem.asBytes(&result)) catch return 1;
    }
}
