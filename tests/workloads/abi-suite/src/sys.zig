//! Raw access to the kernel's call table, for tests that must pass what the SDK's typed wrappers
//! cannot: null or out-of-range pointers, lengths over the limits, unchecked flags, and the
//! exact i64 result of every call (the SDK turns results into Zig errors or drops them).
//!
//! The SDK keeps the table in a private variable and hands `main` only argv and envp, so
//! `locate` finds the StartContext itself: the kernel builds it in the same page as, and just
//! before, the argv array (kernel/src/workload.zig, `start_context`). We scan backwards from
//! argv, within argv's page only (so every read is of mapped memory), for the one 8-byte aligned
//! place whose argc/argv/envc/envp and ABI major equal what the SDK gave us, and take its table.
//! If the kernel ever builds the StartContext elsewhere, `locate` fails and the workload says so.
//!
//! Every call is then made through the table's own function pointer, re-typed with u64 in place
//! of each pointer parameter (the C ABI passes both identically, in the same registers), so an
//! invalid address never goes through a Zig pointer and never trips a safety check.

const std = @import("std");
const ukernel = @import("ukernel");
pub const abi = ukernel.abi;

pub var table: *const abi.Table = undefined;
pub var start: *const abi.StartContext = undefined;

pub const max_u64 = std.math.maxInt(u64);
pub const max_u32 = std.math.maxInt(u32);
pub const infinite = abi.timeout_infinite;
pub const nonblocking = abi.flag_nonblocking;

/// Addresses no call may accept: null, inside page 0, the top of the address space (kernel
/// half, not mapped), the first non-canonical address, and past the identity map (4 GiB).
pub const p_null: u64 = 0;
pub const p_8: u64 = 8;
pub const p_high: u64 = 0xffff_ffff_ffff_0000;
pub const p_noncanonical: u64 = 0x0000_8000_0000_0000;
pub const p_unmapped: u64 = 5 << 30;
pub const bad_addresses = [_]u64{ p_null, p_8, p_high, p_noncanonical, p_unmapped };
pub const bad_address_names = [_][]const u8{ "null", "8", "0xffffffffffff0000", "noncanonical", "5GiB" };

/// Unmapped pages inside the mapped range: the task stacks' guard pages. Their places follow the
/// kernel's layout (kernel/src/sched/task_stacks.zig): one 2 MiB-aligned region of slots; slot
/// 0 (the first task) is a guard page then a 1 MiB stack, every other slot a guard page then a
/// 64 KiB stack. If the layout changes, checks aimed here fail with "expected bad_pointer, got
/// ok" (the pages are mapped then), they do not crash.
/// Slots beside the first task's 1 MiB stack in its 2 MiB: (2 MiB - 4 KiB - 1 MiB) / 68 KiB.
pub const slots_beside_first: u64 = ((2 << 20) - 4096 - (1 << 20)) / (4096 + 64 * 1024);

pub const StackLayout = struct {
    /// The first task's stack: [bottom, top). Its guard page is [bottom - 4096, bottom); slot
    /// 1's guard page starts at `top`.
    bottom: u64,
    top: u64,

    /// Slot k's guard page, for the slots built with the first task's (kernel/src/sched/
    /// task_stacks.zig: those that fit beside its 1 MiB stack in the same 2 MiB, k ≤ 15); the
    /// others are in chunks built when a spawn first needs them, where the kernel finds room.
    pub fn guard(layout: StackLayout, slot: u64) u64 {
        std.debug.assert(slot <= slots_beside_first);
        if (slot == 0) return layout.bottom - 4096;
        return layout.top + (slot - 1) * (4096 + 64 * 1024);
    }
};

/// Only from the first task: it finds the region from an address on its own stack.
pub fn stack_layout() StackLayout {
    var marker: u8 = 0;
    const pointer: *volatile u8 = &marker;
    const region = @intFromPtr(pointer) & ~@as(u64, (2 << 20) - 1);
    return .{ .bottom = region + 4096, .top = region + 4096 + (1 << 20) };
}

pub fn locate(context: ukernel.Context) bool {
    const argv = @intFromPtr(context.args.ptr);
    const page = argv & ~@as(usize, 4095);
    const size = @sizeOf(abi.StartContext);
    if (argv < page + size) return false;
    var address = (argv - size) & ~@as(usize, 7);
    while (address >= page) : (address -= 8) {
        const candidate: *const abi.StartContext = @ptrFromInt(address);
        if (candidate.argv == context.args.ptr and candidate.argc == context.args.len and
            candidate.envp == context.env.ptr and candidate.envc == context.env.len and
            candidate.abi_major == abi.version_major)
        {
            start = candidate;
            table = candidate.table;
            return true;
        }
        if (address < page + 8) break;
    }
    return false;
}

/// Whether the kernel's table has `field` (a kernel older than the SDK has a shorter table).
pub fn has(comptime field: []const u8) bool {
    return table.size_bytes >= @offsetOf(abi.Table, field) + @sizeOf(usize);
}

/// The table is at least as long as the SDK's: every call exists.
pub fn complete() bool {
    return table.size_bytes >= @sizeOf(abi.Table);
}

fn Raw(comptime field: []const u8, comptime Fn: type) *const Fn {
    return @ptrCast(@field(table, field));
}

// ---- The calls, pointers as u64 ---------------------------------------------------------------

pub fn task_spawn(entry: u64, argument: u64, stack_bytes: u64) i64 {
    return Raw("task_spawn", fn (u64, u64, u64) callconv(.c) i64)(entry, argument, stack_bytes);
}
pub fn task_yield() i64 {
    return table.task_yield();
}
pub fn task_sleep(duration_ns: u64) i64 {
    return table.task_sleep(duration_ns);
}
pub fn task_exit(status: u32) noreturn {
    table.task_exit(status);
}
pub fn task_join(task: u32, timeout_ns: u64) i64 {
    return table.task_join(task, timeout_ns);
}
pub fn task_self() i64 {
    return table.task_self();
}
pub fn io_open(path: u64, length: u64, flags: u32) i64 {
    return Raw("io_open", fn (u64, u64, u32) callconv(.c) i64)(path, length, flags);
}
pub fn io_read(h: u32, buffer: u64, length: u64) i64 {
    return Raw("io_read", fn (u32, u64, u64) callconv(.c) i64)(h, buffer, length);
}
pub fn io_read_at(h: u32, buffer: u64, length: u64, offset: u64) i64 {
    return Raw("io_read_at", fn (u32, u64, u64, u64) callconv(.c) i64)(h, buffer, length, offset);
}
pub fn io_stat(path: u64, length: u64, stat: u64) i64 {
    return Raw("io_stat", fn (u64, u64, u64) callconv(.c) i64)(path, length, stat);
}
pub fn io_list(path: u64, length: u64, cursor: u32, entry: u64) i64 {
    return Raw("io_list", fn (u64, u64, u32, u64) callconv(.c) i64)(path, length, cursor, entry);
}
pub fn task_set_thread_pointer(address: u64) i64 {
    return table.task_set_thread_pointer(address);
}
/// What %fs:0 holds (the first word of the thread control block the thread pointer names).
pub fn read_fs_0() u64 {
    return asm volatile ("movq %%fs:0, %[value]"
        : [value] "=r" (-> u64),
    );
}
pub fn io_write(h: u32, data: u64, length: u64) i64 {
    return Raw("io_write", fn (u32, u64, u64) callconv(.c) i64)(h, data, length);
}
pub fn io_close(h: u32) i64 {
    return table.io_close(h);
}
pub fn io_poll(items: u64, count: u32, timeout_ns: u64) i64 {
    return Raw("io_poll", fn (u64, u32, u64) callconv(.c) i64)(items, count, timeout_ns);
}
pub fn channel_create(capacity: u32, message_bytes_max: u32) i64 {
    return table.ipc_channel_create(capacity, message_bytes_max);
}
pub fn send(channel: u32, message: u64, length: u64, flags: u32) i64 {
    return Raw("ipc_send", fn (u32, u64, u64, u32) callconv(.c) i64)(channel, message, length, flags);
}
pub fn recv(channel: u32, buffer: u64, length: u64, flags: u32) i64 {
    return Raw("ipc_recv", fn (u32, u64, u64, u32) callconv(.c) i64)(channel, buffer, length, flags);
}
pub fn arena_create(bytes_max: u64) i64 {
    return table.mem_arena_create(bytes_max);
}
pub fn arena_alloc(arena: u32, bytes: u64, alignment: u64) i64 {
    return table.mem_arena_alloc(arena, bytes, alignment);
}
pub fn arena_reset(arena: u32) i64 {
    return table.mem_arena_reset(arena);
}
pub fn arena_destroy(arena: u32) i64 {
    return table.mem_arena_destroy(arena);
}
pub fn mem_alloc(bytes: u64, alignment: u64) i64 {
    return table.mem_alloc(bytes, alignment);
}
pub fn mem_free(address: u64, bytes: u64) i64 {
    return table.mem_free(address, bytes);
}
pub fn log_write(level: u32, message: u64, length: u64, fields: u64, count: u32) i64 {
    return Raw("log_write", fn (u32, u64, u64, u64, u32) callconv(.c) i64)(level, message, length, fields, count);
}
pub fn span_begin(text: u64, length: u64) i64 {
    return Raw("trace_span_begin", fn (u64, u64) callconv(.c) i64)(text, length);
}
pub fn span_end(span: u64) i64 {
    return table.trace_span_end(span);
}
pub fn trace_event(text: u64, length: u64, value: u64) i64 {
    return Raw("trace_event", fn (u64, u64, u64) callconv(.c) i64)(text, length, value);
}
pub fn now() u64 {
    return table.clock_now_ns();
}
pub fn random_fill(buffer: u64, length: u64) i64 {
    return Raw("random_fill", fn (u64, u64) callconv(.c) i64)(buffer, length);
}

pub fn net_socket(kind: u32, flags: u32) i64 {
    return table.net_socket(kind, flags);
}
pub fn net_bind(h: u32, address: u64) i64 {
    return Raw("net_bind", fn (u32, u64) callconv(.c) i64)(h, address);
}
pub fn net_listen(h: u32, backlog: u32) i64 {
    return table.net_listen(h, backlog);
}
pub fn net_accept(h: u32, peer: u64, flags: u32) i64 {
    return Raw("net_accept", fn (u32, u64, u32) callconv(.c) i64)(h, peer, flags);
}
pub fn net_connect(h: u32, address: u64) i64 {
    return Raw("net_connect", fn (u32, u64) callconv(.c) i64)(h, address);
}
pub fn net_send(h: u32, data: u64, length: u64, flags: u32) i64 {
    return Raw("net_send", fn (u32, u64, u64, u32) callconv(.c) i64)(h, data, length, flags);
}
pub fn net_recv(h: u32, buffer: u64, length: u64, flags: u32) i64 {
    return Raw("net_recv", fn (u32, u64, u64, u32) callconv(.c) i64)(h, buffer, length, flags);
}
pub fn net_sendto(h: u32, data: u64, length: u64, address: u64, flags: u32) i64 {
    return Raw("net_sendto", fn (u32, u64, u64, u64, u32) callconv(.c) i64)(h, data, length, address, flags);
}
pub fn net_recvfrom(h: u32, buffer: u64, length: u64, address: u64, flags: u32) i64 {
    return Raw("net_recvfrom", fn (u32, u64, u64, u64, u32) callconv(.c) i64)(h, buffer, length, address, flags);
}
pub fn net_shutdown(h: u32, how: u32) i64 {
    return table.net_shutdown(h, how);
}
pub fn net_local_address(h: u32, address: u64) i64 {
    return Raw("net_local_address", fn (u32, u64) callconv(.c) i64)(h, address);
}
pub fn net_peer_address(h: u32, address: u64) i64 {
    return Raw("net_peer_address", fn (u32, u64) callconv(.c) i64)(h, address);
}
pub fn net_set_option(h: u32, option: u32, value: u64) i64 {
    return table.net_set_option(h, option, value);
}
pub fn net_get_option(h: u32, option: u32) i64 {
    return table.net_get_option(h, option);
}
pub fn net_resolve(host: u64, length: u64, addresses: u64, count: u32, timeout_ns: u64) i64 {
    return Raw("net_resolve", fn (u64, u64, u64, u32, u64) callconv(.c) i64)(host, length, addresses, count, timeout_ns);
}

/// 127.0.0.1:port (or a.b.c.d:port).
pub fn inet4(a: u8, b: u8, c: u8, d: u8, port: u16) abi.SocketAddress {
    var address: abi.SocketAddress = .{ .family = abi.family_inet4, .port = port, .address = @splat(0) };
    address.address[0..4].* = .{ a, b, c, d };
    return address;
}

// ---- Helpers ----------------------------------------------------------------------------------

pub fn addr(pointer: anytype) u64 {
    return @intFromPtr(pointer);
}

pub fn err(code: abi.Error) i64 {
    return -@intFromEnum(code);
}

/// "ok" for results ≥ 0, else the error's name (or "unknown").
pub fn name(result: i64) []const u8 {
    if (result >= 0) return "ok";
    if (result == std.math.minInt(i64)) return "unknown";
    const code = std.meta.intToEnum(abi.Error, -result) catch return "unknown";
    return @tagName(code);
}

/// Formats a result as `ok(N)` or an error name into `buffer`.
pub fn show(buffer: []u8, result: i64) []const u8 {
    if (result >= 0) return std.fmt.bufPrint(buffer, "ok({d})", .{result}) catch "ok(?)";
    const text = name(result);
    if (std.mem.eql(u8, text, "unknown")) return std.fmt.bufPrint(buffer, "unknown({d})", .{result}) catch "unknown";
    return text;
}

/// Handle values are u32 in the ABI; a result ≥ 0 from a create call is one.
pub fn handle(result: i64) u32 {
    return @truncate(@as(u64, @bitCast(result)));
}

/// Elapsed ns from `t0` to now, 0 if the clock went backwards (checked separately).
pub fn since(t0: u64) u64 {
    const t1 = now();
    return if (t1 >= t0) t1 - t0 else 0;
}

/// An environment variable as an integer, or `default`.
pub fn env_int(context: ukernel.Context, key: []const u8, default: u64) u64 {
    const text = context.getenv(key) orelse return default;
    return std.fmt.parseInt(u64, text, 0) catch default;
}

/// splitmix64: small, fast, deterministic for a seed.
pub const Rng = struct {
    state: u64,

    pub fn next(rng: *Rng) u64 {
        rng.state +%= 0x9e37_79b9_7f4a_7c15;
        var z = rng.state;
        z = (z ^ (z >> 30)) *% 0xbf58_476d_1ce4_e5b9;
        z = (z ^ (z >> 27)) *% 0x94d0_49bb_1331_11eb;
        return z ^ (z >> 31);
    }
    /// Uniform-ish in [0, bound); bound > 0.
    pub fn below(rng: *Rng, bound: u64) u64 {
        return rng.next() % bound;
    }
    pub fn chance(rng: *Rng, percent: u64) bool {
        return rng.below(100) < percent;
    }
    pub fn pick(rng: *Rng, comptime T: type, values: []const T) T {
        return values[@intCast(rng.below(values.len))];
    }
};
