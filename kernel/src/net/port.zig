//! What lwIP needs from its platform (lwIP 2.2.1 `src/include/lwip/arch.h`, `sys.h`, and
//! `doc/doxygen/main_page.h` "Mainloop mode"): a millisecond clock (`sys_now`), random numbers,
//! an assertion hook, RFC 6528 initial sequence numbers, and the few C library functions the
//! core calls that Zig's compiler-rt does not provide (`strlen`, `strcmp`, `strncmp`, `atoi`).
//! Declared for C in net/port/include/.

const std = @import("std");
const assert = std.debug.assert;
const clock_module = @import("../time/clock.zig");
const random = @import("../random.zig");
const console = @import("../console/console.zig");
const lwip = @import("lwip.zig").c;
const constants = @import("../constants.zig");
const pages = @import("../memory/pages.zig");
const address_space = @import("../memory/address_space.zig");

/// The DNS server port lwIP's resolver sends to (DNS_SERVER_PORT in lwipopts.h): 53 unless the
/// command line names another (uk.dns=ADDR:PORT).
pub export var uk_lwip_dns_port: u16 = 53;

/// lwIP's heap (LWIP_RAM_HEAP_POINTER in lwipopts.h): MEM_SIZE and the two `struct mem` around
/// it, taken from the page allocator by take_heap when the stack starts, so that a workload
/// without sockets does not pay for it (it was 4 MiB of the kernel's .bss).
pub export var uk_lwip_ram_heap: ?[*]u8 = null;
const heap_pages: u64 = constants.lwip.heap_bytes / pages.page_bytes + 1;

/// Takes lwIP's heap, once; false when memory refuses. The kernel never touches it for a
/// workload (protected, as it was in the kernel's image).
pub fn take_heap() bool {
    if (uk_lwip_ram_heap != null) return true;
    const base = pages.global.allocate(heap_pages) orelse return false;
    assert(base % pages.page_bytes == 0);
    address_space.global.protect(.{ .base = base, .end = base + heap_pages * pages.page_bytes });
    uk_lwip_ram_heap = @ptrFromInt(base);
    return true;
}

/// RFC 6528's key for initial sequence numbers, drawn once at stack start.
var isn_key: [16]u8 = .{0} ** 16;

pub fn init() void {
    random.fill(&isn_key);
}

/// Milliseconds since boot; lwIP's timeouts run on it (wraparound is fine, lwIP compares
/// differences).
pub export fn sys_now() u32 {
    return @truncate(clock_module.global.now_ns() / std.time.ns_per_ms);
}

export fn uk_lwip_rand() c_uint {
    var bytes: [4]u8 = undefined;
    random.fill(&bytes);
    return std.mem.readInt(u32, &bytes, .little);
}

/// An lwIP assertion failed: a kernel bug, reported like a Zig panic.
export fn uk_lwip_assert(message: [*:0]const u8, file: [*:0]const u8, line: c_int) noreturn {
    @branchHint(.cold);
    console.print("lwIP assertion failed at {s}:{d}: {s}\n", .{
        std.mem.span(file), line, std.mem.span(message),
    });
    @panic("lwIP assertion");
}

/// RFC 6528 §3: ISN = M + F(local address and port, remote address and port, secret), M a
/// 4 µs clock, F a keyed hash (SipHash here), so sequence numbers are not guessable.
export fn uk_lwip_tcp_isn(
    local_ip: *const lwip.ip_addr_t,
    local_port: u16,
    remote_ip: *const lwip.ip_addr_t,
    remote_port: u16,
) u32 {
    var tuple: [12]u8 = undefined;
    std.mem.writeInt(u32, tuple[0..4], local_ip.addr, .little);
    std.mem.writeInt(u32, tuple[4..8], remote_ip.addr, .little);
    std.mem.writeInt(u16, tuple[8..10], local_port, .little);
    std.mem.writeInt(u16, tuple[10..12], remote_port, .little);
    const hash = std.hash.SipHash64(2, 4).toInt(&tuple, &isn_key);
    const ticks_4us: u64 = clock_module.global.now_ns() / 4000;
    return @truncate(ticks_4us +% hash);
}

export fn strlen(text: [*:0]const u8) usize {
    return std.mem.len(text);
}

export fn strcmp(left: [*:0]const u8, right: [*:0]const u8) c_int {
    return strncmp(left, right, std.math.maxInt(usize));
}

export fn strncmp(left: [*]const u8, right: [*]const u8, length: usize) c_int {
    var index: usize = 0;
    while (index < length) : (index += 1) {
        if (left[index] != right[index] or left[index] == 0) {
            return @as(c_int, left[index]) - @as(c_int, right[index]);
        }
    }
    return 0;
}

/// Decimal digits after optional blanks and sign; stops at the first non-digit, saturates.
export fn atoi(text: [*:0]const u8) c_int {
    var index: usize = 0;
    while (text[index] == ' ' or text[index] == '\t') index += 1;
    const negative = text[index] == '-';
    if (text[index] == '-' or text[index] == '+') index += 1;
    var value: i64 = 0;
    var digits: u32 = 0;
    while (text[index] >= '0' and text[index] <= '9' and digits < 12) : (index += 1) {
        value = value * 10 + (text[index] - '0');
        digits += 1;
    }
    assert(value >= 0);
    const clamped: i64 = @min(value, std.math.maxInt(c_int));
    return @intCast(if (negative) -clamped else clamped);
}
