//! ARP for IPv4 over Ethernet (RFC 826), just enough for the driver's self-test: build a
//! request, recognise its reply. Pure, host-tested.

const std = @import("std");
const assert = std.debug.assert;

pub const Ipv4 = [4]u8;
pub const Mac = [6]u8;

/// Ethernet header (14) + ARP packet (28), padded to Ethernet's 60-byte minimum (no FCS).
pub const request_bytes: u32 = 60;
const ethernet_header_bytes: u32 = 14;
const packet_bytes: u32 = 28;
const ethertype_arp = [2]u8{ 0x08, 0x06 };
/// htype 1 (Ethernet), ptype 0x0800 (IPv4), hlen 6, plen 4.
const fixed_fields = [6]u8{ 0x00, 0x01, 0x08, 0x00, 6, 4 };
const operation_request: u8 = 1;
const operation_reply: u8 = 2;
const broadcast: Mac = .{0xff} ** 6;

/// A broadcast "who has `target`? tell `sender_ip`" from `sender_mac`.
pub fn request(frame: *[request_bytes]u8, sender_mac: Mac, sender_ip: Ipv4, target: Ipv4) void {
    @memset(frame, 0);
    frame[0..6].* = broadcast;
    frame[6..12].* = sender_mac;
    frame[12..14].* = ethertype_arp;
    const packet = frame[ethernet_header_bytes..][0..packet_bytes];
    packet[0..6].* = fixed_fields;
    packet[7] = operation_request;
    packet[8..14].* = sender_mac;
    packet[14..18].* = sender_ip;
    // Target hardware address (18..24) stays zero: unknown.
    packet[24..28].* = target;
    assert(frame[21] == operation_request);
}

/// The replier's MAC if `frame` is the reply to our request (`asked` answering to `our_ip`),
/// else null. Anything shorter or different is not it.
pub fn reply_sender(frame: []const u8, asked: Ipv4, our_ip: Ipv4) ?Mac {
    if (frame.len < ethernet_header_bytes + packet_bytes) return null;
    if (!std.mem.eql(u8, frame[12..14], &ethertype_arp)) return null;
    const packet = frame[ethernet_header_bytes..][0..packet_bytes];
    if (!std.mem.eql(u8, packet[0..6], &fixed_fields)) return null;
    if (packet[6] != 0 or packet[7] != operation_reply) return null;
    if (!std.mem.eql(u8, packet[14..18], &asked)) return null;
    if (!std.mem.eql(u8, packet[24..28], &our_ip)) return null;
    return packet[8..14].*;
}

/// A dotted-quad IPv4 address ("10.0.2.2"), or null.
const testing = std.testing;

test "an ARP request, and the reply to it" {
    const ours: Mac = .{ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    const our_ip: Ipv4 = .{ 10, 0, 2, 15 };
    const gateway: Ipv4 = .{ 10, 0, 2, 2 };
    var frame: [request_bytes]u8 = undefined;
    request(&frame, ours, our_ip, gateway);
    try testing.expectEqualSlices(u8, &broadcast, frame[0..6]);
    try testing.expectEqualSlices(u8, &.{ 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1 }, frame[12..22]);
    try testing.expectEqualSlices(u8, &.{ 10, 0, 2, 2 }, frame[38..42]);
    // Our own request is not a reply.
    try testing.expectEqual(@as(?Mac, null), reply_sender(&frame, gateway, our_ip));
    // slirp's reply: from 52:55:0a:00:02:02, 10.0.2.2 is-at, to us.
    const theirs: Mac = .{ 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
    var reply = frame;
    reply[0..6].* = ours;
    reply[6..12].* = theirs;
    reply[21] = operation_reply;
    reply[22..28].* = theirs;
    reply[28..32].* = .{ 10, 0, 2, 2 };
    reply[32..38].* = ours;
    reply[38..42].* = .{ 10, 0, 2, 15 };
    try testing.expectEqual(theirs, reply_sender(&reply, gateway, our_ip).?);
    try testing.expectEqual(@as(?Mac, null), reply_sender(&reply, .{ 10, 0, 2, 3 }, our_ip));
    try testing.expectEqual(@as(?Mac, null), reply_sender(reply[0..41], gateway, our_ip));
}
