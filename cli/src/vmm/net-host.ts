// Host checks for a run's network, before any VMM starts: published ports (twice, privileged,
// in use, on an address this host lacks) and the tap device (missing, not a tap, busy, not
// permitted). And the VMM's own network failures, mapped to the same codes when they slip past
// (a UDP port taken between the probe and QEMU's bind; a tap attached meanwhile). A TCP port is
// probed here only to fail before a build: the publish proxy binds it for good right before the
// VMM starts (publish-proxy.ts), with the same codes.
//
// Facts: a tap's sysfs directory has `tun_flags` (IFF_TUN 0x1 / IFF_TAP 0x2), `owner` and
// `group` (-1 when unset) and `carrier` 1 while a process has it attached (tun_attach →
// netif_carrier_on; reading it fails with EINVAL while the link is down). Attaching needs
// read-write /dev/net/tun and, when the tap has an owner or group the caller does not match,
// CAP_NET_ADMIN (drivers/net/tun.c tun_not_capable). Binding a port below
// net.ipv4.ip_unprivileged_port_start needs CAP_NET_BIND_SERVICE. QEMU 7.2 says "Could not set
// up host forwarding rule '…'" and "could not configure /dev/net/tun (IFACE): Device or
// resource busy" (measured); Firecracker's tap errors end with the OS error text.
import { createSocket } from 'node:dgram';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  CAP_NET_ADMIN,
  CAP_NET_BIND_SERVICE,
  IFF_TAP,
  IFF_TUN,
  PORT_PROBE_TIMEOUT_MS,
  PORT_UNPRIVILEGED_START_DEFAULT,
  PORT_UNPRIVILEGED_START_PATH,
  SYSFS_NET_DIR,
  TUN_DEVICE,
} from '../constants.js';
import { UkernelError } from '../errors.js';
import { formatNetMode, formatPortMapping, type NetworkSettings, type PortMapping, samePublishedSocket } from './network.js';

/** What the checks read from the host; injected by the unit tests. */
export interface HostNetDeps {
  euid: number;
  /** The caller's group ids (effective and supplementary). */
  groups: readonly number[];
  /** CapEff from /proc/self/status, or 0n when unknown. */
  capEff: bigint;
  unprivilegedPortStart: number;
  /** A sysfs attribute, trimmed; null when it does not exist or cannot be read. */
  readAttr: (path: string) => string | null;
  /** Whether `path` exists. */
  exists: (path: string) => boolean;
  /** null when /dev/net/tun is read-write for us, else the errno code. */
  tunAccess: () => string | null;
  /** Binds the mapping's host socket and releases it at once: null when free, else the errno code. */
  probePort: (m: PortMapping) => Promise<string | null>;
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function capEffOfSelf(): bigint {
  const status = readTrimmed('/proc/self/status');
  const hex = status === null ? null : /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex === undefined || hex === null ? 0n : BigInt(`0x${hex}`);
}

export function hostNetDeps(): HostNetDeps {
  const start = Number(readTrimmed(PORT_UNPRIVILEGED_START_PATH) ?? NaN);
  return {
    euid: process.geteuid?.() ?? -1,
    groups: [...new Set([process.getegid?.() ?? -1, ...(process.getgroups?.() ?? [])])],
    capEff: capEffOfSelf(),
    unprivilegedPortStart: Number.isInteger(start) && start >= 0 ? start : PORT_UNPRIVILEGED_START_DEFAULT,
    readAttr: readTrimmed,
    exists: pathExists,
    tunAccess: () => {
      try {
        accessSync(TUN_DEVICE, fsConstants.R_OK | fsConstants.W_OK);
        return null;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code ?? 'EACCES';
      }
    },
    probePort,
  };
}

function pathExists(path: string): boolean {
  try {
    accessSync(path, fsConstants.F_OK);
    return true;
  } catch {
    return false;
  }
}

/** Binds HOST_IP:HOST_PORT (TCP: listen, like slirp; UDP: bind) and closes it at once; bounded. */
export function probePort(m: PortMapping): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: string | null, close: (cb: () => void) => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      close(() => resolve(code));
    };
    // On a timeout the socket is closed too: a bind that completes later must not hold the port.
    let release: () => void = () => {};
    const timer = setTimeout(() => {
      try {
        release();
      } catch {
        // Not bound yet, or closed already: nothing to release.
      }
      finish('ETIMEDOUT', (cb) => cb());
    }, PORT_PROBE_TIMEOUT_MS);
    if (m.protocol === 'tcp') {
      const server = createServer();
      release = () => server.close();
      server.once('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'EINVAL', (cb) => cb()));
      server.listen({ host: m.hostIp, port: m.hostPort, exclusive: true }, () => finish(null, (cb) => server.close(() => cb())));
    } else {
      const socket = createSocket({ type: 'udp4', reuseAddr: false });
      release = () => socket.close();
      socket.once('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'EINVAL', (cb) => cb()));
      socket.bind({ address: m.hostIp, port: m.hostPort, exclusive: true }, () => finish(null, (cb) => socket.close(() => cb())));
    }
  });
}

function hasCap(capEff: bigint, bit: number): boolean {
  return ((capEff >> BigInt(bit)) & 1n) === 1n;
}

function socketName(m: PortMapping): string {
  return `${m.hostIp}:${m.hostPort}/${m.protocol}`;
}

function mappingText(m: PortMapping): string {
  return `${m.hostIp}:${m.hostPort}:${m.guestPort}/${m.protocol}`;
}

/** Refuses, before the VMM starts, a network this host cannot give the run. */
export async function checkHostNetwork(net: NetworkSettings, deps: HostNetDeps = hostNetDeps()): Promise<void> {
  if (net.mode.kind === 'user') await checkPublish(net, deps);
  if (net.mode.kind === 'tap') checkTap(net.mode.iface, deps);
}

async function checkPublish(net: NetworkSettings, deps: HostNetDeps): Promise<void> {
  const from = net.publishFrom ?? '--publish';
  net.publish.forEach((m, index) => {
    const earlier = net.publish.slice(0, index).find((other) => samePublishedSocket(other, m));
    if (earlier !== undefined) {
      throw new UkernelError(
        'PortConflict',
        `${from}: ${mappingText(earlier)} and ${mappingText(m)} both bind host port ${m.hostPort}/${m.protocol}`,
      );
    }
  });
  const privileged = deps.euid !== 0 && !hasCap(deps.capEff, CAP_NET_BIND_SERVICE);
  for (const m of net.publish) {
    if (privileged && m.hostPort < deps.unprivilegedPortStart) {
      throw new UkernelError(
        'PortPrivileged',
        `${from}: host port ${m.hostPort} is privileged (below net.ipv4.ip_unprivileged_port_start = ` +
          `${deps.unprivilegedPortStart}) and ukernel runs as uid ${deps.euid} without CAP_NET_BIND_SERVICE`,
      );
    }
  }
  for (const m of net.publish) {
    const code = await deps.probePort(m);
    if (code === null) continue;
    throw portError(m, code, from);
  }
}

/** The error for a host socket that could not be bound (`code`: errno name). */
export function portError(m: PortMapping, code: string, from: string): UkernelError {
  if (code === 'EADDRINUSE') {
    return new UkernelError('PortInUse', `${from}: host port ${m.hostPort}/${m.protocol} on ${m.hostIp} is already in use`);
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new UkernelError('PortPrivileged', `${from}: binding host port ${socketName(m)} was refused (${code})`);
  }
  if (code === 'EADDRNOTAVAIL') {
    return new UkernelError(
      'HostAddressUnavailable',
      `${from}: ${m.hostIp} (for host port ${m.hostPort}/${m.protocol}) is not an address of this host`,
    );
  }
  return new UkernelError('PortInUse', `${from}: host port ${socketName(m)} cannot be bound (${code})`, {
    hint: 'Publish another host port, or check the host address.',
  });
}

function checkTap(iface: string, deps: HostNetDeps): void {
  const dir = join(SYSFS_NET_DIR, iface);
  const name = `tap:${iface}`;
  if (!deps.exists(dir)) {
    throw new UkernelError('TapNotFound', `${name}: there is no network interface ${iface} (${dir} is missing)`, {
      hint: `Create it first: \`sudo ip tuntap add dev ${iface} mode tap user $USER && sudo ip link set ${iface} up\`.`,
    });
  }
  const flagsText = deps.readAttr(join(dir, 'tun_flags'));
  const flags = flagsText === null ? NaN : Number(flagsText);
  if (!Number.isInteger(flags)) {
    throw new UkernelError('TapInvalid', `${name}: ${iface} is not a TUN/TAP device (no ${join(dir, 'tun_flags')})`);
  }
  if ((flags & IFF_TAP) === 0) {
    const kind = (flags & IFF_TUN) !== 0 ? 'a TUN device (layer 3)' : `not a tap (tun_flags ${flagsText})`;
    throw new UkernelError('TapInvalid', `${name}: ${iface} is ${kind}; the VM needs a TAP device (layer 2)`);
  }
  if (deps.readAttr(join(dir, 'carrier')) === '1') {
    throw new UkernelError('TapBusy', `${name}: ${iface} is already attached to another process (its carrier is up)`);
  }
  const tun = deps.tunAccess();
  if (tun !== null && deps.euid !== 0) {
    throw new UkernelError('TapNotPermitted', `${name}: ${TUN_DEVICE} is not read-write for uid ${deps.euid} (${tun})`);
  }
  if (tun !== null) {
    throw new UkernelError('TapNotPermitted', `${name}: ${TUN_DEVICE} cannot be opened (${tun})`, {
      hint: 'Load the tun module (`sudo modprobe tun`), or check that /dev/net/tun exists.',
    });
  }
  const owner = Number(deps.readAttr(join(dir, 'owner')) ?? -1);
  const group = Number(deps.readAttr(join(dir, 'group')) ?? -1);
  const ownerMismatch = owner >= 0 && owner !== deps.euid;
  const groupMismatch = group >= 0 && !deps.groups.includes(group);
  if ((ownerMismatch || groupMismatch) && !hasCap(deps.capEff, CAP_NET_ADMIN)) {
    const who = ownerMismatch ? `uid ${owner}` : `group ${group}`;
    throw new UkernelError(
      'TapNotPermitted',
      `${name}: ${iface} belongs to ${who}, and ukernel runs as uid ${deps.euid} without CAP_NET_ADMIN`,
    );
  }
}

/**
 * The VMM's failure when it is the network's: a host port taken after the probe, a tap busy or
 * not permitted. Returns null for every other failure (the caller rethrows it as it was).
 */
export function vmmNetworkError(
  err: UkernelError,
  net: NetworkSettings,
  proxied: readonly { mapping: PortMapping; upstreamPort: number | null }[] = [],
): UkernelError | null {
  if (net.mode.kind === 'none' || err.exitCode === 2) return null;
  const text = [err.message, ...err.details].join('\n');
  const details = { details: err.details };
  if (net.mode.kind === 'user') {
    const rule = /Could not set up host forwarding rule '(tcp|udp):([0-9.]*):([0-9]+)-/.exec(text);
    if (rule === null) return null;
    const shown = `${rule[2] === '' ? '0.0.0.0' : rule[2]}:${rule[3]}/${rule[1]}`;
    // A TCP mapping's rule names the internal port ukernel picked for it (publish-proxy.ts).
    const route = rule[1] === 'tcp' ? proxied.find((r) => r.upstreamPort === Number(rule[3])) : undefined;
    if (route !== undefined) {
      return new UkernelError(
        'PortInUse',
        `QEMU could not bind ${shown}, the internal port ukernel picked for ${formatPortMapping(route.mapping)} ` +
          '(another program took it meanwhile)',
        { ...details, hint: 'Run it again: ukernel picks another free port each time.' },
      );
    }
    return new UkernelError('PortInUse', `QEMU could not bind host port ${shown} (taken since ukernel checked it?)`, details);
  }
  const name = formatNetMode(net.mode);
  // Only lines about the tap count: a drive or /dev/kvm refused with "Permission denied" is not
  // the tap's fault. QEMU names the interface (or /dev/net/tun) in its tap errors, Firecracker
  // in its network-interface errors.
  const iface = net.mode.iface;
  const tapLines = text
    .split('\n')
    .filter((line) => line.includes(iface) || /\/dev\/net\/tun|\btap\b|TUNSETIFF|network.?interface/i.test(line))
    .join('\n');
  const kept = { details: [err.message, ...err.details] };
  if (/Device or resource busy|EBUSY|os error 16\b/.test(tapLines)) {
    return new UkernelError('TapBusy', `${name}: the VMM could not attach ${iface}: device or resource busy`, kept);
  }
  if (/Operation not permitted|Permission denied|os error (1|13)\b/.test(tapLines)) {
    return new UkernelError('TapNotPermitted', `${name}: the VMM was not permitted to attach ${iface}`, kept);
  }
  if (/No such device|os error 19\b/.test(tapLines)) {
    return new UkernelError('TapNotFound', `${name}: the VMM found no interface ${iface}`, kept);
  }
  return null;
}
