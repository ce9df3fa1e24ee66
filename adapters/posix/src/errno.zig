//! Linux errno values and the one table that maps every ukernel ABI error to the errno POSIX
//! gives for it. Inside the layer an errno travels as a Zig error of the same name
//! (error.NOENT is ENOENT); a system call returns a non-negative result or -errno (the kernel's
//! convention, which musl's __syscall_ret turns into errno).

const std = @import("std");
const assert = std.debug.assert;
const abi = @import("ukernel").abi;

pub const E = std.os.linux.E;

/// The errnos the layer returns.
pub const Error = error{
    PERM,
    NOENT,
    SRCH,
    INTR,
    IO,
    BADF,
    CHILD,
    AGAIN,
    NOMEM,
    ACCES,
    FAULT,
    EXIST,
    NOTDIR,
    ISDIR,
    INVAL,
    NFILE,
    MFILE,
    NOTTY,
    SPIPE,
    ROFS,
    PIPE,
    RANGE,
    NAMETOOLONG,
    NOSYS,
    NOTSOCK,
    DESTADDRREQ,
    MSGSIZE,
    PROTOTYPE,
    NOPROTOOPT,
    PROTONOSUPPORT,
    OPNOTSUPP,
    AFNOSUPPORT,
    ADDRINUSE,
    NETUNREACH,
    CONNRESET,
    ISCONN,
    NOSPC,
    FBIG,
    NOTEMPTY,
    XDEV,
    NODEV,
    NOTCONN,
    TIMEDOUT,
    CONNREFUSED,
    ALREADY,
    INPROGRESS,
    SOCKTNOSUPPORT,
};

/// The system-call return value for an error: -errno.
pub fn fail(err: Error) i64 {
    const code: i64 = switch (err) {
        inline else => |known| @intFromEnum(@field(E, @errorName(known))),
    };
    assert(code > 0 and code < 4096);
    return -code;
}

/// One table, every ABI error: the errno a Linux program sees for the same condition.
pub fn of(code: abi.Error) Error {
    return switch (code) {
        .bad_handle => error.BADF,
        .bad_pointer => error.FAULT,
        .out_of_range => error.INVAL,
        .too_large => error.MSGSIZE,
        .unsupported => error.OPNOTSUPP,
        .io_failed => error.IO,
        .would_block => error.AGAIN,
        .closed => error.PIPE,
        .timed_out => error.TIMEDOUT,
        .no_memory => error.NOMEM,
        .not_found => error.NOENT,
        // A kernel-wide table (handles, sockets, tasks) is full: ENFILE, "too many open files
        // in the system", not EMFILE, which is this layer's own fd table.
        .limit_reached => error.NFILE,
        .address_in_use => error.ADDRINUSE,
        .connection_refused => error.CONNREFUSED,
        .connection_reset => error.CONNRESET,
        .not_connected => error.NOTCONN,
        .no_route => error.NETUNREACH,
        .already_connected => error.ISCONN,
    };
}

/// The errno for a negative ABI result (-code); codes this layer does not know (a newer
/// kernel's) read as EIO.
pub fn of_result(result: i64) Error {
    assert(result < 0);
    const known = std.meta.intToEnum(abi.Error, -result) catch return error.IO;
    return of(known);
}

/// An ABI result as a value or the errno it stands for.
pub fn check(result: i64) Error!u64 {
    if (result >= 0) return @intCast(result);
    return of_result(result);
}

/// An ABI result as a system-call result: a non-negative value passes, -code becomes -errno.
pub fn pass(result: i64) i64 {
    if (result >= 0) return result;
    return fail(of_result(result));
}

/// Whether a negative ABI result is this error.
pub fn is(result: i64, code: abi.Error) bool {
    return result == -@as(i64, @intFromEnum(code));
}

test "every ABI error maps to a distinct errno" {
    const fields = @typeInfo(abi.Error).@"enum".fields;
    var seen = [_]bool{false} ** 4096;
    inline for (fields) |field| {
        const code: usize = @intCast(-fail(of(@field(abi.Error, field.name))));
        try std.testing.expect(!seen[code]);
        seen[code] = true;
    }
    try std.testing.expectEqual(error.AGAIN, of(.would_block));
    try std.testing.expectEqual(error.BADF, of(.bad_handle));
    try std.testing.expectEqual(error.CONNREFUSED, of(.connection_refused));
    try std.testing.expectEqual(error.NOENT, of(.not_found));
}

test "errnos have Linux x86-64 values" {
    try std.testing.expectEqual(@as(i64, -2), fail(error.NOENT));
    try std.testing.expectEqual(@as(i64, -11), fail(error.AGAIN));
    try std.testing.expectEqual(@as(i64, -38), fail(error.NOSYS));
    try std.testing.expectEqual(@as(i64, -25), fail(error.NOTTY));
    try std.testing.expectEqual(@as(i64, -30), fail(error.ROFS));
    try std.testing.expectEqual(@as(i64, -97), fail(error.AFNOSUPPORT));
    try std.testing.expectEqual(@as(i64, -111), fail(error.CONNREFUSED));
    try std.testing.expectEqual(@as(i64, -115), fail(error.INPROGRESS));
}

test "pass keeps results and turns -code into -errno; unknown codes are EIO" {
    const would_block = -@as(i64, @intFromEnum(abi.Error.would_block));
    try std.testing.expectEqual(@as(i64, 42), pass(42));
    try std.testing.expectEqual(@as(i64, 0), pass(0));
    try std.testing.expectEqual(@as(i64, -11), pass(would_block));
    try std.testing.expectEqual(@as(i64, -2), pass(-11));
    try std.testing.expectEqual(@as(i64, -5), pass(-9999));
    try std.testing.expect(is(would_block, .would_block));
    try std.testing.expectError(error.AGAIN, check(would_block));
}
