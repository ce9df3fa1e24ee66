// Host checks of a run's network: every refusal with its code, against a host described by the
// test (ports, capabilities, sysfs), and the real bind probe against sockets the test holds.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UkernelError } from '../errors.js';
import { checkHostNetwork, type HostNetDeps, probePort, vmmNetworkError } from './net-host.js';
import { NETWORK_NONE, type NetworkSettings, type PortMapping } from './network.js';

const m = (hostPort: number, over: Partial<PortMapping> = {}): PortMapping => ({
  hostIp: '127.0.0.1',
  hostPort,
  guestPort: 80,
  protocol: 'tcp',
  ...over,
});
const user = (publish: PortMapping[]): NetworkSettings => ({
  ...NETWORK_NONE,
  mode: { kind: 'user' },
  from: '--publish',
  publish,
  publishFrom: '--publish',
});
const tap: NetworkSettings = {
  ...NETWORK_NONE,
  mode: { kind: 'tap', iface: 'tap0' },
  from: '--net',
  ip: { address: '172.16.0.2', prefix: 30 },
  mac: '06:00:ac:10:00:02',
};

/** A non-root user on a host with a free port world and a well-formed tap0, unless overridden. */
function host(over: Partial<HostNetDeps> = {}, sysfs: Record<string, string> = {}): HostNetDeps {
  const attrs: Record<string, string> = {
    '/sys/class/net/tap0/tun_flags': '0x1002',
    '/sys/class/net/tap0/owner': '-1',
    '/sys/class/net/tap0/group': '-1',
    '/sys/class/net/tap0/carrier': '0',
    ...sysfs,
  };
  return {
    euid: 1000,
    groups: [1000],
    capEff: 0n,
    unprivilegedPortStart: 1024,
    readAttr: (path) => attrs[path] ?? null,
    exists: (path) => Object.keys(attrs).some((p) => p.startsWith(`${path}/`)),
    tunAccess: () => null,
    probePort: async () => null,
    ...over,
  };
}

async function refusal(net: NetworkSettings, deps: HostNetDeps): Promise<UkernelError> {
  try {
    await checkHostNetwork(net, deps);
  } catch (err) {
    if (err instanceof UkernelError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('published ports', () => {
  it('a free set passes; nothing is probed without a network or on a tap', async () => {
    const probed: PortMapping[] = [];
    const deps = host({
      probePort: async (p) => {
        probed.push(p);
        return null;
      },
    });
    await checkHostNetwork(user([m(8080), m(8080, { protocol: 'udp' }), m(8081, { hostIp: '0.0.0.0' })]), deps);
    expect(probed.map((p) => `${p.hostPort}/${p.protocol}`)).toEqual(['8080/tcp', '8080/udp', '8081/tcp']);
    await checkHostNetwork(NETWORK_NONE, host({ probePort: async () => 'EADDRINUSE' }));
  });

  it.each<[string, PortMapping[], Partial<HostNetDeps>, string, RegExp]>([
    [
      'the same host port twice',
      [m(8080), m(8080, { guestPort: 81 })],
      {},
      'UK131',
      /127\.0\.0\.1:8080:80\/tcp and 127\.0\.0\.1:8080:81\/tcp both bind host port 8080\/tcp/,
    ],
    ['0.0.0.0 overlaps every address', [m(8080), m(8080, { hostIp: '0.0.0.0' })], {}, 'UK131', /both bind host port 8080/],
    [
      'a privileged port as a user',
      [m(80)],
      {},
      'UK133',
      /host port 80 is privileged \(below net\.ipv4\.ip_unprivileged_port_start = 1024\) and ukernel runs as uid 1000/,
    ],
    ['below a raised unprivileged start', [m(2000)], { unprivilegedPortStart: 4096 }, 'UK133', /= 4096/],
    [
      'a port in use',
      [m(8080)],
      { probePort: async () => 'EADDRINUSE' },
      'UK132',
      /--publish: host port 8080\/tcp on 127\.0\.0\.1 is already in use/,
    ],
    [
      'a bind refused',
      [m(8080)],
      { probePort: async () => 'EACCES' },
      'UK133',
      /binding host port 127\.0\.0\.1:8080\/tcp was refused \(EACCES\)/,
    ],
    [
      'an address the host lacks',
      [m(8080, { hostIp: '10.9.9.9' })],
      { probePort: async () => 'EADDRNOTAVAIL' },
      'UK141',
      /10\.9\.9\.9 .* is not an address of this host/,
    ],
  ])('%s → %s', async (_what, publish, over, code, message) => {
    const err = await refusal(user(publish), host(over));
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
  });

  it('privileged ports are fine for root and with CAP_NET_BIND_SERVICE (and ports at the start)', async () => {
    await checkHostNetwork(user([m(80)]), host({ euid: 0 }));
    await checkHostNetwork(user([m(80)]), host({ capEff: 1n << 10n }));
    await checkHostNetwork(user([m(1024)]), host());
    await checkHostNetwork(user([m(80)]), host({ unprivilegedPortStart: 0 }));
  });
});

describe('probePort binds for real and lets go', () => {
  const held: Array<Server | Socket> = [];
  afterEach(async () => {
    await Promise.all(held.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  it('a TCP port someone listens on is in use; a free one is free and free again after', async () => {
    const server = createServer();
    held.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    expect(await probePort(m(port))).toBe('EADDRINUSE');
    expect(await probePort(m(port, { hostIp: '0.0.0.0' }))).toBe('EADDRINUSE');
    const free = await new Promise<number>((r) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => r(p));
      });
    });
    expect(await probePort(m(free))).toBeNull();
    expect(await probePort(m(free))).toBeNull(); // released
  });

  it('a UDP port someone holds is in use', async () => {
    const socket = createSocket('udp4');
    held.push(socket);
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const port = socket.address().port;
    expect(await probePort(m(port, { protocol: 'udp' }))).toBe('EADDRINUSE');
    expect(await probePort(m(port, { protocol: 'tcp' }))).toBeNull(); // TCP and UDP ports are apart
  });

  it('an address this host lacks', async () => {
    expect(await probePort(m(18080, { hostIp: '192.0.2.1' }))).toBe('EADDRNOTAVAIL');
  });
});

describe('tap devices', () => {
  it('a tap that exists, is a TAP, is free and is ours passes', async () => {
    await checkHostNetwork(tap, host());
    await checkHostNetwork(tap, host({}, { '/sys/class/net/tap0/owner': '1000' }));
    await checkHostNetwork(tap, host({}, { '/sys/class/net/tap0/group': '1000' }));
  });

  it.each<[string, Partial<HostNetDeps>, Record<string, string>, string, RegExp]>([
    [
      'missing',
      { exists: () => false },
      {},
      'UK134',
      /tap:tap0: there is no network interface tap0 \(\/sys\/class\/net\/tap0 is missing\)/,
    ],
    ['not a TUN/TAP device', {}, { '/sys/class/net/tap0/tun_flags': 'x' }, 'UK135', /tap0 is not a TUN\/TAP device/],
    ['a TUN device', {}, { '/sys/class/net/tap0/tun_flags': '0x1001' }, 'UK135', /tap0 is a TUN device \(layer 3\)/],
    ['attached elsewhere', {}, { '/sys/class/net/tap0/carrier': '1' }, 'UK136', /already attached to another process/],
    [
      '/dev/net/tun not read-write',
      { tunAccess: () => 'EACCES' },
      {},
      'UK137',
      /\/dev\/net\/tun is not read-write for uid 1000 \(EACCES\)/,
    ],
    ['/dev/net/tun missing, as root', { euid: 0, tunAccess: () => 'ENOENT' }, {}, 'UK137', /cannot be opened \(ENOENT\)/],
    [
      'owned by another user',
      {},
      { '/sys/class/net/tap0/owner': '1001' },
      'UK137',
      /belongs to uid 1001, and ukernel runs as uid 1000 without CAP_NET_ADMIN/,
    ],
    ['of another group', {}, { '/sys/class/net/tap0/group': '27' }, 'UK137', /belongs to group 27/],
  ])('%s → %s', async (_what, over, sysfs, code, message) => {
    // Without the `exists` override the fake sysfs decides (its tap0 directory exists).
    const base = host(over, sysfs);
    const err = await refusal(tap, over.exists === undefined ? { ...base, exists: () => true } : base);
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
  });

  it('CAP_NET_ADMIN may use a tap of another owner', async () => {
    await checkHostNetwork(tap, host({ capEff: 1n << 12n }, { '/sys/class/net/tap0/owner': '1001' }));
  });
});

describe("the VMM's network failures get the network's codes", () => {
  const failed = (...details: string[]) => new UkernelError('VmmFailed', 'qemu exited with code 1', { details });

  it('QEMU could not set up a forwarding rule → UK132 naming the port', () => {
    const err = vmmNetworkError(
      failed(
        "qemu-system-x86_64: -netdev user,id=net0,hostfwd=tcp:127.0.0.1:18080-:80: Could not set up host forwarding rule 'tcp:127.0.0.1:18080-:80'",
      ),
      user([m(18080)]),
    );
    expect(err?.code).toBe('UK132');
    expect(err?.message).toMatch(/host port 127\.0\.0\.1:18080\/tcp/);
  });

  it('QEMU could not bind the internal port of a proxied TCP mapping → UK132 naming both', () => {
    const err = vmmNetworkError(
      failed("qemu-system-x86_64: … Could not set up host forwarding rule 'tcp:127.0.0.1:41234-:80'"),
      user([m(18080)]),
      [{ mapping: m(18080), upstreamPort: 41234 }],
    );
    expect(err?.code).toBe('UK132');
    expect(err?.message).toBe(
      'QEMU could not bind 127.0.0.1:41234/tcp, the internal port ukernel picked for 127.0.0.1:18080 → guest :80/tcp ' +
        '(another program took it meanwhile)',
    );
    expect(err?.hint).toMatch(/Run it again/);
  });

  it('a busy or forbidden tap (QEMU, Firecracker) → UK136, UK137, UK134', () => {
    expect(vmmNetworkError(failed('could not configure /dev/net/tun (tap0): Device or resource busy'), tap)?.code).toBe('UK136');
    expect(vmmNetworkError(failed('Open tap device failed: … Resource busy (os error 16)'), tap)?.code).toBe('UK136');
    expect(vmmNetworkError(failed('could not configure /dev/net/tun (tap0): Operation not permitted'), tap)?.code).toBe('UK137');
    expect(vmmNetworkError(failed('Open tap device failed: … (os error 1)'), tap)?.code).toBe('UK137');
    expect(vmmNetworkError(failed('could not configure /dev/net/tun (tap0): No such device'), tap)?.code).toBe('UK134');
  });

  it('other failures, input errors and runs without a network are left as they are', () => {
    expect(vmmNetworkError(failed('something else'), tap)).toBeNull();
    // Not about the tap: a drive or KVM refused is left as the VMM said it.
    expect(
      vmmNetworkError(failed("qemu-system-x86_64: -drive id=image,file=/x.img: Could not open '/x.img': Permission denied"), tap),
    ).toBeNull();
    expect(vmmNetworkError(failed('Error creating KVM object: Permission denied (os error 13)'), tap)).toBeNull();
    expect(vmmNetworkError(failed('Device or resource busy'), NETWORK_NONE)).toBeNull();
    expect(vmmNetworkError(new UkernelError('KernelNotFound', 'Device or resource busy'), tap)).toBeNull();
  });
});
