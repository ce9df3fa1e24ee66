//! The cooperative scheduler. Tasks run in ring 3 until they yield, sleep, block (on a channel,
//! io.poll or task.join) or end; there is no preemption. A switch saves the callee-saved
//! registers (and MXCSR and the x87 control word, callee-saved in the SysV ABI) on the old
//! stack and restores them from the new one: no privilege change, so it runs natively even
//! where ring 0 is emulated.
//!
//! When no task is ready the scheduler wakes tasks whose deadline passed; if none can run yet
//! it flushes the events buffer and idles until the earliest deadline (spinning when it is near,
//! halting the CPU through the supervisor otherwise). A device that can wake tasks (the network)
//! registers a `Waker`: before a halt the scheduler arms its interrupt (or, when work already
//! waits, polls it instead of halting), and after every halt it polls it, so a device interrupt
//! that ends the halt gets its work done at once. If every task is blocked with no deadline and
//! no waker is registered, nothing can ever wake them: that is reported, not waited on.

const std = @import("std");
const builtin = @import("builtin");
const assert = std.debug.assert;
const abi = @import("../abi/abi.zig");
const constants = @import("../constants.zig");
const clock_module = @import("../time/clock.zig");
/// The machine below the scheduler: the real one, or the host tests' stand-in.
const platform = if (builtin.is_test) @import("platform_host.zig") else @import("platform.zig");

pub const State = enum { free, ready, running, blocked, done };
pub const Wait = enum { none, sleep, channel_send, channel_receive, join, poll, socket };

pub const deadline_none: u64 = std.math.maxInt(u64);

pub const OpenSpan = struct { id: u64, begin_ns: u64 };

pub const Task = struct {
    state: State = .free,
    saved_rsp: u64 = 0,
    wait: Wait = .none,
    wait_object: u32 = 0,
    deadline_tsc: u64 = deadline_none,
    timed_out: bool = false,
    status: u32 = 0,
    /// Open trace spans, innermost last.
    spans: [constants.task_spans_open_max]OpenSpan = undefined,
    span_count: u32 = 0,
    /// Bumped whenever the slot is reused, so a waiting joiner can tell its task is gone.
    generation: u32 = 0,
    /// When the task last blocked (a counter): waiters are woken oldest first.
    blocked_sequence: u64 = 0,
    /// The task's FS base (task.set_thread_pointer); 0 until it sets one.
    thread_pointer: u64 = 0,
};

const wait_kinds = @typeInfo(Wait).@"enum".fields.len;

pub var tasks: [constants.tasks_max]Task = [_]Task{.{}} ** constants.tasks_max;
var current: u32 = 0;
var ready_queue: [constants.tasks_max]u32 = undefined;
var ready_head: u32 = 0;
var ready_count: u32 = 0;
/// The kernel's one clock (time/clock.zig); host tests hand init a fake one.
var clock: *const clock_module.Clock = &clock_module.global;
/// The earliest deadline of any blocked task, or deadline_none: yields check it cheaply.
var earliest_deadline_tsc: u64 = deadline_none;
/// Called each time the CPU is about to idle (to flush buffered events): returns when it wants
/// to be called again (TSC; deadline_none when nothing waits), so the idle ends by then.
var before_idle: *const fn () u64 = &nothing_due;
var block_sequence: u64 = 0;
/// Tasks blocked per kind of wait: wake_all skips its scan when nobody waits (a channel send
/// notifies receivers, senders and pollers; usually only one kind has waiters).
var blocked_by_wait = [_]u32{0} ** wait_kinds;
/// The highest recent overshoot of a halt past its armed deadline (TSC ticks), decaying; 0 until
/// the first halt that ran to its deadline.
var halt_overshoot_ticks: u64 = 0;
/// The FS base the CPU holds: switches load a task's only when it differs (a ring-0 call).
var loaded_thread_pointer: u64 = 0;

fn nothing_due() u64 {
    return deadline_none;
}

/// A device that can make blocked tasks ready (the network), registered by its owner after init.
pub const Waker = struct {
    /// Before the CPU halts: asks the device to interrupt when work arrives; true when work is
    /// already waiting (then the scheduler polls instead of halting). No VM exit, ideally.
    arm: *const fn () bool,
    /// Does the device's work (may wake tasks). Called after every halt, when arm said so, when
    /// its deadline passed, and at least every waker_poll_interval_ns while tasks keep running.
    poll: *const fn () void,
    /// The device's own next deadline (TSC; lwIP's timers), deadline_none when it has none.
    deadline: *const fn () u64 = &no_deadline,
};

fn no_deadline() u64 {
    return deadline_none;
}

/// The waker's last poll (TSC), so busy tasks still let it run every waker_poll_interval_ns.
var waker_polled_tsc: u64 = 0;

/// Set after init by the owner of a device that can wake tasks; null: none (init resets it).
pub var waker: ?Waker = null;

/// Called when the first task (the workload) ends: never returns.
pub var workload_finished: *const fn (status: u32) noreturn = undefined;

/// Saves the callee-saved state on the current stack into `save_rsp` and resumes the stack at
/// `next_rsp` (the comptime asm at the end of this file).
pub extern fn switch_context(save_rsp: *u64, next_rsp: u64) callconv(.c) void;
extern fn task_trampoline() callconv(.c) void;

/// Sets (or resets, for host tests) every piece of scheduler state: no task exists.
pub fn init(boot_clock: *const clock_module.Clock, flush: *const fn () u64) void {
    clock = boot_clock;
    before_idle = flush;
    tasks = [_]Task{.{}} ** constants.tasks_max;
    current = 0;
    ready_head = 0;
    ready_count = 0;
    earliest_deadline_tsc = deadline_none;
    block_sequence = 0;
    blocked_by_wait = [_]u32{0} ** wait_kinds;
    halt_overshoot_ticks = 0;
    loaded_thread_pointer = 0;
    waker = null;
}

pub fn current_id() u32 {
    assert(current < tasks.len);
    return current;
}

pub fn current_task() *Task {
    assert(tasks[current].state == .running);
    return &tasks[current];
}

/// Starts task 0 (the workload) on its stack: `entry(argument)`. Does not return: kmain's stack
/// is left for good.
pub fn start_first(entry: u64, argument: u64) noreturn {
    var discarded: u64 = 0;
    enter_first(entry, argument, &discarded);
    unreachable;
}

/// As start_first, saving the caller's stack in `save_rsp`: host tests switch back to it when
/// the first task ends (their workload_finished), and enter_first returns.
pub fn enter_first(entry: u64, argument: u64, save_rsp: *u64) void {
    assert(tasks[0].state == .free);
    assert(ready_count == 0);
    const top = platform.stack_top(0);
    tasks[0] = .{ .state = .running, .saved_rsp = initial_frame(top, entry, argument, 0) };
    current = 0;
    switch_context(save_rsp, tasks[0].saved_rsp);
}

/// A new task running `entry(argument)`; returns its id.
pub fn spawn(entry: u64, argument: u64, stack_bytes: u64) error{ OutOfRange, LimitReached }!u32 {
    if (stack_bytes > constants.task_stack_bytes) return error.OutOfRange;
    var id: u32 = 1;
    while (id < tasks.len and tasks[id].state != .free) : (id += 1) {}
    if (id == tasks.len) return error.LimitReached;
    // Stacks beyond the first chunk's are built when first needed (task_stacks.zig).
    if (id >= platform.stack_count() and !platform.grow_stacks(id)) return error.LimitReached;
    assert(id != current);
    assert(tasks[id].state == .free);
    const top = platform.stack_top(id);
    const generation = tasks[id].generation +% 1;
    tasks[id] = .{
        .state = .ready,
        .saved_rsp = initial_frame(top, entry, argument, id),
        .generation = generation,
    };
    enqueue(id);
    return id;
}

/// The frame switch_context pops for a task that has not run yet: control words, six
/// callee-saved registers (r12 = entry, r13 = argument, r14 = id), and task_trampoline as the
/// return address. rbp = 0 ends backtraces at the task's first frame.
fn initial_frame(top: u64, entry: u64, argument: u64, id: u32) u64 {
    assert(top % 16 == 0);
    assert(entry != 0);
    const words: [*]u64 = @ptrFromInt(top - 10 * 8);
    const control_words: u64 = 0x1f80 | (@as(u64, 0x037f) << 32); // MXCSR, x87 control word.
    words[0] = control_words;
    words[1] = 0; // r15
    words[2] = id; // r14
    words[3] = argument; // r13
    words[4] = entry; // r12
    words[5] = 0; // rbx
    words[6] = 0; // rbp
    words[7] = @intFromPtr(&task_trampoline);
    words[8] = 0;
    words[9] = 0;
    return @intFromPtr(words);
}

/// The entry function of a task returned `status` (called by task_trampoline).
export fn task_returned(status: u32) callconv(.c) noreturn {
    exit_current(status);
}

/// Lets every other ready task run once.
/// The hot path (a yield round trip is ~27 ns): the queue's invariants are asserted in
/// enqueue and dequeue, not again here.
pub fn yield_now() void {
    if (earliest_deadline_tsc != deadline_none and platform.now_tsc() >= earliest_deadline_tsc) {
        wake_expired();
    }
    // A lone task that yields in a loop never reaches next_ready: the device is polled here.
    waker_poll_if_due();
    if (ready_count == 0) return;
    tasks[current].state = .ready;
    enqueue(current);
    switch_away();
}

pub fn sleep_ns(duration_ns: u64) void {
    _ = block(.sleep, 0, deadline_after(duration_ns));
}

/// Blocks the current task until `wake` or the deadline (TSC; deadline_none for none).
/// Returns false when it woke because the deadline passed.
pub fn block(wait: Wait, object: u32, deadline_tsc: u64) bool {
    block_sequence += 1;
    tasks[current].blocked_sequence = block_sequence;
    return block_in_place(wait, object, deadline_tsc);
}

/// As block, for a task that was woken but found the channel taken again: it keeps its place in
/// line (waiters are woken oldest first), so a busy channel cannot starve it.
pub fn block_again(wait: Wait, object: u32, deadline_tsc: u64) bool {
    assert(tasks[current].blocked_sequence > 0);
    return block_in_place(wait, object, deadline_tsc);
}

fn block_in_place(wait: Wait, object: u32, deadline_tsc: u64) bool {
    assert(wait != .none);
    const task = &tasks[current];
    assert(task.state == .running);
    assert(task.wait == .none);
    task.state = .blocked;
    task.wait = wait;
    task.wait_object = object;
    task.deadline_tsc = deadline_tsc;
    task.timed_out = false;
    blocked_by_wait[@intFromEnum(wait)] += 1;
    assert(blocked_by_wait[@intFromEnum(wait)] <= tasks.len);
    if (deadline_tsc < earliest_deadline_tsc) earliest_deadline_tsc = deadline_tsc;
    switch_away();
    // Woken (wake clears the wait) and switched back to.
    assert(task.state == .running);
    assert(task.wait == .none);
    return !task.timed_out;
}

/// Makes every task blocked on (wait, object) ready, the longest-waiting first: waking in id
/// order let one producer take every free slot of a busy channel while the others starved.
pub fn wake_all(wait: Wait, object: u32) void {
    assert(wait != .none);
    if (blocked_by_wait[@intFromEnum(wait)] == 0) return;
    var waiters: [constants.tasks_max]u32 = undefined;
    var count: u32 = 0;
    for (&tasks, 0..) |*task, id| {
        if (task.state != .blocked or task.wait != wait or task.wait_object != object) continue;
        // Insertion by blocked_sequence (at most tasks_max waiters).
        var position = count;
        while (position > 0 and
            tasks[waiters[position - 1]].blocked_sequence > task.blocked_sequence) : (position -= 1)
        {
            waiters[position] = waiters[position - 1];
        }
        waiters[position] = @intCast(id);
        count += 1;
    }
    assert(count <= blocked_by_wait[@intFromEnum(wait)]);
    for (waiters[0..count]) |id| wake(id);
}

pub fn wake(id: u32) void {
    const task = &tasks[id];
    assert(task.state == .blocked);
    assert(task.wait != .none);
    assert(blocked_by_wait[@intFromEnum(task.wait)] > 0);
    blocked_by_wait[@intFromEnum(task.wait)] -= 1;
    task.state = .ready;
    task.wait = .none;
    task.deadline_tsc = deadline_none;
    enqueue(id);
}

/// Ends the current task. The first task's end is the workload's end.
pub fn exit_current(status: u32) noreturn {
    assert(tasks[current].state == .running);
    if (current == 0) workload_finished(workload_status(status));
    const task = &tasks[current];
    task.state = .done;
    task.status = status;
    task.span_count = 0;
    wake_all(.join, current);
    switch_away();
    unreachable; // A done task is never scheduled again.
}

/// The VM's exit status for the first task's `status`: itself when 0-255; anything else would
/// be cut to its low 8 bits by the exit doors (256 would read as success), so it becomes
/// abi.exit_status_out_of_range, and the console says why.
fn workload_status(status: u32) u32 {
    if (status <= 255) return status;
    const format = "workload: exit status {d} (as i32: {d}) is outside 0-255: exiting with {d}\n";
    platform.print(format, .{ status, @as(i32, @bitCast(status)), abi.exit_status_out_of_range });
    return abi.exit_status_out_of_range;
}

/// Waits for task `id` to end (or the deadline); returns its status and frees its slot.
/// error.Released when another joiner took the status first (the slot may be reused).
pub fn join(id: u32, deadline_tsc: u64) error{ TimedOut, Released }!u32 {
    assert(id < tasks.len);
    assert(id != current);
    const generation = tasks[id].generation;
    // Each round follows a wake-up by the task's end or release, or the deadline: two at most
    // (a wake-up by a release ends the loop too), the bound only documents that.
    var rounds: u32 = 0;
    while (tasks[id].state != .done) : (rounds += 1) {
        assert(rounds < 2);
        if (tasks[id].state == .free or tasks[id].generation != generation) return error.Released;
        if (!block(.join, id, deadline_tsc)) return error.TimedOut;
    }
    if (tasks[id].generation != generation) return error.Released;
    const status = tasks[id].status;
    tasks[id] = .{ .generation = generation };
    // Other joiners of the same task wake and find it released.
    wake_all(.join, id);
    return status;
}

pub fn deadline_after(duration_ns: u64) u64 {
    if (duration_ns == abi.timeout_infinite) return deadline_none;
    const ticks = clock.ticks_for_ns(@min(duration_ns, constants.timeout_ns_max));
    return platform.now_tsc() +| ticks;
}

fn enqueue(id: u32) void {
    assert(tasks[id].state == .ready);
    assert(ready_count < ready_queue.len);
    ready_queue[(ready_head + ready_count) % ready_queue.len] = id;
    ready_count += 1;
}

fn dequeue() ?u32 {
    if (ready_count == 0) return null;
    const id = ready_queue[ready_head];
    assert(tasks[id].state == .ready);
    ready_head = (ready_head + 1) % @as(u32, ready_queue.len);
    ready_count -= 1;
    return id;
}

/// Switches to the next ready task, idling until one is ready.
fn switch_away() void {
    const previous = current;
    const next = next_ready(); // Ready: dequeue asserts it.
    if (next == previous) {
        tasks[previous].state = .running;
        return;
    }
    current = next;
    tasks[next].state = .running;
    load_thread_pointer(tasks[next].thread_pointer);
    switch_context(&tasks[previous].saved_rsp, tasks[next].saved_rsp);
}

/// Sets the running task's thread pointer (task.set_thread_pointer); false when the address is
/// not canonical.
pub fn set_thread_pointer(address: u64) bool {
    if (address >= 1 << 47) return false;
    tasks[current].thread_pointer = address;
    load_thread_pointer(address);
    assert(loaded_thread_pointer == address);
    return true;
}

fn load_thread_pointer(address: u64) void {
    if (address == loaded_thread_pointer) return;
    const loaded = platform.set_thread_pointer(address);
    assert(loaded); // Canonical: set_thread_pointer checked it.
    loaded_thread_pointer = address;
}

/// The next task to run. Each round either takes a ready task or idles toward the earliest
/// deadline (halting or spinning), so the rounds end by that deadline.
fn next_ready() u32 {
    // Deadlines first: busy tasks that keep each other ready must not starve sleepers.
    if (earliest_deadline_tsc != deadline_none and platform.now_tsc() >= earliest_deadline_tsc) {
        wake_expired();
    }
    waker_poll_if_due();
    while (true) {
        if (dequeue()) |id| return id;
        wake_expired();
        if (ready_count > 0) continue;
        idle();
    }
}

/// The waker's device gets polled if waker_poll_interval_ns passed since its last poll: at
/// every task switch (under load, received packets and lwIP's timers must not wait for every
/// task to block), and from calls that return at once without reaching the scheduler (a yield
/// with nothing else ready, io.poll with timeout 0, a non-blocking socket call), so a task that
/// loops on them still sees the network move.
pub fn waker_poll_if_due() void {
    const device = waker orelse return;
    const now = platform.now_tsc();
    if (now -% waker_polled_tsc < clock.ticks_for_ns(constants.waker_poll_interval_ns)) return;
    waker_polled_tsc = now;
    device.poll();
}

/// Makes tasks whose deadline passed ready, earliest deadline first (several may have passed by
/// the time the scheduler looks); recomputes the earliest deadline left.
fn wake_expired() void {
    const now = platform.now_tsc();
    var earliest: u64 = deadline_none;
    var expired: [constants.tasks_max]u32 = undefined;
    var count: u32 = 0;
    for (&tasks, 0..) |*task, id| {
        if (task.state != .blocked or task.deadline_tsc == deadline_none) continue;
        if (task.deadline_tsc > now) {
            earliest = @min(earliest, task.deadline_tsc);
            continue;
        }
        // Insertion by deadline (at most tasks_max entries).
        var position = count;
        while (position > 0 and
            tasks[expired[position - 1]].deadline_tsc > task.deadline_tsc) : (position -= 1)
        {
            expired[position] = expired[position - 1];
        }
        expired[position] = @intCast(id);
        count += 1;
    }
    for (expired[0..count]) |id| {
        assert(tasks[id].deadline_tsc <= now);
        tasks[id].timed_out = true;
        wake(id);
    }
    assert(earliest > now);
    earliest_deadline_tsc = earliest;
}

/// Nothing is ready: wait for the earliest deadline. Far deadlines: halt until the learned
/// margin before it, then return (the caller looks again and comes back here to spin the rest).
/// Near ones: spin in ring 3 up to the deadline. With a waker, its interrupt is armed before the
/// halt (which it may end early) and its work polled after; with no deadline at all, the halt
/// lasts at most idle_device_halt_ns_max (then the caller looks again).
fn idle() void {
    assert(ready_count == 0);
    const device_deadline = if (waker) |device| device.deadline() else deadline_none;
    if (device_deadline <= platform.now_tsc()) return waker.?.poll(); // The device's timers.
    if (earliest_deadline_tsc == deadline_none and !waiting_on_device()) deadlock();
    const flush_deadline = before_idle();
    const deadline = @min(earliest_deadline_tsc, device_deadline, flush_deadline);
    const now = platform.now_tsc();
    if (deadline <= now) return;
    const margin = halt_margin_ticks();
    if (deadline - now > margin + clock.ticks_for_ns(constants.idle_halt_ns_min)) {
        if (waker) |device| if (busy_poll(device, now, deadline - margin)) return device.poll();
        const armed = if (deadline == deadline_none)
            now + clock.ticks_for_ns(constants.idle_device_halt_ns_max)
        else
            deadline - margin;
        assert(armed > now);
        platform.halt_until(armed);
        halt_overshoot_learn(armed, platform.now_tsc());
        if (waker) |device| device.poll();
        return;
    }
    // A near deadline is spun for; the waker's device is still served meanwhile (its packets
    // may be what a task waits for: a loopback datagram, say).
    var spins: u64 = 0;
    while (platform.now_tsc() < deadline and spins < constants.idle_spin_iterations_max) {
        waker_poll_if_due();
        if (ready_count > 0) return;
        platform.pause();
        spins += 1;
    }
}

/// Before halting with a device that can wake tasks: spin in ring 3 (native speed) for up to
/// waker_busy_poll_ns, asking the device for work. A halt ended by the device's interrupt costs
/// about 250 µs under nested KVM (the wake-up path is emulated ring 0), while a client's next
/// packet usually comes within tens of µs. True when work came (poll it instead of halting);
/// false with the device armed for its interrupt (arm is the last thing before the halt).
fn busy_poll(device: Waker, now: u64, end_max: u64) bool {
    const end = @min(end_max, now +| clock.ticks_for_ns(constants.waker_busy_poll_ns));
    var spins: u32 = 0;
    while (true) : (spins += 1) {
        if (device.arm()) return true;
        if (platform.now_tsc() >= end or spins >= constants.waker_busy_poll_spins_max) return false;
        platform.pause();
    }
}

/// How long before a deadline to stop halting: what a halt's wake-up costs here (see
/// constants.zig, idle_halt_margin_*), in TSC ticks.
fn halt_margin_ticks() u64 {
    const margin_min = clock.ticks_for_ns(constants.idle_halt_margin_min_ns);
    const margin_max = clock.ticks_for_ns(constants.idle_halt_margin_max_ns);
    if (halt_overshoot_ticks == 0) return clock.ticks_for_ns(constants.idle_halt_margin_initial_ns);
    const margin = halt_overshoot_ticks + halt_overshoot_ticks / 4 +
        clock.ticks_for_ns(constants.idle_halt_margin_slack_ns);
    assert(margin_min <= margin_max);
    return std.math.clamp(margin, margin_min, margin_max);
}

/// A halt armed for `armed` returned to ring 3 at `woke`. Only halts that ran past their armed
/// deadline teach anything (an earlier wake-up was another interrupt).
fn halt_overshoot_learn(armed: u64, woke: u64) void {
    if (woke < armed) return;
    // An outlier (the host descheduled the vCPU) counts as the largest margin, no more.
    const overshoot = @min(woke - armed, clock.ticks_for_ns(constants.idle_halt_margin_max_ns));
    const decayed = halt_overshoot_ticks - halt_overshoot_ticks / constants.idle_halt_margin_decay;
    halt_overshoot_ticks = @max(overshoot, decayed, 1);
    assert(halt_overshoot_ticks > 0);
}

/// Whether some blocked task waits for something the waker's device may bring (a socket, or
/// io.poll, which may watch one). Without a waker nothing can.
fn waiting_on_device() bool {
    if (waker == null) return false;
    const socket = blocked_by_wait[@intFromEnum(Wait.socket)];
    return socket + blocked_by_wait[@intFromEnum(Wait.poll)] > 0;
}

fn deadlock() noreturn {
    @branchHint(.cold);
    _ = before_idle();
    platform.write("deadlock: every task is blocked and nothing can wake them:\n");
    for (tasks, 0..) |task, id| {
        if (task.state != .blocked) continue;
        assert(task.deadline_tsc == deadline_none);
        platform.print("  task {d}: waiting on {s} {d}\n", .{
            id, @tagName(task.wait), task.wait_object,
        });
    }
    workload_finished(constants.exit_status_deadlock);
}

comptime {
    // switch_context(save_rsp, next_rsp): pushes the callee-saved state on the current stack,
    // saves RSP, loads the next task's RSP and pops its state. task_trampoline is where a new
    // task's first switch "returns" to: it calls entry(argument) with an aligned stack, then
    // task_returned(status).
    asm (
        \\.section .text
        \\.global switch_context
        \\.type switch_context, @function
        \\switch_context:
        \\    pushq %rbp
        \\    pushq %rbx
        \\    pushq %r12
        \\    pushq %r13
        \\    pushq %r14
        \\    pushq %r15
        \\    subq $8, %rsp
        \\    stmxcsr (%rsp)
        \\    fnstcw 4(%rsp)
        \\    movq %rsp, (%rdi)
        \\    movq %rsi, %rsp
        \\    ldmxcsr (%rsp)
        \\    fldcw 4(%rsp)
        \\    addq $8, %rsp
        \\    popq %r15
        \\    popq %r14
        \\    popq %r13
        \\    popq %r12
        \\    popq %rbx
        \\    popq %rbp
        \\    retq
        \\.size switch_context, . - switch_context
        \\
        \\.global task_trampoline
        \\.type task_trampoline, @function
        \\task_trampoline:
        \\    movq %r13, %rdi
        \\    callq *%r12
        \\    movl %eax, %edi
        \\    callq task_returned
        \\    ud2
        \\.size task_trampoline, . - task_trampoline
    );
}
