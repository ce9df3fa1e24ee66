//! Host unit tests of the layer's pure parts (adapters/posix/build.sh test).

test {
    _ = @import("errno.zig");
    _ = @import("path.zig");
    _ = @import("stream.zig");
    _ = @import("sockaddr.zig");
    _ = @import("netdb.zig");
    _ = @import("fd.zig");
    _ = @import("memory.zig");
    _ = @import("report.zig");
    _ = @import("dispatch.zig");
    _ = @import("tidy_test.zig");
    _ = @import("tmpfs.zig");
}
