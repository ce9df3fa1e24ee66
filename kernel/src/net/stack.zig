//! The TCP/IP stack: lwIP 2.2.1's raw API (NO_SYS), driven from the scheduler.
//!
//! lwIP runs in exactly one context: ring-3 kernel code between tasks (the scheduler's poller,
//! installed by kmain) and the ABI calls of the running task, which never yield inside an lwIP
//! call. Interrupts never touch it: the NIC's interrupt only ends the idle halt. `poll` moves
//! received frames into lwIP, runs the loopback queue and lwIP's timers; `arm` prepares the idle
//! halt and says when lwIP's next timer is due. The loopback interface (127.0.0.1) always
//! exists, so sockets work inside a guest without a NIC.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");
const cpu = @import("../arch/x86_64/cpu.zig");
const clock_module = @import("../time/clock.zig");
const lwip = @import("lwip.zig").c;
const port = @import("port.zig");
const scheduler = @import("../sched/scheduler.zig");

/// sys_timeouts_sleeptime's answer when no timer is pending (SYS_TIMEOUTS_SLEEPTIME_INFINITE).
const timeouts_infinite_ms: u32 = 0xFFFF_FFFF;

var started = false;

/// Starts lwIP (its pools, heap and timers) and the loopback interface, and makes the
/// scheduler poll it, once: at boot when there is a NIC, else at the workload's first socket
/// (a workload without sockets never pays for the stack). Idempotent.
pub fn start() void {
    if (started) return;
    port.init();
    lwip.lwip_init();
    started = true;
    assert(lwip.netif_list != null); // The loopback interface, added by lwip_init.
    assert(scheduler.poller == null);
    scheduler.poller = .{ .poll = &poll, .arm = &arm };
}

/// Handles whatever is pending: loopback packets and due timers. Never blocks; bounded by the
/// queues' sizes.
fn poll() void {
    assert(started);
    lwip.netif_poll_all();
    lwip.sys_check_timeouts();
}

/// Before the idle halt: the TSC deadline of lwIP's next timer, or null when work is pending
/// (the caller polls again instead of halting).
fn arm() ?u64 {
    assert(started);
    const clock = &clock_module.global;
    const sleep_ms = lwip.sys_timeouts_sleeptime();
    if (sleep_ms == 0) return null;
    if (sleep_ms == timeouts_infinite_ms) return std.math.maxInt(u64);
    const sleep_ns = @min(@as(u64, sleep_ms) * std.time.ns_per_ms, constants.timeout_ns_max);
    return cpu.rdtsc() +| clock.ticks_for_ns(sleep_ns);
}
