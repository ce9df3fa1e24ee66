//! Kernel command-line parsing. Tokens are separated by blanks; `key=value` tokens carry values;
//! a lone `--` ends the kernel's part (what follows belongs to the workload, as on Linux).
//!
//! VMMs add their own tokens: Firecracker inserts `virtio_mmio.device=` tokens before a ` -- `,
//! but QEMU appends them at the very end, after it. So device tokens are looked for in the
//! whole line (`all_tokens`) and never passed to the workload (`workload_tokens`).
//! Pure code: host-tested in this file.

const std = @import("std");
const assert = std.debug.assert;
const constants = @import("../constants.zig");

/// Tokens the VMM injects; they belong to the kernel wherever they appear.
pub const vmm_token_prefix = "virtio_mmio.device=";

pub const Cmdline = struct {
    /// The whole command line.
    text: []const u8,
    /// The kernel's part of the command line (before a lone `--`).
    kernel: []const u8,
    /// The workload's part (after a lone `--`), possibly empty.
    workload: []const u8,

    /// `text` is at most cmdline_bytes_max (boot_info.zig copies no more), so it has at most
    /// cmdline_tokens_max tokens: none is ever left out.
    pub fn init(text: []const u8) Cmdline {
        assert(text.len <= constants.cmdline_bytes_max);
        var iterator = std.mem.tokenizeAny(u8, text, blanks);
        var count: u32 = 0;
        while (iterator.next()) |token| : (count += 1) {
            assert(count < constants.cmdline_tokens_max);
            if (std.mem.eql(u8, token, "--")) {
                const split = iterator.index;
                const kernel_end = split - token.len;
                assert(kernel_end <= text.len);
                return .{
                    .text = text,
                    .kernel = std.mem.trim(u8, text[0..kernel_end], blanks),
                    .workload = std.mem.trim(u8, text[split..], blanks),
                };
            }
        }
        return .{ .text = text, .kernel = std.mem.trim(u8, text, blanks), .workload = "" };
    }

    /// Iterates every token of the line, both parts (but not the `--` itself).
    pub fn all_tokens(cmdline: Cmdline) TokenIterator {
        return .{ .inner = std.mem.tokenizeAny(u8, cmdline.text, blanks), .skip_separator = true };
    }

    /// Iterates the workload's tokens, leaving out tokens the VMM injected.
    pub fn workload_tokens(cmdline: Cmdline) TokenIterator {
        return .{
            .inner = std.mem.tokenizeAny(u8, cmdline.workload, blanks),
            .skip_vmm_tokens = true,
        };
    }

    /// Iterates the kernel's tokens.
    pub fn tokens(cmdline: Cmdline) TokenIterator {
        return .{ .inner = std.mem.tokenizeAny(u8, cmdline.kernel, blanks) };
    }

    /// The value of the last `key=value` token, or null. A bare `key` yields "".
    pub fn get(cmdline: Cmdline, key: []const u8) ?[]const u8 {
        assert(key.len > 0);
        var result: ?[]const u8 = null;
        var iterator = cmdline.tokens();
        while (iterator.next()) |token| {
            const parsed = split_token(token);
            if (std.mem.eql(u8, parsed.key, key)) result = parsed.value;
        }
        return result;
    }

    pub fn has(cmdline: Cmdline, key: []const u8) bool {
        return cmdline.get(key) != null;
    }
};

/// An IPv4 address in a value (uk.ip, uk.gateway, uk.dns, uk.net.selftest): a dotted quad, four
/// decimal parts 0..255 of plain digits, no leading zero beyond "0" itself. Network-order bytes.
pub fn parse_ipv4(text: []const u8) ?[4]u8 {
    var address: [4]u8 = undefined;
    var parts = std.mem.splitScalar(u8, text, '.');
    for (&address) |*octet| {
        const part = parts.next() orelse return null;
        if (part.len == 0 or part.len > 3) return null;
        if (part.len > 1 and part[0] == '0') return null;
        for (part) |c| if (c < '0' or c > '9') return null;
        octet.* = std.fmt.parseUnsigned(u8, part, 10) catch return null;
    }
    if (parts.next() != null) return null;
    return address;
}

/// A decimal value (uk.argc, uk.wall_ns): plain digits (std's parser also takes '_'), no sign,
/// at most 20 of them; null when malformed or above u64.
pub fn parse_decimal(text: []const u8) ?u64 {
    if (text.len == 0 or text.len > 20) return null;
    for (text) |c| if (c < '0' or c > '9') return null;
    return std.fmt.parseUnsigned(u64, text, 10) catch null;
}

test "parse_decimal takes plain digits only" {
    try std.testing.expectEqual(@as(?u64, 0), parse_decimal("0"));
    const launch: ?u64 = 1764450000123000000;
    try std.testing.expectEqual(launch, parse_decimal("1764450000123000000"));
    try std.testing.expectEqual(@as(?u64, null), parse_decimal(""));
    try std.testing.expectEqual(@as(?u64, null), parse_decimal("1_0"));
    try std.testing.expectEqual(@as(?u64, null), parse_decimal("+1"));
    try std.testing.expectEqual(@as(?u64, null), parse_decimal("18446744073709551616"));
}

pub const Token = struct { key: []const u8, value: []const u8 };

pub fn split_token(token: []const u8) Token {
    assert(token.len > 0);
    if (std.mem.indexOfScalar(u8, token, '=')) |equals| {
        return .{ .key = token[0..equals], .value = token[equals + 1 ..] };
    }
    return .{ .key = token, .value = "" };
}

pub const TokenIterator = struct {
    inner: std.mem.TokenIterator(u8, .any),
    count: u32 = 0,
    skip_separator: bool = false,
    skip_vmm_tokens: bool = false,

    /// Bounded by the line's tokens (at most cmdline_tokens_max, see Cmdline.init): the bound is
    /// asserted, never what ends the loop, so no token is dropped silently.
    pub fn next(iterator: *TokenIterator) ?[]const u8 {
        while (iterator.inner.next()) |token| {
            iterator.count += 1;
            assert(iterator.count <= constants.cmdline_tokens_max);
            if (iterator.skip_separator and std.mem.eql(u8, token, "--")) continue;
            const vmm_token = std.mem.startsWith(u8, token, vmm_token_prefix);
            if (iterator.skip_vmm_tokens and vmm_token) continue;
            return token;
        }
        return null;
    }
};

const blanks = " \t\n\r";

const testing = std.testing;

test "kernel and workload parts split at a lone --" {
    const cmdline = Cmdline.init("  uk.verbose console=ttyS0 -- serve --port 80 ");
    try testing.expectEqualStrings("uk.verbose console=ttyS0", cmdline.kernel);
    try testing.expectEqualStrings("serve --port 80", cmdline.workload);
}

test "no separator: everything is the kernel's" {
    const cmdline = Cmdline.init("a=1 b --c");
    try testing.expectEqualStrings("a=1 b --c", cmdline.kernel);
    try testing.expectEqualStrings("", cmdline.workload);
}

test "get returns the last value, bare keys give empty values" {
    const cmdline = Cmdline.init("uk.test=fault x=1 uk.test=exit:3 flag");
    try testing.expectEqualStrings("exit:3", cmdline.get("uk.test").?);
    try testing.expectEqualStrings("", cmdline.get("flag").?);
    try testing.expect(cmdline.get("missing") == null);
    try testing.expect(cmdline.has("x"));
    try testing.expect(!cmdline.has("uk"));
}

test "values may contain '='" {
    const cmdline = Cmdline.init("k=a=b");
    try testing.expectEqualStrings("a=b", cmdline.get("k").?);
}

test "empty and blank command lines" {
    const empty = Cmdline.init("");
    try testing.expect(empty.get("a") == null);
    const blank = Cmdline.init(" \t\n ");
    try testing.expectEqualStrings("", blank.kernel);
    var iterator = blank.tokens();
    try testing.expect(iterator.next() == null);
}

test "QEMU appends device tokens after the separator: they stay the kernel's" {
    const cmdline = Cmdline.init("uk.verbose -- alpha beta virtio_mmio.device=512@0xfeb00e00:12");
    var workload = cmdline.workload_tokens();
    try testing.expectEqualStrings("alpha", workload.next().?);
    try testing.expectEqualStrings("beta", workload.next().?);
    try testing.expect(workload.next() == null);
    var all = cmdline.all_tokens();
    var last: []const u8 = "";
    var count: u32 = 0;
    while (all.next()) |token| : (count += 1) last = token;
    try testing.expectEqual(@as(u32, 4), count);
    try testing.expectEqualStrings("virtio_mmio.device=512@0xfeb00e00:12", last);
}

/// The longest line the kernel holds, packed with one-byte tokens ("a a a ... a"), `tail`
/// replacing its end.
fn packed_line(buffer: *[constants.cmdline_bytes_max]u8, tail: []const u8) []const u8 {
    for (buffer, 0..) |*byte, index| byte.* = if (index % 2 == 0) 'a' else ' ';
    const start = std.mem.alignBackward(usize, buffer.len - tail.len - 1, 2);
    buffer[start] = ' ';
    @memcpy(buffer[start + 1 ..][0..tail.len], tail);
    return buffer[0 .. start + 1 + tail.len];
}

test "the longest line packed with tokens loses none: the bound fits every line" {
    var buffer: [constants.cmdline_bytes_max]u8 = undefined;
    for (&buffer, 0..) |*byte, index| byte.* = if (index % 2 == 0) 'a' else ' ';
    const cmdline = Cmdline.init(&buffer);
    var iterator = cmdline.tokens();
    var count: u32 = 0;
    while (iterator.next()) |_| count += 1;
    try testing.expectEqual(constants.cmdline_tokens_max, count);
    try testing.expectEqual((constants.cmdline_bytes_max + 1) / 2, count);
}

test "tokens past the 256th still count: the last key, and a workload after a full kernel part" {
    var buffer: [constants.cmdline_bytes_max]u8 = undefined;
    const line = packed_line(&buffer, "uk.test=exit:7 -- app arg");
    const cmdline = Cmdline.init(line);
    try testing.expectEqualStrings("exit:7", cmdline.get("uk.test").?);
    var workload = cmdline.workload_tokens();
    try testing.expectEqualStrings("app", workload.next().?);
    try testing.expectEqualStrings("arg", workload.next().?);
    try testing.expect(workload.next() == null);
    var all = cmdline.all_tokens();
    var count: u32 = 0;
    while (all.next()) |_| count += 1;
    try testing.expect(count > 2000);
}

test "dotted-quad addresses" {
    try std.testing.expectEqual([4]u8{ 172, 16, 0, 1 }, parse_ipv4("172.16.0.1").?);
    try std.testing.expectEqual([4]u8{ 0, 0, 0, 0 }, parse_ipv4("0.0.0.0").?);
    const bad = [_][]const u8{
        "",          "1.2.3",     "1.2.3.4.5", "1.2.3.256", "1..3.4",   "a.b", "0004",
        "10.00.2.1", "1_0.0.2.1", "+1.2.3.4",  "1.2.3.4 ",  " 1.2.3.4",
    };
    for (bad) |text| try std.testing.expectEqual(@as(?[4]u8, null), parse_ipv4(text));
}
