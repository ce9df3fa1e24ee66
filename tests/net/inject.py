#!/usr/bin/env python3
"""Hostile network input for a guest behind a tap device (tests/e2e/net-tap.test.ts).

Runs on the host side of the tap (inside the test's network namespace) and writes Ethernet
frames with an AF_PACKET raw socket: a frame sent on a tap goes to the VMM reading it, that is
into the guest. It sends, in order:

  control    one valid ICMP echo request; the guest's reply proves frames reach it
  runt       frames of 14..59 bytes: a bare Ethernet header, IPv4/ARP/TCP headers cut short
             (shorter than 14 bytes cannot cross a Linux tap: AF_PACKET and tun both refuse
             frames below ETH_HLEN, so they never reach a VMM that reads a tap)
  truncated  IPv4 whose total length promises more than the frame carries; TCP and UDP headers
             cut short; UDP length beyond the datagram
  oversized  frames over the guest's MTU: 1515..1600 bytes and jumbo frames of 9000 bytes (the
             tap's MTU must allow them: the test raises it), IPv4 total length 65535
  checksum   IPv4, TCP (a SYN to the served port), UDP and ICMP with wrong checksums
  ip-header  bad version, IHL below 5 or beyond the packet, total length below the header,
             options with length 0 or 1 or running past the header, source broadcast/multicast
  fragments  first fragments never completed (many ids), overlapping and tiny fragments, an
             offset whose end passes 65535 (ping of death), a lone last fragment
  tcp        bad data offsets, flag soup (SYN+FIN, SYN+RST, all flags), malformed options
             (length 0 or 1, MSS of length 2, window scale 255), ACKs and RSTs to no connection
  udp        length below 8, to closed ports, empty and 1472-byte datagrams
  arp        bad hardware/protocol types and lengths, truncated ARP, requests from many made-up
             addresses (fills the guest's ARP table), a reply claiming the guest's own address
  ethertype  IPv6, VLAN-tagged, unknown EtherTypes, 802.3 length frames
  syn-flood  N SYNs to the served port from random ports, from (`--flood-from`) the host
             address (the host kernel answers the guest's SYN-ACK with RST), made-up addresses
             nobody answers ARP for (the guest queues and retries, then gives up: `spoofed`),
             or 4 in 5 from the host and 1 in 5 made up (`mixed`)
  control    another ICMP echo request, which must be answered again

`--rate N` paces everything after the first control to N frames a second, so that a test's
requests overlap the injection instead of following it.

Prints one JSON object: the seed, frames sent and refused by the host per category, whether
each control echo was answered, and the guest's MAC. Exits 0 when it ran (the test decides what
the answers mean), 2 on bad usage or when the guest's MAC cannot be found (ARP, bounded).
"""

import argparse
import json
import os
import random
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
BROADCAST = b"\xff" * 6


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip_bytes(address: str) -> bytes:
    return socket.inet_aton(address)


def mac_bytes(text: str) -> bytes:
    return bytes(int(part, 16) for part in text.split(":"))


def mac_text(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


class Injector:
    def __init__(self, iface: str, host_ip: str, guest_ip: str, port: int, rng: random.Random):
        self.iface = iface
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.host_mac = self.sock.getsockname()[4][:6]
        self.host_ip = host_ip
        self.guest_ip = guest_ip
        self.guest_mac = BROADCAST
        self.port = port
        self.rng = rng
        self.sent: dict = {}
        self.refused: dict = {}
        self.category = "setup"
        self.rate = 0
        self.started = time.monotonic()
        self.total = 0

    # ---- sending ------------------------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        """Sends one frame; a frame the host kernel refuses (too long for the tap's MTU, say)
        is counted, not fatal. A full queue is waited out (bounded), never dropped silently."""
        if self.rate and self.total % 50 == 0:
            ahead_s = self.total / self.rate - (time.monotonic() - self.started)
            if ahead_s > 0:
                time.sleep(ahead_s)
        self.total += 1
        for _attempt in range(200):
            try:
                self.sock.send(frame)
                self.sent[self.category] = self.sent.get(self.category, 0) + 1
                return
            except BlockingIOError:
                time.sleep(0.001)
            except OSError as error:
                if error.errno == 105:  # ENOBUFS: the tap's queue is full; let the VMM drain it.
                    time.sleep(0.001)
                    continue
                key = f"{self.category}:{os.strerror(error.errno)}"
                self.refused[key] = self.refused.get(key, 0) + 1
                return
        self.refused[f"{self.category}:queue full"] = self.refused.get(f"{self.category}:queue full", 0) + 1

    def eth(self, ethertype: int, payload: bytes, dst: bytes = b"", src: bytes = b"") -> bytes:
        return (dst or self.guest_mac) + (src or self.host_mac) + struct.pack("!H", ethertype) + payload

    def ipv4(self, proto: int, payload: bytes, src: str = "", dst: str = "", ttl: int = 64,
             ident: int = -1, flags_frag: int = 0, options: bytes = b"", bad_csum: bool = False,
             total_length: int = -1, ihl: int = -1, version: int = 4) -> bytes:
        header_len = 20 + len(options)
        ihl_value = ihl if ihl >= 0 else header_len // 4
        length = total_length if total_length >= 0 else header_len + len(payload)
        ident_value = ident if ident >= 0 else self.rng.randrange(65536)
        header = struct.pack("!BBHHHBBH4s4s", (version << 4) | (ihl_value & 0xF), 0, length & 0xFFFF,
                             ident_value, flags_frag, ttl, proto, 0,
                             ip_bytes(src or self.host_ip), ip_bytes(dst or self.guest_ip)) + options
        csum = checksum(header)
        if bad_csum:
            csum ^= 0x5A5A
        header = header[:10] + struct.pack("!H", csum) + header[12:]
        return header + payload

    def pseudo(self, src: str, dst: str, proto: int, length: int) -> bytes:
        return ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, proto, length)

    def tcp(self, sport: int, dport: int, flags: int, seq: int = 0, ack: int = 0, options: bytes = b"",
            payload: bytes = b"", src: str = "", dst: str = "", bad_csum: bool = False,
            offset_words: int = -1, window: int = 65535, urgent: int = 0) -> bytes:
        offset = offset_words if offset_words >= 0 else (20 + len(options)) // 4
        header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                             (offset & 0xF) << 4, flags, window, 0, urgent) + options
        segment = header + payload
        csum = checksum(self.pseudo(src or self.host_ip, dst or self.guest_ip, 6, len(segment)) + segment)
        if bad_csum:
            csum ^= 0x1234
        return segment[:16] + struct.pack("!H", csum) + segment[18:]

    def udp(self, sport: int, dport: int, payload: bytes, src: str = "", dst: str = "",
            bad_csum: bool = False, length: int = -1) -> bytes:
        length_value = length if length >= 0 else 8 + len(payload)
        datagram = struct.pack("!HHHH", sport, dport, length_value & 0xFFFF, 0) + payload
        csum = checksum(self.pseudo(src or self.host_ip, dst or self.guest_ip, 17, len(datagram)) + datagram)
        if bad_csum:
            csum ^= 0x4321
        csum = csum or 0xFFFF
        return datagram[:6] + struct.pack("!H", csum) + datagram[8:]

    def icmp_echo(self, ident: int, seq: int, payload: bytes = b"ukernel", bad_csum: bool = False) -> bytes:
        message = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
        csum = checksum(message) ^ (0x1111 if bad_csum else 0)
        return message[:2] + struct.pack("!H", csum) + message[4:]

    def arp(self, op: int, sender_mac: bytes, sender_ip: bytes, target_mac: bytes, target_ip: bytes,
            htype: int = 1, ptype: int = ETH_P_IP, hlen: int = 6, plen: int = 4) -> bytes:
        return struct.pack("!HHBBH", htype, ptype, hlen, plen, op) + sender_mac + sender_ip + target_mac + target_ip

    # ---- receiving (bounded) ------------------------------------------------------------------

    def wait_for(self, match, timeout_s: float):
        """The first received frame for which match(frame) is true, or None after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                return None
            frame, address = self.sock.recvfrom(65535)
            if address[2] == socket.PACKET_OUTGOING:
                continue
            if match(frame):
                return frame

    def resolve_guest_mac(self, timeout_s: float) -> bool:
        guest = ip_bytes(self.guest_ip)
        request = self.eth(ETH_P_ARP, self.arp(1, self.host_mac, ip_bytes(self.host_ip), b"\0" * 6, guest),
                           dst=BROADCAST)

        def is_reply(frame: bytes) -> bool:
            return (len(frame) >= 42 and frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x02"
                    and frame[28:32] == guest)

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.sock.send(request)
            reply = self.wait_for(is_reply, min(0.5, max(0.0, deadline - time.monotonic())))
            if reply:
                self.guest_mac = reply[22:28]
                return True
        return False

    def drain(self) -> None:
        """Drops whatever the socket received so far (bounded: what is queued now)."""
        for _ in range(100_000):
            ready, _, _ = select.select([self.sock], [], [], 0)
            if not ready:
                return
            self.sock.recv(65535)

    def ping(self, ident: int, timeout_s: float) -> bool:
        """One valid echo request; True when the guest answers it within timeout_s."""
        guest = ip_bytes(self.guest_ip)
        seq = self.rng.randrange(65536)
        self.send(self.eth(ETH_P_IP, self.ipv4(1, self.icmp_echo(ident, seq))))

        def is_reply(frame: bytes) -> bool:
            if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 1 or frame[26:30] != guest:
                return False
            start = 14 + (frame[14] & 0xF) * 4
            return frame[start] == 0 and struct.unpack("!HH", frame[start + 4:start + 8]) == (ident, seq)

        return self.wait_for(is_reply, timeout_s) is not None

    # ---- the categories -------------------------------------------------------------------------

    def runt(self) -> None:
        self.category = "runt"
        self.send(self.eth(ETH_P_IP, b""))
        self.send(self.eth(ETH_P_ARP, b""))
        self.send(self.eth(0x1234, b""))
        full = self.ipv4(6, self.tcp(40000, self.port, 0x02))
        for cut in (1, 5, 9, 12, 19, 20, 21, 30, 39):
            self.send(self.eth(ETH_P_IP, full[:cut]))
        arp = self.arp(1, self.host_mac, ip_bytes(self.host_ip), b"\0" * 6, ip_bytes(self.guest_ip))
        for cut in (1, 7, 8, 14, 27):
            self.send(self.eth(ETH_P_ARP, arp[:cut]))

    def truncated(self) -> None:
        self.category = "truncated"
        syn = self.tcp(40001, self.port, 0x02)
        self.send(self.eth(ETH_P_IP, self.ipv4(6, syn, total_length=1000)))
        self.send(self.eth(ETH_P_IP, self.ipv4(6, syn[:10], total_length=40)))
        self.send(self.eth(ETH_P_IP, self.ipv4(6, syn[:10])))
        data = self.tcp(40001, self.port, 0x18, payload=b"GET / HTTP/1.1\r\n")
        self.send(self.eth(ETH_P_IP, self.ipv4(6, data, total_length=20 + len(data) + 400)))
        self.send(self.eth(ETH_P_IP, self.ipv4(17, self.udp(40002, 7, b"x" * 32)[:5])))
        self.send(self.eth(ETH_P_IP, self.ipv4(17, self.udp(40002, 7, b"x" * 32, length=900))))
        self.send(self.eth(ETH_P_IP, self.ipv4(1, self.icmp_echo(1, 1)[:3])))
        self.send(self.eth(ETH_P_IP, self.ipv4(1, b"", total_length=20)))

    def oversized(self) -> None:
        self.category = "oversized"
        for size in (1515, 1518, 1522, 1600, 4000, 9000):
            payload_len = size - 14 - 20 - 8
            self.send(self.eth(ETH_P_IP, self.ipv4(1, self.icmp_echo(2, size, b"j" * payload_len))))
        for size in (1515, 9000):
            payload = self.tcp(40003, self.port, 0x18, payload=b"J" * (size - 14 - 40))
            self.send(self.eth(ETH_P_IP, self.ipv4(6, payload)))
        self.send(self.eth(ETH_P_IP, self.ipv4(17, self.udp(40004, 9, b"u" * 64), total_length=65535)))
        self.send(self.eth(0x1234, b"\xee" * 8986))

    def bad_checksums(self) -> None:
        self.category = "checksum"
        for _ in range(20):
            sport = self.rng.randrange(1024, 65536)
            self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(sport, self.port, 0x02), bad_csum=True)))
            self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(sport, self.port, 0x02, bad_csum=True))))
            self.send(self.eth(ETH_P_IP, self.ipv4(17, self.udp(sport, 7, b"bad", bad_csum=True))))
            self.send(self.eth(ETH_P_IP, self.ipv4(1, self.icmp_echo(3, sport, bad_csum=True))))

    def ip_header(self) -> None:
        self.category = "ip-header"
        syn = self.tcp(40005, self.port, 0x02)
        for version in (0, 5, 6, 15):
            self.send(self.eth(ETH_P_IP, self.ipv4(6, syn, version=version)))
        for ihl in (0, 1, 4, 15):
            self.send(self.eth(ETH_P_IP, self.ipv4(6, syn, ihl=ihl)))
        for total in (0, 1, 19):
            self.send(self.eth(ETH_P_IP, self.ipv4(6, syn, total_length=total)))
        bad_options = [
            b"\x44\x00\x00\x00",  # Timestamp option, length 0.
            b"\x07\x01\x00\x00",  # Record route, length 1.
            b"\x83\x28\x04\x00",  # Loose source route, length 40: past the header.
            b"\x01" * 39 + b"\x00",  # NOPs, then end of list.
            bytes(self.rng.randrange(256) for _ in range(40)),
        ]
        for options in bad_options:
            self.send(self.eth(ETH_P_IP, self.ipv4(6, syn, options=options)))
        for src in ("255.255.255.255", "224.0.0.1", "0.0.0.0", "127.0.0.1", self.guest_ip):
            self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(40006, self.port, 0x02, src=src), src=src)))
        self.send(self.eth(ETH_P_IP, self.ipv4(6, syn, ttl=0)))
        self.send(self.eth(ETH_P_IP, self.ipv4(253, b"\0" * 32)))
        self.send(self.eth(ETH_P_IP, self.ipv4(6, syn, dst="192.0.2.99")))

    def fragments(self) -> None:
        self.category = "fragments"
        more = 0x2000
        body = self.icmp_echo(4, 4, b"f" * 1400)
        for ident in range(1000, 1064):  # First fragments that never complete.
            self.send(self.eth(ETH_P_IP, self.ipv4(1, body[:512], ident=ident, flags_frag=more)))
        for ident in range(2000, 2016):  # Overlaps: offsets 0, 8 and 0 again, never the end.
            self.send(self.eth(ETH_P_IP, self.ipv4(1, body[:64], ident=ident, flags_frag=more)))
            self.send(self.eth(ETH_P_IP, self.ipv4(1, body[8:72], ident=ident, flags_frag=more | 1)))
            self.send(self.eth(ETH_P_IP, self.ipv4(1, body[:128], ident=ident, flags_frag=more)))
        for ident in range(3000, 3008):  # Ping of death: the last piece ends past 65535.
            self.send(self.eth(ETH_P_IP, self.ipv4(1, body[:1000], ident=ident, flags_frag=more)))
            self.send(self.eth(ETH_P_IP, self.ipv4(1, b"d" * 1000, ident=ident, flags_frag=8189)))
        for ident in range(4000, 4008):  # A lone last fragment; tiny 8-byte fragments.
            self.send(self.eth(ETH_P_IP, self.ipv4(1, b"z" * 64, ident=ident, flags_frag=100)))
            for piece in range(16):
                self.send(self.eth(ETH_P_IP, self.ipv4(1, body[piece * 8:piece * 8 + 8], ident=ident + 100,
                                                       flags_frag=more | piece)))

    def tcp_garbage(self) -> None:
        self.category = "tcp"
        for offset in (0, 1, 4, 15):
            self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(40007, self.port, 0x02, offset_words=offset))))
        for flags in (0x03, 0x06, 0x07, 0x3F, 0xFF, 0x00, 0x29, 0x01):
            self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(self.rng.randrange(1024, 65536), self.port, flags))))
        bad_options = [
            b"\x02\x00\x05\xb4",  # MSS, length 0.
            b"\x02\x01\x05\xb4",  # MSS, length 1.
            b"\x02\x02\x00\x00",  # MSS, length 2.
            b"\x02\x04\x00\x00",  # MSS 0.
            b"\x03\x03\xff\x00",  # Window scale 255.
            b"\x05\x0a" + b"\xff" * 6 + b"\x01\x01",  # SACK of a bad length.
            b"\x08\x0a" + b"\0" * 6,  # Timestamp cut short.
            b"\xfe" * 40,
        ]
        for options in bad_options:
            options = options + b"\0" * ((4 - len(options) % 4) % 4)
            self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(self.rng.randrange(1024, 65536), self.port, 0x02,
                                                                 options=options[:40]))))
        for _ in range(32):  # ACKs, RSTs and data to no connection, on open and closed ports.
            sport = self.rng.randrange(1024, 65536)
            for dport in (self.port, self.rng.randrange(1, 65536)):
                seq = self.rng.randrange(1 << 32)
                self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(sport, dport, 0x10, seq=seq, ack=seq))))
                self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(sport, dport, 0x04, seq=seq))))
                self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(sport, dport, 0x18, seq=seq, payload=b"x" * 100))))
        self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(40008, self.port, 0x22, urgent=65535))))

    def udp_garbage(self) -> None:
        self.category = "udp"
        for length in (0, 1, 7):
            self.send(self.eth(ETH_P_IP, self.ipv4(17, self.udp(40009, 7, b"x" * 16, length=length))))
        for _ in range(32):
            dport = self.rng.randrange(1, 65536)
            self.send(self.eth(ETH_P_IP, self.ipv4(17, self.udp(self.rng.randrange(1024, 65536), dport, b""))))
            self.send(self.eth(ETH_P_IP, self.ipv4(17, self.udp(40010, dport, os.urandom(1472)))))
        for dport in (67, 68, 53, 5353):
            self.send(self.eth(ETH_P_IP, self.ipv4(17, self.udp(dport, dport, os.urandom(300)))))

    def arp_garbage(self) -> None:
        self.category = "arp"
        guest = ip_bytes(self.guest_ip)
        host = ip_bytes(self.host_ip)
        for htype, ptype, hlen, plen in ((6, ETH_P_IP, 6, 4), (1, ETH_P_IPV6, 6, 4), (1, ETH_P_IP, 0, 4),
                                         (1, ETH_P_IP, 6, 0), (1, ETH_P_IP, 255, 255), (1, ETH_P_IP, 16, 16)):
            self.send(self.eth(ETH_P_ARP, self.arp(1, self.host_mac, host, b"\0" * 6, guest, htype, ptype, hlen, plen),
                               dst=BROADCAST))
        for op in (0, 3, 9, 0xFFFF):
            self.send(self.eth(ETH_P_ARP, self.arp(op, self.host_mac, host, b"\0" * 6, guest), dst=BROADCAST))
        subnet = self.host_ip.rsplit(".", 1)[0]
        for last in range(3, 254):  # Requests from made-up neighbours: the guest's ARP table fills.
            fake_mac = bytes([0x02, 0x55, 0, 0, 0, last])
            self.send(self.eth(ETH_P_ARP, self.arp(1, fake_mac, ip_bytes(f"{subnet}.{last}"), b"\0" * 6, guest),
                               dst=BROADCAST, src=fake_mac))
        fake = bytes([0x02, 0x66, 0, 0, 0, 1])
        self.send(self.eth(ETH_P_ARP, self.arp(2, fake, guest, self.guest_mac, guest), src=fake))  # Claims the guest.
        self.send(self.eth(ETH_P_ARP, self.arp(2, BROADCAST, ip_bytes("0.0.0.0"), self.guest_mac, guest)))

    def ethertypes(self) -> None:
        self.category = "ethertype"
        ipv6 = struct.pack("!IHBB", 6 << 28, 8, 17, 64) + b"\xfe\x80" + b"\0" * 14 + b"\xfe\x80" + b"\0" * 14
        self.send(self.eth(ETH_P_IPV6, ipv6 + struct.pack("!HHHH", 1, 2, 8, 0)))
        self.send(self.eth(ETH_P_IPV6, ipv6[:20]))
        syn = self.ipv4(6, self.tcp(40011, self.port, 0x02))
        self.send(self.eth(ETH_P_8021Q, struct.pack("!HH", 5, ETH_P_IP) + syn))
        self.send(self.eth(ETH_P_8021Q, b"\0"))
        for ethertype in (0x0000, 0x05DC, 0x0600, 0x88CC, 0x8863, 0xFFFF):
            self.send(self.eth(ethertype, os.urandom(46)))
        for _ in range(64):
            self.send(self.eth(self.rng.randrange(65536), os.urandom(self.rng.randrange(0, 1487))))

    def syn_flood(self, count: int, source: str) -> None:
        self.category = "syn-flood"
        subnet = self.host_ip.rsplit(".", 1)[0]
        mss = b"\x02\x04\x05\xb4"
        for index in range(count):
            spoofed = source == "spoofed" or (source == "mixed" and index % 5 == 0)
            src = f"{subnet}.{200 + index % 50}" if spoofed else self.host_ip
            sport = self.rng.randrange(1024, 65536)
            seq = self.rng.randrange(1 << 32)
            self.send(self.eth(ETH_P_IP, self.ipv4(6, self.tcp(sport, self.port, 0x02, seq=seq, options=mss, src=src),
                                                   src=src)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iface", required=True, help="the tap, on the host side")
    parser.add_argument("--host-ip", required=True)
    parser.add_argument("--guest-ip", required=True)
    parser.add_argument("--port", type=int, default=80, help="the guest's served TCP port")
    parser.add_argument("--syn-flood", type=int, default=5000, help="SYNs in the flood (0: none)")
    parser.add_argument("--flood-from", choices=("host", "spoofed", "mixed"), default="mixed",
                        help="the SYNs' source addresses")
    parser.add_argument("--rounds", type=int, default=1, help="how many times to send the garbage categories (0: none)")
    parser.add_argument("--rate", type=int, default=0, help="frames per second at most (0: no limit)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--arp-timeout", type=float, default=10.0, help="seconds to find the guest's MAC")
    args = parser.parse_args()
    if not 0 <= args.syn_flood <= 100_000 or not 0 <= args.rounds <= 100 or not 0 <= args.rate <= 1_000_000:
        print("inject.py: --syn-flood must be 0..100000, --rounds 0..100, --rate 0..1000000", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    injector = Injector(args.iface, args.host_ip, args.guest_ip, args.port, random.Random(seed))
    if not injector.resolve_guest_mac(args.arp_timeout):
        print(f"inject.py: the guest ({args.guest_ip}) did not answer ARP on {args.iface} within "
              f"{args.arp_timeout} s", file=sys.stderr)
        return 2
    started = time.monotonic()
    injector.rate = args.rate
    injector.started = started
    injector.category = "control"
    control_before = injector.ping(0x7E57, 5.0)
    for _ in range(args.rounds):
        injector.runt()
        injector.truncated()
        injector.oversized()
        injector.bad_checksums()
        injector.ip_header()
        injector.fragments()
        injector.tcp_garbage()
        injector.udp_garbage()
        injector.arp_garbage()
        injector.ethertypes()
    injector.syn_flood(args.syn_flood, args.flood_from)
    injector.category = "control"
    injector.drain()
    control_after = any(injector.ping(0x7E58 + attempt, 2.0) for attempt in range(5))
    print(json.dumps({
        "seed": seed,
        "guest_mac": mac_text(injector.guest_mac),
        "sent": injector.sent,
        "refused": injector.refused,
        "control_before": control_before,
        "control_after": control_after,
        "seconds": round(time.monotonic() - started, 3),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
