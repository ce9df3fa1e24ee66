//! The memory report: what a workload can observe of the kernel's network memory. Each counter
//! is taken by asking for the resource until the kernel refuses (limit_reached, no_memory,
//! address_in_use), then giving everything back, so taking it changes nothing.
//!
//!     sockets_free   stream sockets net.socket still opens (the socket table)
//!     udp_free       datagram sockets that can also be bound to port 0 (lwIP's UDP PCB pool)
//!     heap_free_mib  1 MiB blocks mem.alloc still gives (the page allocator)
//!     held           sockets the caller holds itself, passed in (the http server's own)

const std = @import("std");
const ukernel = @import("ukernel");

const net = ukernel.net;
/// Bounds on each count (well above the kernel's limits: reaching one means a limit vanished).
const sockets_max: u32 = 1024;
const heap_blocks_max: u32 = 4096;
const heap_block_bytes: usize = 1 << 20;

pub const Report = struct { sockets_free: u32, udp_free: u32, heap_free_mib: u32 };

// The counts' scratch: static, not on the stack (a connection task's stack is 64 KiB). One
// report at a time, as the http server's tasks never run an ABI call in parallel with another
// task's report (one vCPU, and a task yields only inside a blocking call; the counts block none).
var socket_scratch: [sockets_max]net.Socket = undefined;
var heap_scratch: [heap_blocks_max][]u8 = undefined;

/// The report as one JSON object in `buffer`.
pub fn report(buffer: []u8, held: u32) []const u8 {
    const counts = take();
    return std.fmt.bufPrint(
        buffer,
        "{{\"sockets_free\":{d},\"udp_free\":{d},\"heap_free_mib\":{d},\"held\":{d}}}",
        .{ counts.sockets_free, counts.udp_free, counts.heap_free_mib, held },
    ) catch buffer[0..0];
}

pub fn take() Report {
    return .{ .sockets_free = count_sockets(false), .udp_free = count_sockets(true), .heap_free_mib = count_heap() };
}

fn count_sockets(bound_datagram: bool) u32 {
    const handles = &socket_scratch;
    var count: u32 = 0;
    while (count < sockets_max) : (count += 1) {
        const socket = net.Socket.open(if (bound_datagram) .datagram else .stream, true) catch break;
        if (bound_datagram) {
            socket.bind(net.Address.any(0)) catch {
                socket.close();
                break;
            };
        }
        handles[count] = socket;
    }
    for (handles[0..count]) |socket| socket.close();
    return count;
}

fn count_heap() u32 {
    const blocks = &heap_scratch;
    var count: u32 = 0;
    while (count < heap_blocks_max) : (count += 1) {
        blocks[count] = ukernel.allocator.alloc(u8, heap_block_bytes) catch break;
    }
    for (blocks[0..count]) |block| ukernel.allocator.free(block);
    return count;
}
