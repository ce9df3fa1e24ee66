// The network's syntax, the VMM arguments and kernel command-line tokens it becomes, and what the
// run prints about it.
import { describe, expect, it } from 'vitest';
import { checkCmdlineBudget, cmdlineBudget, kernelCmdline } from './cmdline.js';
import { firecrackerConfig } from './firecracker.js';
import {
  formatGuestNetwork,
  formatNetworkSummary,
  guestNetwork,
  guestMac,
  NETWORK_NONE,
  NetSyntaxError,
  type NetworkSettings,
  networkCmdlineTokens,
  networkDevices,
  networkReport,
  parseDnsServer,
  parseIpSetting,
  parseNetMode,
  parsePortMapping,
  qemuNetworkArgs,
} from './network.js';
import { emptyProxyStats } from './publish-proxy.js';
import { qemuArgs } from './qemu.js';

const reason = (parse: () => unknown): string => {
  try {
    parse();
  } catch (err) {
    if (err instanceof NetSyntaxError) return err.reason;
    throw err;
  }
  throw new Error('expected a NetSyntaxError');
};

const user = (over: Partial<NetworkSettings> = {}): NetworkSettings => ({
  ...NETWORK_NONE,
  mode: { kind: 'user' },
  from: '--net',
  ...over,
});
const tap = (over: Partial<NetworkSettings> = {}): NetworkSettings => ({
  ...NETWORK_NONE,
  mode: { kind: 'tap', iface: 'tap0' },
  from: '--net',
  ip: { address: '172.16.0.2', prefix: 30 },
  gateway: '172.16.0.1',
  mac: '06:00:ac:10:00:02',
  ...over,
});

describe('parsePortMapping: docker -p syntax, host 127.0.0.1 unless given', () => {
  it.each([
    ['8080:80', { hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80, protocol: 'tcp' }],
    ['0.0.0.0:8080:80', { hostIp: '0.0.0.0', hostPort: 8080, guestPort: 80, protocol: 'tcp' }],
    ['127.0.0.1:5353:53/udp', { hostIp: '127.0.0.1', hostPort: 5353, guestPort: 53, protocol: 'udp' }],
    ['1:65535/tcp', { hostIp: '127.0.0.1', hostPort: 1, guestPort: 65535, protocol: 'tcp' }],
  ])('%s', (text, expected) => {
    expect(parsePortMapping(text)).toEqual(expected);
  });

  it.each([
    ['80', /expected \[HOST_IP:\]HOST_PORT:GUEST_PORT/],
    ['a:b:c:d', /expected \[HOST_IP:\]HOST_PORT:GUEST_PORT/],
    ['0:80', /host port must be an integer in 1\.\.65535 \(got "0"\)/],
    ['65536:80', /host port must be an integer in 1\.\.65535 \(got "65536"\)/],
    ['8080:0', /guest port must be an integer in 1\.\.65535 \(got "0"\)/],
    ['8080:-1', /guest port/],
    ['8080:80.5', /guest port/],
    ['http:80', /host port/],
    ['8080:80/sctp', /protocol must be tcp or udp \(got "sctp"\)/],
    ['8080:80/', /protocol must be tcp or udp/],
    ['256.0.0.1:8080:80', /host address must be an IPv4 address/],
    ['01.2.3.4:8080:80', /host address must be an IPv4 address/],
    ['localhost:8080:80', /host address/],
    ['[::1]:8080:80', /expected|host address/],
  ])('refuses %s', (text, why) => {
    expect(reason(() => parsePortMapping(text))).toMatch(why);
  });
});

describe('parseNetMode, parseIpSetting, parseDnsServer', () => {
  it('net modes', () => {
    expect(parseNetMode('none')).toEqual({ kind: 'none' });
    expect(parseNetMode('user')).toEqual({ kind: 'user' });
    expect(parseNetMode('tap:tap0')).toEqual({ kind: 'tap', iface: 'tap0' });
    expect(parseNetMode('tap:a.b-c_123456')).toEqual({ kind: 'tap', iface: 'a.b-c_123456' });
    expect(reason(() => parseNetMode('bridge'))).toBe('expected none, user or tap:IFACE');
    expect(reason(() => parseNetMode('tap:'))).toMatch(/interface name must be 1–15/);
    expect(reason(() => parseNetMode('tap:abcdefghijklmnop'))).toMatch(/1–15/);
    expect(reason(() => parseNetMode('tap:a/b'))).toMatch(/1–15/);
    expect(reason(() => parseNetMode('tap:..'))).toMatch(/1–15/);
  });

  it('addresses', () => {
    expect(parseIpSetting('172.16.0.2/30')).toEqual({ address: '172.16.0.2', prefix: 30 });
    expect(parseIpSetting('10.0.2.15/24')).toEqual({ address: '10.0.2.15', prefix: 24 });
    expect(parseIpSetting('192.168.1.7/32')).toEqual({ address: '192.168.1.7', prefix: 32 });
    expect(parseIpSetting('dhcp')).toBe('dhcp');
    expect(reason(() => parseIpSetting('172.16.0.2'))).toMatch(/expected A\.B\.C\.D\/PREFIX/);
    expect(reason(() => parseIpSetting('172.16.0.2/33'))).toMatch(/prefix length must be an integer in 1\.\.32 \(got "33"\)/);
    expect(reason(() => parseIpSetting('172.16.0.2/0'))).toMatch(/1\.\.32/);
    expect(reason(() => parseIpSetting('172.16.0/30'))).toMatch(/guest address must be an IPv4 address/);
    expect(reason(() => parseIpSetting('172.16.0.0/30'))).toBe("172.16.0.0 is the network address of /30, not a host's");
    expect(reason(() => parseIpSetting('172.16.0.3/30'))).toMatch(/broadcast address of \/30/);
  });

  it('DNS servers', () => {
    expect(parseDnsServer('10.0.2.3')).toEqual({ address: '10.0.2.3', port: null });
    expect(parseDnsServer('10.0.2.2:5353')).toEqual({ address: '10.0.2.2', port: 5353 });
    expect(reason(() => parseDnsServer('10.0.2.2:0'))).toMatch(/DNS port must be an integer in 1\.\.65535/);
    expect(reason(() => parseDnsServer('dns.example'))).toMatch(/DNS server address must be an IPv4 address/);
    expect(reason(() => parseDnsServer('1.2.3.4:5:6'))).toMatch(/expected A\.B\.C\.D\[:PORT\]/);
  });
});

describe('QEMU arguments', () => {
  it('user networking: slirp with one hostfwd per mapping, no restrict=on; the device after the disks', () => {
    const net = user({
      publish: [
        { hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80, protocol: 'tcp' },
        { hostIp: '0.0.0.0', hostPort: 5353, guestPort: 53, protocol: 'udp' },
      ],
    });
    expect(qemuNetworkArgs(net)).toEqual([
      '-netdev',
      'user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53',
      '-device',
      'virtio-net-device,netdev=net0',
    ]);
    const args = qemuArgs({
      kernel: 'k',
      accel: 'kvm',
      memoryMib: 128,
      vcpus: 1,
      cmdline: '',
      image: { path: 'i' },
      events: 'e',
      network: net,
    });
    expect(args.slice(-4)).toEqual(qemuNetworkArgs(net));
    expect(args.indexOf('virtio-blk-device,drive=events')).toBeLessThan(args.indexOf('virtio-net-device,netdev=net0'));
    expect(args.join(' ')).not.toMatch(/restrict|vhost/);
  });

  it('user networking without mappings, and with a static guest address named in each rule', () => {
    expect(qemuNetworkArgs(user())).toEqual(['-netdev', 'user,id=net0', '-device', 'virtio-net-device,netdev=net0']);
    const statik = user({
      ip: { address: '10.0.2.20', prefix: 24 },
      publish: [{ hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80, protocol: 'tcp' }],
    });
    expect(qemuNetworkArgs(statik)[1]).toBe('user,id=net0,hostfwd=tcp:127.0.0.1:8080-10.0.2.20:80');
  });

  it('tap: no scripts, never vhost, the stable MAC on the device', () => {
    expect(qemuNetworkArgs(tap())).toEqual([
      '-netdev',
      'tap,id=net0,ifname=tap0,script=no,downscript=no',
      '-device',
      'virtio-net-device,netdev=net0,mac=06:00:ac:10:00:02',
    ]);
  });

  it('no network, no device', () => {
    expect(qemuNetworkArgs(NETWORK_NONE)).toEqual([]);
    const args = qemuArgs({ kernel: 'k', accel: 'tcg', memoryMib: 128, vcpus: 1, cmdline: '', network: NETWORK_NONE });
    expect(args.join(' ')).not.toMatch(/netdev|virtio-net/);
  });
});

describe('Firecracker config', () => {
  const base = { kernel: 'k', memoryMib: 128, vcpus: 1, cmdline: 'c' };
  it('a tap becomes network-interfaces with the guest MAC', () => {
    expect(firecrackerConfig({ ...base, network: tap() })['network-interfaces']).toEqual([
      { iface_id: 'net0', host_dev_name: 'tap0', guest_mac: '06:00:ac:10:00:02' },
    ]);
  });
  it('no network: no network-interfaces key (configs of plain runs unchanged)', () => {
    expect(firecrackerConfig({ ...base, network: NETWORK_NONE })).not.toHaveProperty('network-interfaces');
    expect(firecrackerConfig(base)).not.toHaveProperty('network-interfaces');
  });
});

describe('guestMac', () => {
  it('06:00 + the guest IPv4 bytes; without one, a stable hash of the interface', () => {
    expect(guestMac({ address: '172.16.0.2', prefix: 30 }, 'tap0')).toBe('06:00:ac:10:00:02');
    const hashed = guestMac('dhcp', 'tap0');
    expect(hashed).toMatch(/^06:00(:[0-9a-f]{2}){4}$/);
    expect(guestMac(null, 'tap0')).toBe(hashed);
    expect(guestMac(null, 'tap1')).not.toBe(hashed);
    // Locally administered (bit 1) and unicast (bit 0 clear).
    expect(Number.parseInt(hashed.slice(0, 2), 16) & 0b11).toBe(0b10);
  });
});

describe('kernel command line', () => {
  it('uk.ip, uk.gateway, uk.dns before the user tokens and the workload arguments', () => {
    const tokens = networkCmdlineTokens(tap({ dns: { address: '172.16.0.1', port: 5353 } }));
    expect(tokens).toEqual(['uk.ip=172.16.0.2/30', 'uk.gateway=172.16.0.1', 'uk.dns=172.16.0.1:5353']);
    expect(kernelCmdline({ extra: 'x=1', tokens, workload: ['a'] })).toBe(
      'uk.ip=172.16.0.2/30 uk.gateway=172.16.0.1 uk.dns=172.16.0.1:5353 x=1 uk.argc=1 -- a',
    );
  });

  it('DHCP: no uk.ip (the kernel asks DHCP); no network: no tokens at all', () => {
    expect(networkCmdlineTokens(user())).toEqual([]);
    expect(networkCmdlineTokens(user({ dns: { address: '10.0.2.2', port: null } }))).toEqual(['uk.dns=10.0.2.2']);
    expect(networkCmdlineTokens(tap({ ip: 'dhcp', gateway: null }))).toEqual([]);
    expect(networkCmdlineTokens({ ...tap(), mode: { kind: 'none' } })).toEqual([]);
  });

  it('the budget counts the tokens and the NIC the VMM announces', () => {
    const devices = 2 + networkDevices(tap());
    expect(devices).toBe(3);
    expect(networkDevices(NETWORK_NONE)).toBe(0);
    const tokens = networkCmdlineTokens(tap());
    const room = cmdlineBudget('firecracker', devices);
    const filler = 'y'.repeat(room - kernelCmdline({ extra: '', tokens }).length - 1);
    expect(() => checkCmdlineBudget(kernelCmdline({ extra: filler, tokens }), 'firecracker', devices)).not.toThrow();
    expect(() => checkCmdlineBudget(kernelCmdline({ extra: `${filler}z`, tokens }), 'firecracker', devices)).toThrow(
      expect.objectContaining({ code: 'UK140' }),
    );
    // The same line fits without the NIC's device token.
    expect(() => checkCmdlineBudget(kernelCmdline({ extra: `${filler}z`, tokens }), 'firecracker', 2)).not.toThrow();
  });
});

describe('what the run says about its network', () => {
  it('the boot summary line', () => {
    const net = user({
      publish: [
        { hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80, protocol: 'tcp' },
        { hostIp: '127.0.0.1', hostPort: 5353, guestPort: 53, protocol: 'udp' },
      ],
    });
    expect(formatNetworkSummary(net)).toBe(
      'Network: user, 127.0.0.1:8080 → guest :80/tcp, 127.0.0.1:5353 → guest :53/udp, guest address by DHCP',
    );
    expect(formatNetworkSummary(tap())).toBe('Network: tap tap0, guest 172.16.0.2/30, gateway 172.16.0.1, mac 06:00:ac:10:00:02');
    expect(formatNetworkSummary(NETWORK_NONE)).toBeNull();
  });

  it("the guest's own report (@uk:net) and its place in the run report", () => {
    const record = {
      kind: 'net',
      mac: '52:54:00:12:34:56',
      source: 'dhcp',
      address: '10.0.2.15/24',
      gateway: '10.0.2.2',
      dns: '10.0.2.3:53',
      configNs: 2_500_000,
    } as const;
    expect(formatGuestNetwork(record)).toBe('Network: guest 10.0.2.15/24 (dhcp, 2.5 ms), gateway 10.0.2.2, dns 10.0.2.3:53');
    expect(formatGuestNetwork({ ...record, source: 'static', gateway: '0.0.0.0', dns: '0.0.0.0:53' })).toBe(
      'Network: guest 10.0.2.15/24 (static, 2.5 ms), no resolver',
    );
    expect(formatGuestNetwork({ ...record, source: 'none', address: '0.0.0.0/0' })).toBe(
      'Network: the guest got no address (no DHCP answer in time); mac 52:54:00:12:34:56',
    );
    expect(networkReport(user(), guestNetwork(record)).guest).toEqual({
      address: '10.0.2.15/24',
      method: 'dhcp',
      gateway: '10.0.2.2',
      dns: '10.0.2.3:53',
      mac: '52:54:00:12:34:56',
      configured_ns: 2_500_000,
    });
  });

  it('the report (run --json)', () => {
    expect(networkReport(user({ publish: [{ hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80, protocol: 'tcp' }] }))).toEqual({
      mode: 'user',
      interface: null,
      publish: [{ host_ip: '127.0.0.1', host_port: 8080, guest_port: 80, protocol: 'tcp' }],
      ip: null,
      gateway: null,
      dns: null,
      mac: null,
      guest: null,
      proxy: null,
      stats: null,
    });
    const proxy = { ...emptyProxyStats(), connections: 3, forwarded: 3 };
    expect(networkReport(user(), null, proxy).proxy).toEqual(proxy);
    expect(networkReport(tap())).toMatchObject({ mode: 'tap', interface: 'tap0', ip: '172.16.0.2/30', gateway: '172.16.0.1' });
  });
});
