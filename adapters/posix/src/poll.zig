//! poll, ppoll, select and pselect6 over io.poll. Files, directories, /dev/null and the console
//! are always ready (as on Linux); a stream with buffered bytes is readable at once; sockets,
//! channels and eventfds are asked of the kernel in one io.poll. An fd the table does not hold
//! reports POLLNVAL (poll) or EBADF (select).

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;
const constants = @import("constants.zig");
const errno = @import("errno.zig");
const fd = @import("fd.zig");
const linux = @import("linux.zig");
const signals = @import("signals.zig");
const streams = @import("streams.zig");
const uk = @import("uk.zig");

const Error = errno.Error;
const fail = errno.fail;

const readable_mask: u16 = linux.pollin | linux.pollpri | linux.pollrdnorm;
const writable_mask: u16 = linux.pollout | linux.pollwrnorm;
const no_item: u16 = std.math.maxInt(u16);

/// Per pollfd: the io.poll items that stand for it (a stream has one per direction).
const Watch = struct { read_item: u16 = no_item, write_item: u16 = no_item };

const Plan = struct {
    items: [constants.poll_items_max]abi.PollItem = undefined,
    count: u16 = 0,
    ready: u32 = 0,

    fn add(plan: *Plan, handle: u32, events: u16) Error!u16 {
        if (plan.count == plan.items.len) return error.INVAL;
        plan.items[plan.count] = .{ .handle = handle, .events = events, .revents = 0 };
        plan.count += 1;
        return plan.count - 1;
    }
};

/// The readiness known without the kernel, and the kernel items to ask, for one pollfd.
fn plan_one(plan: *Plan, pollfd: *align(1) linux.PollFd, watch: *Watch) Error!void {
    pollfd.revents = 0;
    if (pollfd.fd < 0) return;
    const description = uk.fds.get(pollfd.fd) catch {
        pollfd.revents = @bitCast(linux.pollnval);
        return;
    };
    const events: u16 = @bitCast(pollfd.events);
    const wants_read = events & readable_mask != 0;
    const wants_write = events & writable_mask != 0;
    const read_flag: u16 = if (wants_read) abi.poll_readable else 0;
    const write_flag: u16 = if (wants_write) abi.poll_writable else 0;
    switch (description.object) {
        .free => unreachable,
        .console, .null_device, .random_device, .file, .memory, .directory => {
            pollfd.revents = @bitCast(events & (readable_mask | writable_mask));
        },
        .socket => |socket| watch.read_item = try plan.add(socket.handle, read_flag | write_flag),
        .adopted => |adopted| {
            watch.read_item = try plan.add(adopted.handle, read_flag | write_flag);
        },
        .eventfd => |counter| {
            watch.read_item = try plan.add(counter.channel, read_flag);
            if (wants_write) pollfd.revents = @bitCast(events & writable_mask);
        },
        .stream => |end| {
            if (wants_read and streams.pending(description) > 0) {
                pollfd.revents = @bitCast(events & readable_mask);
            } else if (end.receive != fd.handle_none) {
                watch.read_item = try plan.add(end.receive, read_flag);
            } else if (end.socket) {
                // Shut down for reading: a read returns end of stream at once.
                pollfd.revents = @bitCast(events & readable_mask);
            }
            if (end.send != fd.handle_none and wants_write) {
                watch.write_item = try plan.add(end.send, abi.poll_writable);
            } else if (end.socket and wants_write) {
                // Shut down for writing: a write fails at once (EPIPE); Linux says POLLOUT.
                pollfd.revents |= @bitCast(events & writable_mask);
            }
        },
    }
}

/// The pollfd's revents from its items' answers (plus what plan_one already knew).
fn revents_of(plan: *const Plan, pollfd: *align(1) linux.PollFd, watch: Watch) void {
    const events: u16 = @bitCast(pollfd.events);
    var revents: u16 = @bitCast(pollfd.revents);
    for ([_]u16{ watch.read_item, watch.write_item }) |index| {
        if (index == no_item) continue;
        const answer = plan.items[index].revents;
        if (answer & abi.poll_readable != 0) revents |= events & readable_mask;
        if (answer & abi.poll_writable != 0) revents |= events & writable_mask;
        if (answer & abi.poll_closed != 0) revents |= linux.pollhup;
        if (answer & abi.poll_error != 0) revents |= linux.pollerr;
        // A write to a stream whose reader went away fails (EPIPE): POLLERR, as a Linux pipe.
        const write_closed = index == watch.write_item and answer & abi.poll_closed != 0;
        if (write_closed) revents |= linux.pollerr;
    }
    pollfd.revents = @bitCast(revents);
}

/// The heart of poll and select: fills every revents; returns how many pollfds have any.
pub fn poll_fds(pollfds: []align(1) linux.PollFd, timeout_ns: u64) Error!u64 {
    if (pollfds.len > constants.poll_fds_max) return error.INVAL;
    var plan: Plan = .{};
    var watches: [constants.poll_fds_max]Watch = [_]Watch{.{}} ** constants.poll_fds_max;
    var known: u64 = 0;
    for (pollfds, 0..) |*pollfd, index| {
        try plan_one(&plan, pollfd, &watches[index]);
        if (pollfd.revents != 0) known += 1;
    }
    const bound = signals.wait_bound(if (known > 0) 0 else timeout_ns);
    if (plan.count == 0) {
        if (known == 0 and bound.wait_ns > 0) uk.sleep(bound.wait_ns);
        if (known == 0 and bound.cut) return signals.interrupted();
        return known;
    }
    _ = try errno.check(uk.poll(&plan.items, plan.count, bound.wait_ns));
    var ready: u64 = 0;
    for (pollfds, 0..) |*pollfd, index| {
        revents_of(&plan, pollfd, watches[index]);
        if (pollfd.revents != 0) ready += 1;
    }
    assert(ready >= known);
    if (ready == 0 and bound.cut) return signals.interrupted();
    return ready;
}

fn pollfds_of(pointer: u64, count: u64) Error![]align(1) linux.PollFd {
    if (count > constants.poll_fds_max) return error.INVAL;
    if (count == 0) return &.{};
    if (pointer == 0) return error.FAULT;
    const start: [*]align(1) linux.PollFd = @ptrFromInt(pointer);
    return start[0..count];
}

/// A timespec argument in ns; null pointer: wait for ever.
fn timespec_ns(pointer: u64) Error!u64 {
    const time = uk.object(linux.timespec, pointer) orelse return abi.timeout_infinite;
    if (time.sec < 0 or time.nsec < 0 or time.nsec >= std.time.ns_per_s) return error.INVAL;
    const seconds: u64 = @intCast(time.sec);
    const total = std.math.mul(u64, seconds, std.time.ns_per_s) catch return abi.timeout_infinite;
    return total +| @as(u64, @intCast(time.nsec));
}

fn count_result(value: Error!u64) i64 {
    const count = value catch |e| return fail(e);
    return @intCast(count);
}

/// poll(fds, count, timeout_ms): a negative timeout waits for ever.
pub fn sys_poll(a: linux.Args) i64 {
    const pollfds = pollfds_of(a[0], a[1]) catch |e| return fail(e);
    const timeout_ms = uk.int(a[2]);
    const timeout_ns: u64 = if (timeout_ms < 0)
        abi.timeout_infinite
    else
        @as(u64, @intCast(timeout_ms)) * std.time.ns_per_ms;
    return count_result(poll_fds(pollfds, timeout_ns));
}

/// ppoll(fds, count, timespec, sigmask, size): the mask changes nothing (no delivery).
pub fn sys_ppoll(a: linux.Args) i64 {
    const pollfds = pollfds_of(a[0], a[1]) catch |e| return fail(e);
    const timeout_ns = timespec_ns(a[2]) catch |e| return fail(e);
    return count_result(poll_fds(pollfds, timeout_ns));
}

const fd_set_bits: u64 = 1024;
const FdSet = [fd_set_bits / 64]u64;

fn bit(set: ?*align(1) FdSet, index: u64) bool {
    const words = set orelse return false;
    return words[index / 64] & (@as(u64, 1) << @intCast(index % 64)) != 0;
}

/// select's three sets as pollfds, then the answers back into the sets.
fn select_fds(count: u64, sets: [3]?*align(1) FdSet, timeout_ns: u64) Error!u64 {
    if (count > fd_set_bits) return error.INVAL;
    var pollfds: [constants.poll_fds_max]linux.PollFd = undefined;
    var used: usize = 0;
    var index: u64 = 0;
    while (index < count) : (index += 1) {
        var events: u16 = 0;
        if (bit(sets[0], index)) events |= linux.pollin;
        if (bit(sets[1], index)) events |= linux.pollout;
        if (bit(sets[2], index)) events |= linux.pollpri;
        if (events == 0) continue;
        if (used == pollfds.len) return error.INVAL;
        _ = uk.fds.get(@intCast(index)) catch return error.BADF;
        pollfds[used] = .{ .fd = @intCast(index), .events = @bitCast(events), .revents = 0 };
        used += 1;
    }
    _ = try poll_fds(pollfds[0..used], timeout_ns);
    const words_used = std.math.divCeil(u64, count, 64) catch unreachable;
    for (sets) |set| if (set) |words| @memset(words[0..words_used], 0);
    var ready: u64 = 0;
    for (pollfds[0..used]) |pollfd| {
        const revents: u16 = @bitCast(pollfd.revents);
        const events: u16 = @bitCast(pollfd.events);
        const hangup = linux.pollhup | linux.pollerr;
        const answers = [3]bool{
            events & linux.pollin != 0 and revents & (linux.pollin | hangup) != 0,
            events & linux.pollout != 0 and revents & (linux.pollout | linux.pollerr) != 0,
            events & linux.pollpri != 0 and revents & linux.pollpri != 0,
        };
        for (answers, sets) |answer, set| {
            if (!answer) continue;
            const word: u64 = @intCast(pollfd.fd);
            set.?[word / 64] |= @as(u64, 1) << @intCast(word % 64);
            ready += 1;
        }
    }
    return ready;
}

fn sets_of(a: linux.Args) [3]?*align(1) FdSet {
    return .{ uk.object(FdSet, a[1]), uk.object(FdSet, a[2]), uk.object(FdSet, a[3]) };
}

/// select(count, read, write, except, timeval).
pub fn sys_select(a: linux.Args) i64 {
    var timeout_ns: u64 = abi.timeout_infinite;
    if (uk.object(linux.Timeval, a[4])) |time| {
        const valid = time.sec >= 0 and time.usec >= 0 and time.usec < std.time.us_per_s;
        if (!valid) return fail(error.INVAL);
        const seconds_ns = std.math.mul(u64, @intCast(time.sec), std.time.ns_per_s) catch
            abi.timeout_infinite;
        timeout_ns = seconds_ns +| @as(u64, @intCast(time.usec)) * std.time.ns_per_us;
    }
    return count_result(select_fds(a[0], sets_of(a), timeout_ns));
}

/// pselect6(count, read, write, except, timespec, sigmask-data).
pub fn sys_pselect6(a: linux.Args) i64 {
    const timeout_ns = timespec_ns(a[4]) catch |e| return fail(e);
    return count_result(select_fds(a[0], sets_of(a), timeout_ns));
}
