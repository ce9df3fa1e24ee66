//! posix-probe: the POSIX layer in the real guest, without musl. It links libukposix.a and
//! stands in for musl's __libc_start_main (which _start calls), then drives __uk_syscall the
//! way musl would: files, directories, memory, time, streams, sockets, fds, signals, the thread
//! pointer, futex, an unserved call. Each check prints `ok NAME` or `FAIL NAME: detail`; the
//! exit status is the number of failures. tests/e2e/posix.test.ts packs it with a rootfs and
//! runs it. (Zig, not C: the project's toolchain builds it with nothing else installed.)

const std = @import("std");
const SYS = std.os.linux.syscalls.X64;

extern fn __uk_syscall(
    n: i64,
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
    a6: u64,
) callconv(.c) i64;

var failures: u32 = 0;

fn sys(number: SYS, args: anytype) i64 {
    var a = [_]u64{0} ** 6;
    inline for (args, 0..) |arg, index| {
        a[index] = switch (@typeInfo(@TypeOf(arg))) {
            .pointer => @intFromPtr(arg),
            .comptime_int => @bitCast(@as(i64, arg)),
            .int => |info| if (info.signedness == .signed) @bitCast(@as(i64, arg)) else arg,
            else => @compileError("argument type"),
        };
    }
    return __uk_syscall(@intCast(@intFromEnum(number)), a[0], a[1], a[2], a[3], a[4], a[5]);
}

fn say(text: []const u8) void {
    _ = sys(.write, .{ 1, text.ptr, text.len });
}

fn check(name: []const u8, ok: bool, comptime detail: []const u8, args: anytype) void {
    var buffer: [256]u8 = undefined;
    if (ok) {
        say(std.fmt.bufPrint(&buffer, "ok {s}\n", .{name}) catch unreachable);
        return;
    }
    failures += 1;
    const line = std.fmt.bufPrint(&buffer, "FAIL {s}: " ++ detail ++ "\n", .{name} ++ args) catch
        "FAIL (detail too long)\n";
    say(line);
}

fn expect_result(name: []const u8, result: i64, expected: i64) void {
    check(name, result == expected, "got {d}, expected {d}", .{ result, expected });
}

const o_rdonly: u64 = 0;
const o_directory: u64 = 0o200000;
const o_cloexec: u64 = 0o2000000;
const at_fdcwd: i64 = -100;

pub const panic = std.debug.FullPanic(panic_handler);

fn panic_handler(message: []const u8, return_address: ?usize) noreturn {
    _ = return_address;
    say("FAIL probe panic: ");
    say(message);
    say("\n");
    _ = sys(.exit_group, .{99});
    unreachable;
}

/// musl's __libc_start_main, as far as the layer sees it: argv, then envp after argv's NULL,
/// then auxv after envp's NULL; main's status to exit_group.
export fn __libc_start_main(
    main_fn: *const fn (c_int, [*]?[*:0]u8, [*]?[*:0]u8) callconv(.c) c_int,
    argc: c_int,
    argv: [*]?[*:0]u8,
    init: ?*const anyopaque,
    fini: ?*const anyopaque,
    ldso: ?*const anyopaque,
) callconv(.c) c_int {
    _ = .{ init, fini, ldso };
    const envp = argv + @as(usize, @intCast(argc)) + 1;
    check_auxv(envp);
    const status = main_fn(argc, argv, envp);
    _ = sys(.exit_group, .{status});
    unreachable;
}

fn check_auxv(envp: [*]?[*:0]u8) void {
    var index: usize = 0;
    while (envp[index] != null) index += 1;
    const auxv: [*]const u64 = @ptrCast(envp + index + 1);
    var pagesz: u64 = 0;
    var phdr: u64 = 0;
    var phnum: u64 = 0;
    var random: u64 = 0;
    var pair: usize = 0;
    while (auxv[2 * pair] != 0 and pair < 64) : (pair += 1) {
        switch (auxv[2 * pair]) {
            3 => phdr = auxv[2 * pair + 1],
            5 => phnum = auxv[2 * pair + 1],
            6 => pagesz = auxv[2 * pair + 1],
            25 => random = auxv[2 * pair + 1],
            else => {},
        }
    }
    check("auxv AT_PAGESZ", pagesz == 4096, "{d}", .{pagesz});
    check("auxv AT_RANDOM", random != 0, "missing", .{});
    const headers: [*]const std.elf.Elf64_Phdr = @ptrFromInt(phdr);
    var has_load = false;
    for (headers[0..phnum]) |header| {
        if (header.p_type == std.elf.PT_LOAD) has_load = true;
    }
    check("auxv AT_PHDR at runtime", phdr != 0 and phnum > 0 and has_load, "phdr {x}", .{phdr});
}

export fn main(argc: c_int, argv: [*]?[*:0]u8, envp: [*]?[*:0]u8) c_int {
    _ = envp;
    const entry_named = argc >= 1 and std.mem.eql(u8, std.mem.span(argv[0].?), "bin/probe");
    check("argv[0]", entry_named, "argc {d}", .{argc});
    files();
    directories();
    memory();
    tmp();
    time();
    streams();
    sockets();
    descriptors();
    edges();
    process();
    edges_futex();
    var buffer: [64]u8 = undefined;
    say(std.fmt.bufPrint(&buffer, "probe done: {d} failed\n", .{failures}) catch unreachable);
    return @intCast(failures);
}

const env_text = "PROBE=1\n"; // etc/ukernel.env as the test packs it

fn files() void {
    const fd = sys(.open, .{ "/etc/ukernel.env", o_rdonly | o_cloexec });
    check("open absolute", fd >= 3, "{d}", .{fd});
    var stat: std.os.linux.Stat = undefined;
    expect_result("fstat", sys(.fstat, .{ fd, &stat }), 0);
    const regular = stat.size == env_text.len and stat.mode & 0o170000 == 0o100000;
    check("fstat size and mode", regular, "size {d} mode {o}", .{ stat.size, stat.mode });
    var buffer: [64]u8 = undefined;
    expect_result("read", sys(.read, .{ fd, &buffer, 3 }), 3);
    expect_result("read continues", sys(.read, .{ fd, buffer[3..].ptr, 61 }), env_text.len - 3);
    const text = buffer[0..env_text.len];
    check("read bytes", std.mem.eql(u8, text, env_text), "{s}", .{text});
    expect_result("read at end", sys(.read, .{ fd, &buffer, 64 }), 0);
    expect_result("pread64", sys(.pread64, .{ fd, &buffer, 2, 6 }), 2);
    check("pread64 bytes", buffer[0] == '1' and buffer[1] == '\n', "{s}", .{buffer[0..2]});
    expect_result("lseek end", sys(.lseek, .{ fd, 0, 2 }), env_text.len);
    expect_result("close", sys(.close, .{fd}), 0);
    expect_result("close again", sys(.close, .{fd}), -9);
    const relative = sys(.openat, .{ at_fdcwd, "etc/../etc/./ukernel.env", o_rdonly });
    check("openat relative", relative >= 0, "{d}", .{relative});
    _ = sys(.close, .{relative});
    expect_result("open missing", sys(.open, .{ "/nope", o_rdonly }), -2);
    expect_result("open for writing", sys(.open, .{ "/etc/ukernel.env", 1 }), -30);
    expect_result("open O_CREAT", sys(.open, .{ "/new", 0o101 }), -30);
    expect_result("stat", sys(.stat, .{ "/bin/probe", &stat }), 0);
    check("stat executable", stat.mode == 0o100755, "mode {o}", .{stat.mode});
    expect_result("access W_OK", sys(.access, .{ "/bin/probe", 2 }), -30);
    expect_result("access X_OK", sys(.access, .{ "/bin/probe", 1 }), 0);
    expect_result("readlink", sys(.readlink, .{ "/bin/probe", &buffer, 64 }), -22);
    const exe = sys(.readlink, .{ "/proc/self/exe", &buffer, 64 });
    expect_result("readlink /proc/self/exe", exe, 10);
    const hosts = sys(.open, .{ "/etc/hosts", o_rdonly });
    expect_result("built-in /etc/hosts", sys(.read, .{ hosts, &buffer, 9 }), 9);
    check("/etc/hosts names localhost", std.mem.eql(u8, buffer[0..9], "127.0.0.1"), "", .{});
    _ = sys(.close, .{hosts});
    const null_fd = sys(.open, .{ "/dev/null", 2 });
    expect_result("/dev/null write", sys(.write, .{ null_fd, "x", 1 }), 1);
    expect_result("/dev/null read", sys(.read, .{ null_fd, &buffer, 1 }), 0);
    _ = sys(.close, .{null_fd});
}

fn directories() void {
    var stat: std.os.linux.Stat = undefined;
    expect_result("stat directory", sys(.stat, .{ "/etc", &stat }), 0);
    check("directory mode", stat.mode & 0o170000 == 0o040000, "mode {o}", .{stat.mode});
    const fd = sys(.open, .{ "/", o_directory | o_cloexec });
    check("open root directory", fd >= 0, "{d}", .{fd});
    var buffer: [512]u8 align(8) = undefined;
    const count = sys(.getdents64, .{ fd, &buffer, buffer.len });
    check("getdents64", count > 0, "{d}", .{count});
    var names: [256]u8 = undefined;
    var names_length: usize = 0;
    var offset: usize = 0;
    while (count > 0 and offset < @as(usize, @intCast(count))) {
        const length = std.mem.readInt(u16, buffer[offset + 16 ..][0..2], .little);
        const name = std.mem.sliceTo(buffer[offset + 19 ..][0 .. length - 19], 0);
        @memcpy(names[names_length..][0..name.len], name);
        names[names_length + name.len] = ' ';
        names_length += name.len + 1;
        offset += length;
    }
    const listed = names[0..names_length];
    check("getdents64 entries", std.mem.eql(u8, listed, ". .. bin etc tmp "), "{s}", .{listed});
    expect_result("getdents64 at end", sys(.getdents64, .{ fd, &buffer, buffer.len }), 0);
    expect_result("getdents64 tiny buffer", sys(.lseek, .{ fd, 0, 0 }), 0);
    expect_result("getdents64 EINVAL", sys(.getdents64, .{ fd, &buffer, 8 }), -22);
    _ = sys(.close, .{fd});
    expect_result("open file as directory", sys(.open, .{ "/etc/ukernel.env", o_directory }), -20);
    var cwd: [64]u8 = undefined;
    expect_result("getcwd", sys(.getcwd, .{ &cwd, 64 }), 2);
    expect_result("chdir", sys(.chdir, .{"/etc"}), 0);
    expect_result("getcwd after chdir", sys(.getcwd, .{ &cwd, 64 }), 5);
    const relative = sys(.open, .{ "ukernel.env", o_rdonly });
    check("open relative to cwd", relative >= 0, "{d}", .{relative});
    _ = sys(.close, .{relative});
    expect_result("chdir to a file", sys(.chdir, .{"ukernel.env"}), -20);
    expect_result("chdir back", sys(.chdir, .{".."}), 0);
}

fn memory() void {
    const bytes: u64 = 3 * 4096;
    const address = sys(.mmap, .{ 0, bytes, 3, 0x22, -1, 0 });
    check("mmap anonymous", address > 0 and @mod(address, 4096) == 0, "{d}", .{address});
    if (address <= 0) return;
    const memory_bytes: [*]u8 = @ptrFromInt(@as(usize, @intCast(address)));
    var zero = true;
    for (memory_bytes[0..bytes]) |byte| zero = zero and byte == 0;
    check("mmap zeroed", zero, "", .{});
    memory_bytes[bytes - 1] = 7;
    const moved = sys(.mremap, .{ address, bytes, 8 * 4096, 1, 0 });
    check("mremap grows", moved > 0, "{d}", .{moved});
    const moved_bytes: [*]u8 = @ptrFromInt(@as(usize, @intCast(moved)));
    check("mremap keeps contents", moved_bytes[bytes - 1] == 7, "", .{});
    expect_result("munmap", sys(.munmap, .{ moved, 8 * 4096 }), 0);
    const fd = sys(.open, .{ "/etc/ukernel.env", o_rdonly });
    const file_map = sys(.mmap, .{ 0, 4096, 1, 2, fd, 0 });
    check("mmap file", file_map > 0, "{d}", .{file_map});
    if (file_map > 0) {
        const mapped: [*]const u8 = @ptrFromInt(@as(usize, @intCast(file_map)));
        check("mmap file contents", std.mem.eql(u8, mapped[0..env_text.len], env_text), "", .{});
        _ = sys(.munmap, .{ file_map, 4096 });
    }
    _ = sys(.close, .{fd});
    const brk = sys(.brk, .{0});
    expect_result("brk refuses to grow", sys(.brk, .{brk + 4096}), brk);
}

fn time() void {
    var first: std.os.linux.timespec = undefined;
    var second: std.os.linux.timespec = undefined;
    expect_result("clock_gettime", sys(.clock_gettime, .{ 1, &first }), 0);
    const request: std.os.linux.timespec = .{ .sec = 0, .nsec = 2_000_000 };
    expect_result("nanosleep", sys(.nanosleep, .{ &request, 0 }), 0);
    expect_result("clock_gettime again", sys(.clock_gettime, .{ 1, &second }), 0);
    const elapsed = (second.sec - first.sec) * std.time.ns_per_s + (second.nsec - first.nsec);
    check("nanosleep slept", elapsed >= 2_000_000, "{d} ns", .{elapsed});
    expect_result("clock_getres", sys(.clock_getres, .{ 1, &first }), 0);
    check("clock_getres 1 ns", first.sec == 0 and first.nsec == 1, "{d}", .{first.nsec});
    expect_result("clock_gettime bad clock", sys(.clock_gettime, .{ 99, &first }), -22);
    var random = [_]u8{0} ** 32;
    expect_result("getrandom", sys(.getrandom, .{ &random, 32, 0 }), 32);
    check("getrandom bytes", !std.mem.allEqual(u8, &random, 0), "", .{});
}

const fionbio: u64 = 0x5421;
const pollin: i16 = 1;
const pollout: i16 = 4;
const pollhup: i16 = 0x10;

fn streams() void {
    var pair = [2]i32{ -1, -1 };
    expect_result("socketpair", sys(.socketpair, .{ 1, 1 | o_cloexec, 0, &pair }), 0);
    var data: [5000]u8 = undefined;
    for (&data, 0..) |*byte, index| byte.* = @truncate(index *% 7);
    expect_result("stream write", sys(.write, .{ pair[0], &data, data.len }), data.len);
    var polls = [_]std.os.linux.pollfd{.{ .fd = pair[1], .events = pollin, .revents = 0 }};
    expect_result("poll stream readable", sys(.poll, .{ &polls, 1, 0 }), 1);
    var received: [5000]u8 = undefined;
    var total: usize = 0;
    var reads: u32 = 0;
    while (total < data.len and reads < 100) : (reads += 1) {
        const want: usize = if (reads == 0) 100 else data.len - total;
        const count = sys(.read, .{ pair[1], received[total..].ptr, want });
        if (count <= 0) break;
        total += @intCast(count);
    }
    const same = total == data.len and std.mem.eql(u8, &data, &received);
    check("stream bytes in order", same, "{d} bytes", .{total});
    var one: i32 = 1;
    expect_result("FIONBIO", sys(.ioctl, .{ pair[1], fionbio, &one }), 0);
    expect_result("F_GETFL shows O_NONBLOCK", sys(.fcntl, .{ pair[1], 3, 0 }) & 0o4000, 0o4000);
    expect_result("read empty non-blocking", sys(.read, .{ pair[1], &received, 10 }), -11);
    expect_result("poll times out", sys(.poll, .{ &polls, 1, 1 }), 0);
    expect_result("sendto on socketpair", sys(.sendto, .{ pair[1], "x", 1, 0, 0, 0 }), 1);
    const from = sys(.recvfrom, .{ pair[0], &received, 10, 0, 0, 0 });
    expect_result("recvfrom on socketpair", from, 1);
    var name: [16]u8 = undefined;
    var name_length: u32 = name.len;
    const named = sys(.getsockname, .{ pair[0], &name, &name_length });
    expect_result("getsockname socketpair", named, 0);
    check("AF_UNIX name", name_length == 2 and name[0] == 1, "{d}", .{name_length});
    expect_result("close one end", sys(.close, .{pair[0]}), 0);
    polls[0].events = pollin;
    _ = sys(.poll, .{ &polls, 1, 0 });
    check("poll sees hang-up", polls[0].revents & pollhup != 0, "revents {x}", .{polls[0].revents});
    expect_result("read end of stream", sys(.read, .{ pair[1], &received, 10 }), 0);
    expect_result("write to closed peer", sys(.write, .{ pair[1], "x", 1 }), -32);
    _ = sys(.close, .{pair[1]});
    var pipe = [2]i32{ -1, -1 };
    expect_result("pipe2", sys(.pipe2, .{ &pipe, 0o4000 }), 0);
    expect_result("pipe write", sys(.write, .{ pipe[1], "hello", 5 }), 5);
    expect_result("pipe read", sys(.read, .{ pipe[0], &received, 64 }), 5);
    expect_result("pipe wrong end", sys(.write, .{ pipe[0], "x", 1 }), -9);
    expect_result("pipe empty", sys(.read, .{ pipe[0], &received, 64 }), -11);
    _ = sys(.close, .{pipe[1]});
    expect_result("pipe end of stream", sys(.read, .{ pipe[0], &received, 64 }), 0);
    _ = sys(.close, .{pipe[0]});
    expect_result("pipe2 for sendfile", sys(.pipe2, .{ &pipe, 0 }), 0);
    const source = sys(.open, .{ "/etc/ukernel.env", o_rdonly });
    var offset: i64 = 2;
    const sent = sys(.sendfile, .{ pipe[1], source, &offset, 100 });
    expect_result("sendfile", sent, env_text.len - 2);
    check("sendfile moves the offset", offset == env_text.len, "{d}", .{offset});
    const arrived = sys(.read, .{ pipe[0], &received, 64 });
    expect_result("sendfile bytes arrive", arrived, env_text.len - 2);
    check("sendfile bytes", std.mem.eql(u8, received[0..6], env_text[2..]), "", .{});
    expect_result("flock", sys(.flock, .{ source, 2 }), 0);
    for ([_]i64{ source, pipe[0], pipe[1] }) |fd| _ = sys(.close, .{fd});
    const counter = sys(.eventfd2, .{ 0, 0o4000 });
    check("eventfd", counter >= 0, "{d}", .{counter});
    const increment: u64 = 3;
    expect_result("eventfd write", sys(.write, .{ counter, &increment, 8 }), 8);
    expect_result("eventfd write again", sys(.write, .{ counter, &increment, 8 }), 8);
    var value: u64 = 0;
    expect_result("eventfd read", sys(.read, .{ counter, &value, 8 }), 8);
    check("eventfd sum", value == 6, "{d}", .{value});
    _ = sys(.close, .{counter});
}

fn sockaddr(port: u16) [16]u8 {
    var address = [_]u8{0} ** 16;
    address[0] = 2;
    std.mem.writeInt(u16, address[2..4], port, .big);
    address[4] = 127;
    address[7] = 1;
    return address;
}

fn sockets() void {
    expect_result("AF_INET6 refused", sys(.socket, .{ 10, 1, 0 }), -97);
    const listener = sys(.socket, .{ 2, 1 | o_cloexec, 6 });
    check("socket", listener >= 0, "{d}", .{listener});
    var one: i32 = 1;
    expect_result("SO_REUSEADDR", sys(.setsockopt, .{ listener, 1, 2, &one, 4 }), 0);
    var address = sockaddr(0);
    expect_result("bind", sys(.bind, .{ listener, &address, 16 }), 0);
    expect_result("listen", sys(.listen, .{ listener, 16 }), 0);
    expect_result("listen again", sys(.listen, .{ listener, 32 }), 0);
    var length: u32 = 16;
    expect_result("getsockname", sys(.getsockname, .{ listener, &address, &length }), 0);
    const port = std.mem.readInt(u16, address[2..4], .big);
    check("bound port", port != 0 and length == 16, "{d}", .{port});
    const client = sys(.socket, .{ 2, 1 | 0o4000, 0 });
    expect_result("connect in progress", sys(.connect, .{ client, &address, 16 }), -115);
    var polls = [_]std.os.linux.pollfd{
        .{ .fd = @intCast(listener), .events = pollin, .revents = 0 },
        .{ .fd = @intCast(client), .events = pollout, .revents = 0 },
    };
    const ready = sys(.poll, .{ &polls, 2, 2000 });
    check("poll connect", ready >= 1, "{d}", .{ready});
    _ = sys(.poll, .{ &polls, 2, 2000 });
    var peer: [16]u8 = undefined;
    var peer_length: u32 = 16;
    const server = sys(.accept4, .{ listener, &peer, &peer_length, 0o4000 | o_cloexec });
    check("accept4", server >= 0 and peer_length == 16 and peer[4] == 127, "{d}", .{server});
    var err: i32 = -1;
    var err_length: u32 = 4;
    expect_result("SO_ERROR", sys(.getsockopt, .{ client, 1, 4, &err, &err_length }), 0);
    check("SO_ERROR is 0", err == 0, "{d}", .{err});
    expect_result("TCP_NODELAY", sys(.setsockopt, .{ client, 6, 1, &one, 4 }), 0);
    expect_result("send", sys(.sendto, .{ client, "ping", 4, 0x4000, 0, 0 }), 4);
    var buffer: [16]u8 = undefined;
    polls[0] = .{ .fd = @intCast(server), .events = pollin, .revents = 0 };
    _ = sys(.poll, .{ &polls, 1, 2000 });
    expect_result("recv", sys(.recvfrom, .{ server, &buffer, 16, 0, 0, 0 }), 4);
    expect_result("accept on a connected socket", sys(.accept4, .{ client, 0, 0, 0 }), -22);
    expect_result("listener FIONBIO", sys(.ioctl, .{ listener, fionbio, &one }), 0);
    expect_result("accept drained", sys(.accept4, .{ listener, 0, 0, 0 }), -11);
    var refused_address = sockaddr(1);
    const refused = sys(.socket, .{ 2, 1, 0 });
    expect_result("connect refused", sys(.connect, .{ refused, &refused_address, 16 }), -111);
    for ([_]i64{ listener, client, server, refused }) |fd| _ = sys(.close, .{fd});
}

fn descriptors() void {
    const fd = sys(.open, .{ "/etc/ukernel.env", o_rdonly });
    expect_result("F_GETFD", sys(.fcntl, .{ fd, 1, 0 }), 0);
    expect_result("FIOCLEX", sys(.ioctl, .{ fd, 0x5451, 0 }), 0);
    expect_result("F_GETFD after FIOCLEX", sys(.fcntl, .{ fd, 1, 0 }), 1);
    expect_result("TIOCGWINSZ is ENOTTY", sys(.ioctl, .{ 1, 0x5413, 0 }), -25);
    const copy = sys(.fcntl, .{ fd, 1030, 10 });
    check("F_DUPFD_CLOEXEC", copy >= 10, "{d}", .{copy});
    expect_result("dup2", sys(.dup2, .{ fd, 20 }), 20);
    var buffer: [4]u8 = undefined;
    expect_result("dup shares the offset", sys(.read, .{ copy, &buffer, 2 }), 2);
    expect_result("dup shares the offset (2)", sys(.lseek, .{ 20, 0, 1 }), 2);
    for ([_]i64{ fd, copy, 20 }) |number| _ = sys(.close, .{number});
    var uname: std.os.linux.utsname = undefined;
    expect_result("uname", sys(.uname, .{&uname}), 0);
    check("uname Linux x86_64", std.mem.eql(u8, std.mem.sliceTo(&uname.sysname, 0), "Linux") and
        std.mem.eql(u8, std.mem.sliceTo(&uname.machine, 0), "x86_64"), "", .{});
}

var signal_seen: i32 = 0;

fn on_signal(signal: i32) callconv(.c) void {
    signal_seen = signal;
}

const KAction = extern struct { handler: u64, flags: u64, restorer: u64, mask: u64 };

/// A thread control block as musl lays it out: its first word points at itself.
var tcb: [4]u64 align(64) = .{ 0, 0, 0, 0 };

fn process() void {
    expect_result("getpid", sys(.getpid, .{}), 1);
    const handler = @intFromPtr(&on_signal);
    const action: KAction = .{ .handler = handler, .flags = 0, .restorer = 0, .mask = 0 };
    var old: KAction = undefined;
    expect_result("rt_sigaction", sys(.rt_sigaction, .{ 10, &action, &old, 8 }), 0);
    expect_result("rt_sigaction reads back", sys(.rt_sigaction, .{ 10, 0, &old, 8 }), 0);
    check("handler kept", old.handler == action.handler, "", .{});
    const block: u64 = 1 << 9;
    expect_result("block SIGUSR1", sys(.rt_sigprocmask, .{ 0, &block, 0, 8 }), 0);
    expect_result("tkill self", sys(.tkill, .{ 1, 10 }), 0);
    check("blocked signal waits", signal_seen == 0, "{d}", .{signal_seen});
    expect_result("unblock SIGUSR1", sys(.rt_sigprocmask, .{ 1, &block, 0, 8 }), 0);
    check("signal delivered on unblock", signal_seen == 10, "{d}", .{signal_seen});
    alarm(handler);
    tcb[0] = @intFromPtr(&tcb);
    expect_result("arch_prctl ARCH_SET_FS", sys(.arch_prctl, .{ 0x1002, &tcb }), 0);
    const self = asm volatile ("movq %%fs:0, %[out]"
        : [out] "=r" (-> u64),
    );
    check("%fs:0 reads the thread pointer", self == @intFromPtr(&tcb), "{x}", .{self});
    var word: u32 = 5;
    expect_result("futex wait, value changed", sys(.futex, .{ &word, 128, 4, 0 }), -11);
    expect_result("futex wait, no waker", sys(.futex, .{ &word, 128, 5, 0 }), -110);
    expect_result("futex wake", sys(.futex, .{ &word, 129, 1 }), 0);
    expect_result("clone refused", sys(.clone, .{ 0, 0, 0, 0, 0 }), -38);
    var limit = [2]u64{ 0, 0 };
    expect_result("prlimit64 RLIMIT_NOFILE", sys(.prlimit64, .{ 0, 7, 0, &limit }), 0);
    check("RLIMIT_NOFILE", limit[0] == 256, "{d}", .{limit[0]});
    // The probe's PT_GNU_STACK asks for 2 MiB (build.zig): the stack the kernel gave task 0.
    expect_result("prlimit64 RLIMIT_STACK", sys(.prlimit64, .{ 0, 3, 0, &limit }), 0);
    check("RLIMIT_STACK", limit[0] == 2 << 20 and limit[1] == 2 << 20, "{d}", .{limit[0]});
    var mask: [16]u8 = undefined;
    expect_result("sched_getaffinity", sys(.sched_getaffinity, .{ 0, 16, &mask }), 8);
    // An unserved call: ENOSYS, and one log record (the test reads it from the console).
    expect_result("epoll_create1 unserved", sys(.epoll_create1, .{0}), -38);
    expect_result("epoll_create1 unserved again", sys(.epoll_create1, .{0}), -38);
}

/// setitimer(ITIMER_REAL): SIGALRM cuts a long sleep short (EINTR) and runs the handler; the
/// CPU-time clock leaves sleeps out.
fn alarm(handler: u64) void {
    const action: KAction = .{ .handler = handler, .flags = 0, .restorer = 0, .mask = 0 };
    expect_result("SIGALRM handler", sys(.rt_sigaction, .{ 14, &action, 0, 8 }), 0);
    const timer = [4]i64{ 0, 0, 0, 100_000 }; // interval 0, value 100 ms
    expect_result("setitimer", sys(.setitimer, .{ 0, &timer, 0 }), 0);
    var before: std.os.linux.timespec = undefined;
    var after: std.os.linux.timespec = undefined;
    var cpu_before: std.os.linux.timespec = undefined;
    var cpu_after: std.os.linux.timespec = undefined;
    _ = sys(.clock_gettime, .{ 1, &before });
    _ = sys(.clock_gettime, .{ 2, &cpu_before });
    const long: std.os.linux.timespec = .{ .sec = 5, .nsec = 0 };
    var left: std.os.linux.timespec = undefined;
    expect_result("sleep interrupted by SIGALRM", sys(.nanosleep, .{ &long, &left }), -4);
    _ = sys(.clock_gettime, .{ 1, &after });
    _ = sys(.clock_gettime, .{ 2, &cpu_after });
    const slept = (after.sec - before.sec) * std.time.ns_per_s + (after.nsec - before.nsec);
    check("woken at the alarm", slept >= 100_000_000 and slept < 2_000_000_000, "{d} ns", .{slept});
    check("SIGALRM handled", signal_seen == 14, "{d}", .{signal_seen});
    check("time left reported", left.sec >= 3, "{d} s", .{left.sec});
    const cpu = (cpu_after.sec - cpu_before.sec) * std.time.ns_per_s +
        (cpu_after.nsec - cpu_before.nsec);
    // Less than half the sleep: the host may deschedule the VM meanwhile (counted as CPU).
    check("CPU time leaves the sleep out", cpu < @divTrunc(slept, 2), "{d} ns", .{cpu});
    var current = [4]i64{ 1, 1, 1, 1 };
    expect_result("getitimer", sys(.getitimer, .{ 0, &current }), 0);
    check("timer off after firing", current[2] == 0 and current[3] == 0, "{any}", .{current});
    signal_seen = 0;
    const short = [4]i64{ 0, 0, 0, 30_000 };
    expect_result("setitimer again", sys(.setitimer, .{ 0, &short, 0 }), 0);
    expect_result("pause ends with SIGALRM", sys(.pause, .{}), -4);
    check("pause ran the handler", signal_seen == 14, "{d}", .{signal_seen});
    signal_seen = 0;
}

/// /tmp: a writable file system in memory.
fn tmp() void {
    const o_rdwr: u64 = 2;
    const o_creat: u64 = 0o100;
    const o_excl: u64 = 0o200;
    const fd = sys(.open, .{ "/tmp/a", o_rdwr | o_creat | o_excl | o_cloexec, 0o600 });
    check("tmp create", fd >= 0, "{d}", .{fd});
    expect_result("tmp write", sys(.write, .{ fd, "hello world", 11 }), 11);
    expect_result("tmp O_EXCL", sys(.open, .{ "/tmp/a", o_rdwr | o_creat | o_excl }), -17);
    expect_result("tmp lseek", sys(.lseek, .{ fd, 0, 0 }), 0);
    var buffer: [32]u8 = undefined;
    expect_result("tmp read", sys(.read, .{ fd, &buffer, 32 }), 11);
    check("tmp bytes", std.mem.eql(u8, buffer[0..11], "hello world"), "", .{});
    expect_result("tmp pwrite past the end", sys(.pwrite64, .{ fd, "x", 1, 20 }), 1);
    var stat: std.os.linux.Stat = undefined;
    _ = sys(.fstat, .{ fd, &stat });
    check("tmp size", stat.size == 21 and stat.mode & 0o170000 == 0o100000, "{d}", .{stat.size});
    expect_result("tmp gap is zero", sys(.pread64, .{ fd, &buffer, 9, 12 }), 9);
    check("tmp gap bytes", std.mem.allEqual(u8, buffer[0..8], 0) and buffer[8] == 'x', "", .{});
    expect_result("tmp mkdir", sys(.mkdir, .{ "/tmp/d", 0o755 }), 0);
    expect_result("tmp rename", sys(.rename, .{ "/tmp/a", "/tmp/d/b" }), 0);
    expect_result("tmp stat renamed", sys(.stat, .{ "/tmp/d/b", &stat }), 0);
    expect_result("tmp old name gone", sys(.stat, .{ "/tmp/a", &stat }), -2);
    expect_result("tmp rmdir non-empty", sys(.rmdir, .{"/tmp/d"}), -39);
    expect_result("tmp unlink while open", sys(.unlink, .{"/tmp/d/b"}), 0);
    expect_result("tmp read after unlink", sys(.pread64, .{ fd, &buffer, 5, 0 }), 5);
    expect_result("tmp rmdir", sys(.rmdir, .{"/tmp/d"}), 0);
    expect_result("tmp ftruncate", sys(.ftruncate, .{ fd, 3 }), 0);
    _ = sys(.fstat, .{ fd, &stat });
    check("tmp truncated", stat.size == 3, "{d}", .{stat.size});
    _ = sys(.close, .{fd});
    const anonymous = sys(.open, .{ "/tmp", o_rdwr | 0o20200000 });
    check("tmp O_TMPFILE", anonymous >= 0, "{d}", .{anonymous});
    expect_result("tmp O_TMPFILE write", sys(.write, .{ anonymous, "z", 1 }), 1);
    _ = sys(.close, .{anonymous});
    expect_result("tmp access W_OK", sys(.access, .{ "/tmp", 2 }), 0);
    expect_result("mkdir outside /tmp", sys(.mkdir, .{ "/new", 0o755 }), -30);
    expect_result("mkdir existing outside /tmp", sys(.mkdir, .{ "/etc", 0o755 }), -17);
    const kept = sys(.open, .{ "/tmp/k", o_rdwr | o_creat, 0o600 });
    expect_result("rename out of /tmp", sys(.rename, .{ "/tmp/k", "/etc/k" }), -18);
    _ = sys(.close, .{kept});
    const dir = sys(.open, .{ "/tmp", o_directory });
    var entries: [256]u8 align(8) = undefined;
    const count = sys(.getdents64, .{ dir, &entries, entries.len });
    // ".", "..", "k": three 24-byte records.
    expect_result("tmp getdents64", count, 72);
    _ = sys(.close, .{dir});
    expect_result("tmp unlink", sys(.unlink, .{"/tmp/k"}), 0);
}

const pollerr: i16 = 0x8;

/// Edges a review found; each of these failed (or ended the probe) before its fix.
fn edges() void {
    // A writer whose reader closed with bytes unread: the kernel channel is closed but not
    // drained, so it was never writable nor closed and poll waited for ever (Linux: POLLERR).
    var pair = [2]i32{ -1, -1 };
    _ = sys(.socketpair, .{ 1, 1, 0, &pair });
    expect_result("edge: write, reader closes unread", sys(.write, .{ pair[0], "x", 1 }), 1);
    _ = sys(.close, .{pair[1]});
    var polls = [_]std.os.linux.pollfd{.{ .fd = pair[0], .events = pollout, .revents = 0 }};
    expect_result("edge: poll writer, reader gone", sys(.poll, .{ &polls, 1, 100 }), 1);
    check("edge: POLLERR", polls[0].revents & pollerr != 0, "revents {x}", .{polls[0].revents});
    expect_result("edge: write, reader gone", sys(.write, .{ pair[0], "x", 1 }), -32);
    _ = sys(.close, .{pair[0]});
    var pipe = [2]i32{ -1, -1 };
    _ = sys(.pipe2, .{ &pipe, 0 });
    expect_result("edge: pipe write", sys(.write, .{ pipe[1], "x", 1 }), 1);
    _ = sys(.close, .{pipe[0]});
    var writing = [_]u64{0} ** 16;
    writing[0] = @as(u64, 1) << @intCast(pipe[1]);
    var timeout = [2]i64{ 0, 100_000 };
    const selected = sys(.select, .{ pipe[1] + 1, 0, &writing, 0, &timeout });
    expect_result("edge: select pipe writer, reader gone", selected, 1);
    _ = sys(.close, .{pipe[1]});
    // After SHUT_RD a socketpair end reads end of file and polls readable (was EBADF, and a
    // poll for POLLIN waited for ever).
    _ = sys(.socketpair, .{ 1, 1, 0, &pair });
    expect_result("edge: SHUT_RD", sys(.shutdown, .{ pair[0], 0 }), 0);
    var byte: [1]u8 = undefined;
    expect_result("edge: read after SHUT_RD", sys(.read, .{ pair[0], &byte, 1 }), 0);
    polls[0] = .{ .fd = pair[0], .events = pollin, .revents = 0 };
    expect_result("edge: poll after SHUT_RD", sys(.poll, .{ &polls, 1, 100 }), 1);
    // After SHUT_WR a socketpair end polls writable and its write is EPIPE (was: no POLLOUT
    // ever, and EBADF), as Linux's AF_UNIX.
    expect_result("edge: SHUT_WR", sys(.shutdown, .{ pair[0], 1 }), 0);
    polls[0] = .{ .fd = pair[0], .events = pollout, .revents = 0 };
    expect_result("edge: poll after SHUT_WR", sys(.poll, .{ &polls, 1, 100 }), 1);
    expect_result("edge: write after SHUT_WR", sys(.write, .{ pair[0], "x", 1 }), -32);
    expect_result("edge: /dev/null O_DIRECTORY", sys(.open, .{ "/dev/null", o_directory }), -20);
    // recvmsg with iovec lengths whose sum passes 2^64 (each is below SSIZE_MAX).
    for (pair) |fd| _ = sys(.close, .{fd});
    _ = sys(.socketpair, .{ 1, 1, 0, &pair });
    _ = sys(.write, .{ pair[1], "y", 1 });
    var landing: [8]u8 = undefined;
    const huge: u64 = 1 << 62;
    const vector = [4][2]u64{
        .{ @intFromPtr(&landing), huge }, .{ @intFromPtr(&landing), huge },
        .{ @intFromPtr(&landing), huge }, .{ @intFromPtr(&landing), huge },
    };
    var header = [7]u64{ 0, 0, @intFromPtr(&vector), 4, 0, 0, 0 };
    expect_result("edge: recvmsg huge iovecs", sys(.recvmsg, .{ pair[0], &header, 0 }), 1);
    // An iovec length past SSIZE_MAX: EINVAL (sendmsg's sum overflowed: a panic).
    const invalid = [2][2]u64{
        .{ @intFromPtr(&landing), 1 }, .{ @intFromPtr(&landing), std.math.maxInt(u64) },
    };
    header[2] = @intFromPtr(&invalid);
    header[3] = 2;
    const sent = sys(.sendmsg, .{ pair[0], &header, 0 });
    expect_result("edge: sendmsg iovec past SSIZE_MAX", sent, -22);
    const written = sys(.writev, .{ pair[0], &invalid, 2 });
    expect_result("edge: writev iovec past SSIZE_MAX", written, -22);
    for (pair) |fd| _ = sys(.close, .{fd});
    edges_memory();
    edges_accept();
    edges_inodes();
}

/// getdents64's d_ino is the st_ino stat gives (os.DirEntry.inode() promises it; it was a mix
/// of two hashes): an image file, a /tmp file, "." and "..".
fn edges_inodes() void {
    const made = sys(.open, .{ "/tmp/ino", 2 | 0o100, 0o600 });
    _ = sys(.close, .{made});
    const cases = [_]struct { dir: [*:0]const u8, name: []const u8, path: [*:0]const u8 }{
        .{ .dir = "/etc", .name = "ukernel.env", .path = "/etc/ukernel.env" },
        .{ .dir = "/tmp", .name = "ino", .path = "/tmp/ino" },
        .{ .dir = "/etc", .name = ".", .path = "/etc" },
        .{ .dir = "/etc", .name = "..", .path = "/" },
    };
    for (cases) |case| {
        var stat: std.os.linux.Stat = undefined;
        _ = sys(.stat, .{ case.path, &stat });
        const listed = dirent_ino(case.dir, case.name);
        check("edge: d_ino is st_ino", listed == stat.ino, "{s}: {?d} {d}", .{
            case.name, listed, stat.ino,
        });
    }
    _ = sys(.unlink, .{"/tmp/ino"});
}

fn dirent_ino(dir: [*:0]const u8, name: []const u8) ?u64 {
    const fd = sys(.open, .{ dir, o_directory });
    defer _ = sys(.close, .{fd});
    var entries: [2048]u8 align(8) = undefined;
    const count = sys(.getdents64, .{ fd, &entries, entries.len });
    if (count <= 0) return null;
    var offset: usize = 0;
    while (offset + 19 < count) {
        const record = std.mem.readInt(u16, entries[offset + 16 ..][0..2], .little);
        if (record == 0) return null;
        const listed = std.mem.sliceTo(entries[offset + 19 .. offset + record], 0);
        const ino = std.mem.readInt(u64, entries[offset..][0..8], .little);
        if (std.mem.eql(u8, listed, name)) return ino;
        offset += record;
    }
    return null;
}

fn edges_memory() void {
    // Lengths near 2^64 are EINVAL/ENOMEM, as on Linux, not an overflow that ends the program.
    const all: i64 = -1;
    const page = sys(.mmap, .{ 0, 4096, 3, 0x22, -1, 0 });
    expect_result("edge: munmap length -1", sys(.munmap, .{ page, all }), -22);
    expect_result("edge: mmap length -1", sys(.mmap, .{ 0, all, 3, 0x22, -1, 0 }), -12);
    expect_result("edge: mremap length -1", sys(.mremap, .{ page, 4096, all, 1, 0 }), -22);
    const unaligned = sys(.mmap, .{ page + 1, 100, 3, 0x32, -1, 0 }); // MAP_FIXED, inside
    expect_result("edge: MAP_FIXED unaligned", unaligned, -22);
    _ = sys(.munmap, .{ page, 4096 });
    const fd = sys(.open, .{ "/tmp/edge", 2 | 0o100, 0o600 });
    expect_result("edge: fallocate length -1", sys(.fallocate, .{ fd, 0, 0, all }), -22);
    expect_result("edge: fallocate offset < 0", sys(.fallocate, .{ fd, 0, -8192, 4096 }), -22);
    _ = sys(.close, .{fd});
    // A /tmp file opened O_WRONLY is not readable (it was), and F_GETFL says O_WRONLY (it said
    // O_RDWR).
    const writer = sys(.open, .{ "/tmp/edge", 1 });
    var byte: [1]u8 = undefined;
    expect_result("edge: read O_WRONLY", sys(.read, .{ writer, &byte, 1 }), -9);
    expect_result("edge: pread O_WRONLY", sys(.pread64, .{ writer, &byte, 1, 0 }), -9);
    expect_result("edge: F_GETFL O_WRONLY", sys(.fcntl, .{ writer, 3, 0 }) & 3, 1);
    _ = sys(.close, .{writer});
    _ = sys(.unlink, .{"/tmp/edge"});
    var word: u32 = 5;
    const bad_time: std.os.linux.timespec = .{ .sec = 0, .nsec = 1_000_000_000 };
    expect_result("edge: futex tv_nsec 1e9", sys(.futex, .{ &word, 128, 5, &bad_time }), -22);
    // A count past SSIZE_MAX: EFAULT, as Linux's access_ok (/dev/null returned it whole, a
    // count that is no i64: a panic).
    const null_fd = sys(.open, .{ "/dev/null", 1 });
    expect_result("edge: write (size_t)-1", sys(.write, .{ null_fd, &word, all }), -14);
    _ = sys(.close, .{null_fd});
    var link: [8]u8 = undefined;
    expect_result("edge: readlink size 0", sys(.readlink, .{ "/proc/self/exe", &link, 0 }), -22);
}

fn edges_accept() void {
    // accept4 whose address cannot be written: EFAULT, and no fd is left behind.
    const listener = sys(.socket, .{ 2, 1, 0 });
    var address = sockaddr(0);
    _ = sys(.bind, .{ listener, &address, 16 });
    _ = sys(.listen, .{ listener, 4 });
    var length: u32 = 16;
    _ = sys(.getsockname, .{ listener, &address, &length });
    const client = sys(.socket, .{ 2, 1, 0 });
    expect_result("edge: connect", sys(.connect, .{ client, &address, 16 }), 0);
    const lowest = sys(.dup, .{0});
    _ = sys(.close, .{lowest});
    var peer: [16]u8 = undefined;
    expect_result("edge: accept4 EFAULT", sys(.accept4, .{ listener, &peer, 0, 0 }), -14);
    const after = sys(.dup, .{0});
    expect_result("edge: accept4 EFAULT leaves no fd", after, lowest);
    for ([_]i64{ after, listener, client }) |fd| _ = sys(.close, .{fd});
}

/// After process(): SIGALRM runs on_signal. FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME takes a
/// CLOCK_REALTIME deadline; measured against the monotonic clock it lay decades ahead (a wait
/// without end). A 500 ms timer bounds the check: before the fix the wait ended there, EINTR.
fn edges_futex() void {
    var now: std.os.linux.timespec = undefined;
    _ = sys(.clock_gettime, .{ 0, &now });
    const deadline_ns = @as(i64, now.sec) * std.time.ns_per_s + now.nsec + 50_000_000;
    const deadline: std.os.linux.timespec = .{
        .sec = @divTrunc(deadline_ns, std.time.ns_per_s),
        .nsec = @mod(deadline_ns, std.time.ns_per_s),
    };
    const timer = [4]i64{ 0, 0, 0, 500_000 };
    _ = sys(.setitimer, .{ 0, &timer, 0 });
    var word: u32 = 5;
    const command = 9 | 128 | 256; // WAIT_BITSET | PRIVATE | CLOCK_REALTIME
    const waited = sys(.futex, .{ &word, command, 5, &deadline, 0, 0xffff_ffff });
    expect_result("edge: futex realtime deadline", waited, -110);
    const off = [4]i64{ 0, 0, 0, 0 };
    _ = sys(.setitimer, .{ 0, &off, 0 });
    signal_seen = 0;
}
