// Guest networking, host side (pure): the syntax of `--net`, `--publish`, `--ip`, `--gateway`,
// `--dns` (and the same keys of ukernel.toml [run]), the kernel command-line tokens they become
// (key names from abi/contracts.json), the VMM arguments, and the boot summary line. The checks
// against the host (ports, tap devices) are in net-host.ts.
//
// Facts: QEMU user networking is libslirp (10.0.2.0/24, guest 10.0.2.15 by DHCP, host 10.0.2.2);
// `hostfwd=PROTO:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT`, an empty GUESTADDR meaning x.x.x.15;
// `restrict=on` would drop guest UDP, `vhost=on` aborts QEMU 7.2 without /dev/vhost-net;
// Firecracker has tap only (`network-interfaces`) and no DHCP server
// (shared/reference/networking.md §4, §5).
import type { NetRecord } from '../console/records.js';
import type { ProxyStats } from './publish-proxy.js';
import { CMDLINE_KEY_DNS, CMDLINE_KEY_GATEWAY, CMDLINE_KEY_IP } from '../abi/contracts.js';
import { NET_IFACE_BYTES_MAX, PUBLISH_HOST_IP_DEFAULT } from '../constants.js';

export type NetKind = 'none' | 'user' | 'tap';
export type Protocol = 'tcp' | 'udp';

/** `--net` parsed: `none`, `user` or `tap:IFACE`. */
export type NetMode = { kind: 'none' } | { kind: 'user' } | { kind: 'tap'; iface: string };

/** One `--publish` mapping: host HOST_IP:HOST_PORT forwarded to the guest's GUEST_PORT. */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  guestPort: number;
  protocol: Protocol;
}

/** A static guest IPv4 address with its prefix length (1..32). */
export interface Ipv4Cidr {
  address: string;
  prefix: number;
}

export interface DnsServer {
  address: string;
  /** null: the default, 53. */
  port: number | null;
}

/** The network of one run, resolved (run-options.ts) and checked for consistency. */
export interface NetworkSettings {
  mode: NetMode;
  /** Where the mode came from, for messages: `--net`, `--publish`, `ukernel.toml [run] net`, … */
  from: string;
  /** Only under `user`. */
  publish: PortMapping[];
  /** Where `publish` came from (`--publish` or `ukernel.toml [run] publish`), for messages. */
  publishFrom: string | null;
  /** Static address, `dhcp` (explicitly, on a tap), or null (DHCP: user networking's default). */
  ip: Ipv4Cidr | 'dhcp' | null;
  gateway: string | null;
  dns: DnsServer | null;
  /** The NIC's MAC on a tap (both VMMs), locally administered and stable; null under user. */
  mac: string | null;
}

export const NETWORK_NONE: NetworkSettings = {
  mode: { kind: 'none' },
  from: 'default',
  publish: [],
  publishFrom: null,
  ip: null,
  gateway: null,
  dns: null,
  mac: null,
};

/** A value that does not parse; `reason` completes "VALUE: …" (no code: callers pick it). */
export class NetSyntaxError extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const IFACE_RE = new RegExp(`^[A-Za-z0-9_.-]{1,${NET_IFACE_BYTES_MAX}}$`);

/** `none | user | tap:IFACE` (IFACE: 1–15 of A–Z a–z 0–9 _ . -, as Linux allows in practice). */
export function parseNetMode(value: string): NetMode {
  if (value === 'none' || value === 'user') return { kind: value };
  if (value.startsWith('tap:')) {
    const iface = value.slice(4);
    if (IFACE_RE.test(iface) && iface !== '.' && iface !== '..') return { kind: 'tap', iface };
    throw new NetSyntaxError(`the interface name must be 1–${NET_IFACE_BYTES_MAX} of A–Z, a–z, 0–9, "_", "." and "-"`);
  }
  throw new NetSyntaxError('expected none, user or tap:IFACE');
}

export function formatNetMode(mode: NetMode): string {
  return mode.kind === 'tap' ? `tap:${mode.iface}` : mode.kind;
}

/** A dotted-quad IPv4 address, each part 0..255 without leading zeros; returns it as written. */
/** A dotted-quad IPv4 address: four parts 0..255, plain digits, no leading zero. */
export function isIpv4(value: string): boolean {
  const parts = value.split('.');
  return parts.length === 4 && parts.every((p) => /^(?:0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export function parseIpv4(value: string, what = 'address'): string {
  if (!isIpv4(value)) {
    throw new NetSyntaxError(`the ${what} must be an IPv4 address A.B.C.D, each part 0..255 (IPv6 is not supported)`);
  }
  return value;
}

function parsePort(text: string, what: string): number {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new NetSyntaxError(`the ${what} must be an integer in 1..65535 (got "${text}")`);
  return n;
}

/** `[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]` (docker's `-p` syntax); host address 127.0.0.1. */
export function parsePortMapping(value: string): PortMapping {
  const slash = value.lastIndexOf('/');
  const body = slash === -1 ? value : value.slice(0, slash);
  const protocol = slash === -1 ? 'tcp' : value.slice(slash + 1);
  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw new NetSyntaxError(`the protocol must be tcp or udp (got "${protocol}")`);
  }
  const parts = body.split(':');
  if (parts.length !== 2 && parts.length !== 3) {
    throw new NetSyntaxError('expected [HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]');
  }
  const hostIp = parts.length === 3 ? parseIpv4(parts[0]!, 'host address') : PUBLISH_HOST_IP_DEFAULT;
  const hostPort = parsePort(parts.at(-2)!, 'host port');
  const guestPort = parsePort(parts.at(-1)!, 'guest port');
  return { hostIp, hostPort, guestPort, protocol };
}

export function formatPortMapping(m: PortMapping): string {
  return `${m.hostIp}:${m.hostPort} → guest :${m.guestPort}/${m.protocol}`;
}

/** `A.B.C.D/PREFIX` (prefix 1..32) or `dhcp`. */
export function parseIpSetting(value: string): Ipv4Cidr | 'dhcp' {
  if (value === 'dhcp') return 'dhcp';
  const [address, prefixText, extra] = value.split('/');
  if (prefixText === undefined || extra !== undefined) {
    throw new NetSyntaxError('expected A.B.C.D/PREFIX (e.g. 172.16.0.2/30) or dhcp');
  }
  parseIpv4(address!, 'guest address');
  const prefix = /^[0-9]{1,2}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 1 && prefix <= 32))
    throw new NetSyntaxError(`the prefix length must be an integer in 1..32 (got "${prefixText}")`);
  const cidr = { address: address!, prefix };
  const first = Number(address!.split('.')[0]);
  if (first === 0 || first === 127 || first >= 224) {
    throw new NetSyntaxError(`${address} cannot be a guest's address (0.x, 127.x, multicast and reserved are not)`);
  }
  if (prefix <= 30) {
    const host = (ipv4Number(address!) & ~maskOf(prefix)) >>> 0;
    const broadcast = ~maskOf(prefix) >>> 0;
    if (host === 0 || host === broadcast) {
      throw new NetSyntaxError(`${address} is the ${host === 0 ? 'network' : 'broadcast'} address of /${prefix}, not a host's`);
    }
  }
  return cidr;
}

/** slirp's network (QEMU `-netdev user` defaults): 10.0.2.0/24, the host at .2, its DNS at .3. */
const SLIRP_NETWORK = '10.0.2.';
const SLIRP_GATEWAY = '10.0.2.2';

/**
 * Why a static address cannot work under QEMU user networking, or null: slirp answers only
 * inside 10.0.2.0/24 (it forwards published ports to that address, and routes through .2).
 */
export function userNetAddressProblem(ip: Ipv4Cidr, gateway: string | null): string | null {
  const host = Number(ip.address.split('.')[3]);
  if (!ip.address.startsWith(SLIRP_NETWORK) || ip.prefix < 24) {
    return `user networking (slirp) is 10.0.2.0/24: ${formatCidr(ip)} is outside it (e.g. 10.0.2.15/24, or dhcp)`;
  }
  if (host <= 3 || host === 255) return `${ip.address} is slirp's own (.2 the host, .3 its DNS) or not a host's`;
  if (gateway !== null && gateway !== SLIRP_GATEWAY)
    return `the gateway under user networking is ${SLIRP_GATEWAY}, not ${gateway}`;
  return null;
}

/** `A.B.C.D[:PORT]`. */
export function parseDnsServer(value: string): DnsServer {
  const [address, portText, extra] = value.split(':');
  if (extra !== undefined) throw new NetSyntaxError('expected A.B.C.D[:PORT]');
  return {
    address: parseIpv4(address!, 'DNS server address'),
    port: portText === undefined ? null : parsePort(portText, 'DNS port'),
  };
}

export function formatDns(dns: DnsServer): string {
  return dns.port === null ? dns.address : `${dns.address}:${dns.port}`;
}

export function formatCidr(ip: Ipv4Cidr): string {
  return `${ip.address}/${ip.prefix}`;
}

function ipv4Number(address: string): number {
  return address.split('.').reduce((n, part) => ((n << 8) | Number(part)) >>> 0, 0);
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Why `gateway` cannot serve `ip`, or null when it can (inside the subnet, not the guest). */
export function gatewayProblem(ip: Ipv4Cidr, gateway: string): string | null {
  if (gateway === ip.address) return `the gateway ${gateway} is the guest's own address`;
  const mask = maskOf(ip.prefix);
  if (((ipv4Number(gateway) ^ ipv4Number(ip.address)) & mask) >>> 0 !== 0) {
    return `the gateway ${gateway} is outside the guest's subnet ${formatCidr(ip)}`;
  }
  return null;
}

/** Two mappings that would bind the same host socket (same protocol and port, overlapping address). */
export function samePublishedSocket(a: PortMapping, b: PortMapping): boolean {
  return (
    a.protocol === b.protocol &&
    a.hostPort === b.hostPort &&
    (a.hostIp === b.hostIp || a.hostIp === '0.0.0.0' || b.hostIp === '0.0.0.0')
  );
}

/**
 * A stable, locally administered unicast MAC for a tap NIC: 06:00 then the guest's IPv4 bytes
 * (Firecracker's docs use the same scheme), or, without a static address, a hash of the
 * interface name — so the same run gets the same MAC every time (ARP caches stay valid).
 */
export function guestMac(ip: NetworkSettings['ip'], iface: string): string {
  let bytes: number[];
  if (ip !== null && ip !== 'dhcp') {
    bytes = ip.address.split('.').map(Number);
  } else {
    let h = 0x811c9dc5; // FNV-1a, 32-bit
    for (const c of Buffer.from(iface)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
    bytes = [h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff];
  }
  return ['06', '00', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The kernel command-line tokens for the network (before the user's --cmdline); none without a NIC. */
export function networkCmdlineTokens(net: NetworkSettings): string[] {
  if (net.mode.kind === 'none') return [];
  const tokens: string[] = [];
  if (net.ip !== null && net.ip !== 'dhcp') {
    tokens.push(`${CMDLINE_KEY_IP}=${formatCidr(net.ip)}`);
    if (net.gateway !== null) tokens.push(`${CMDLINE_KEY_GATEWAY}=${net.gateway}`);
  }
  if (net.dns !== null) tokens.push(`${CMDLINE_KEY_DNS}=${formatDns(net.dns)}`);
  return tokens;
}

/** Virtio-mmio devices the network adds (each gets a `virtio_mmio.device=` token from the VMM). */
export function networkDevices(net: NetworkSettings): number {
  return net.mode.kind === 'none' ? 0 : 1;
}

/** In a QEMU option list a comma separates options; a literal comma is written twice. */
function qemuValue(text: string): string {
  return text.replaceAll(',', ',,');
}

/**
 * QEMU's `-netdev … -device virtio-net-device,…` for the run; [] without a network. Each of
 * `net.publish` becomes a hostfwd rule as given: `run` passes its TCP mappings rewritten to the
 * internal loopback ports its publish proxy forwards to (publish-proxy.ts slirpMappings).
 */
export function qemuNetworkArgs(net: NetworkSettings): string[] {
  const { mode } = net;
  if (mode.kind === 'none') return [];
  if (mode.kind === 'user') {
    // A guest with a static address must be named in each rule (empty means x.x.x.15).
    const guest = net.ip !== null && net.ip !== 'dhcp' ? net.ip.address : '';
    const rules = net.publish.map((m) => `,hostfwd=${m.protocol}:${m.hostIp}:${m.hostPort}-${guest}:${m.guestPort}`);
    return ['-netdev', `user,id=net0${rules.join('')}`, '-device', 'virtio-net-device,netdev=net0'];
  }
  const mac = net.mac === null ? '' : `,mac=${net.mac}`;
  return [
    '-netdev',
    `tap,id=net0,ifname=${qemuValue(mode.iface)},script=no,downscript=no`,
    '-device',
    `virtio-net-device,netdev=net0${mac}`,
  ];
}

/** Firecracker `network-interfaces` entry (vmm_config/net.rs NetworkInterfaceConfig). */
export interface FirecrackerNetworkInterface {
  iface_id: string;
  host_dev_name: string;
  guest_mac?: string;
}

export function firecrackerNetworkInterfaces(net: NetworkSettings): FirecrackerNetworkInterface[] {
  if (net.mode.kind !== 'tap') return [];
  return [{ iface_id: 'net0', host_dev_name: net.mode.iface, ...(net.mac !== null ? { guest_mac: net.mac } : {}) }];
}

/** What the kernel reports about its network once configured (`@uk:net`, docs/console-protocol.md). */
export interface GuestNetwork {
  /** `A.B.C.D/PREFIX`; `0.0.0.0/0` when DHCP did not answer. */
  address: string;
  /** `static`, `dhcp`, or `none` (no address). */
  method: string;
  gateway: string;
  /** `A.B.C.D:PORT`. */
  dns: string;
  mac: string;
  /** From the NIC's set-up to its address (guest ns). */
  configured_ns: number;
}

/** The report's view of the kernel's `@uk:net` record. */
export function guestNetwork(record: NetRecord): GuestNetwork {
  return {
    address: record.address,
    method: record.source,
    gateway: record.gateway,
    dns: record.dns,
    mac: record.mac,
    configured_ns: record.configNs,
  };
}

/** The line printed when the guest's `@uk:net` record arrives: its address, or why it has none. */
export function formatGuestNetwork(record: NetRecord): string {
  if (record.source === 'none') {
    return `Network: the guest got no address (no DHCP answer in time); mac ${record.mac}`;
  }
  const ms = (record.configNs / 1e6).toFixed(1);
  const parts = [`guest ${record.address} (${record.source}, ${ms} ms)`];
  // 0.0.0.0: none configured (a static address without --gateway or --dns).
  if (record.gateway !== '0.0.0.0') parts.push(`gateway ${record.gateway}`);
  parts.push(record.dns.startsWith('0.0.0.0:') ? 'no resolver' : `dns ${record.dns}`);
  return `Network: ${parts.join(', ')}`;
}

/** `Network: user, 127.0.0.1:8080 → guest :80/tcp` — printed before boot (stderr, human mode). */
export function formatNetworkSummary(net: NetworkSettings): string | null {
  const { mode } = net;
  if (mode.kind === 'none') return null;
  const parts: string[] = [];
  if (mode.kind === 'user') {
    parts.push(net.publish.length === 0 ? 'nothing published' : net.publish.map(formatPortMapping).join(', '));
  }
  if (net.ip === 'dhcp' || net.ip === null) parts.push('guest address by DHCP');
  if (net.ip !== null && net.ip !== 'dhcp') parts.push(`guest ${formatCidr(net.ip)}`);
  if (net.gateway !== null) parts.push(`gateway ${net.gateway}`);
  if (net.dns !== null) parts.push(`dns ${formatDns(net.dns)}`);
  if (net.mac !== null) parts.push(`mac ${net.mac}`);
  const name = mode.kind === 'tap' ? `tap ${mode.iface}` : 'user';
  return `Network: ${name}, ${parts.join(', ')}`;
}

/** The network in `run --json` and the run's report (snake_case like the rest of the report). */
export interface NetworkReport {
  mode: NetKind;
  interface: string | null;
  publish: Array<{ host_ip: string; host_port: number; guest_port: number; protocol: Protocol }>;
  ip: string | null;
  gateway: string | null;
  dns: string | null;
  mac: string | null;
  /** From the kernel's network record once it sends one; null until then. */
  guest: GuestNetwork | null;
  /** The publish proxy's counters (publish-proxy.ts), when a TCP port is published; else null. */
  proxy: ProxyStats | null;
  /** The guest network stack's counters at exit (`@uk:netstat`: frames, drops, what lwIP still
   *  holds); null when the guest did not send them (it did not exit on its own). */
  stats: Readonly<Record<string, number>> | null;
}

export function networkReport(
  net: NetworkSettings,
  guest: GuestNetwork | null = null,
  proxy: ProxyStats | null = null,
  stats: Readonly<Record<string, number>> | null = null,
): NetworkReport {
  return {
    mode: net.mode.kind,
    interface: net.mode.kind === 'tap' ? net.mode.iface : null,
    publish: net.publish.map((m) => ({
      host_ip: m.hostIp,
      host_port: m.hostPort,
      guest_port: m.guestPort,
      protocol: m.protocol,
    })),
    ip: net.ip === null ? null : net.ip === 'dhcp' ? 'dhcp' : formatCidr(net.ip),
    gateway: net.gateway,
    dns: net.dns === null ? null : formatDns(net.dns),
    mac: net.mac,
    guest,
    proxy,
    stats,
  };
}
