// The host side of networking, end to end on QEMU: the worker template boots under
// `--net user --publish`; while the VM runs the CLI holds the published TCP port (its publish
// proxy, forwarding to slirp on an internal loopback port) and QEMU the UDP one (nothing answers
// behind them: the worker does not listen), and both are let go after; the kernel command line
// and the report carry the settings; and every refusal happens before anything starts (exit 2,
// its code, no VMM, no run log).
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePort } from '../../cli/src/vmm/net-host.js';
import type { PortMapping } from '../../cli/src/vmm/network.js';
import { emptyProxyStats } from '../../cli/src/vmm/publish-proxy.js';
import {
  cliPath,
  onPath,
  processAlive,
  qemuDescendants,
  requireBuilt,
  run,
  spawnUkernel,
  tempDir,
  ukernel,
  ukernelOk,
  waitFor,
} from './helpers.js';

const BUILD_MS = 180_000;
const RUN_MS = 60_000;
let work: ReturnType<typeof tempDir>;
let project: string;

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  project = join(work.path, 'web');
  mkdirSync(project);
  await ukernelOk(['init', '--name', 'web'], project, BUILD_MS);
  await ukernelOk(['build'], project, BUILD_MS);
  await ukernelOk(['pack'], project, BUILD_MS);
}, 3 * BUILD_MS);

afterAll(() => work?.remove());

/** A port that was free a moment ago (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const runLogs = (): string[] => {
  try {
    return readdirSync(join(project, 'logs/runs')).filter((f) => f.endsWith('.log'));
  } catch {
    return [];
  }
};

const mapping = (hostPort: number, protocol: 'tcp' | 'udp'): PortMapping => ({
  hostIp: '127.0.0.1',
  hostPort,
  guestPort: protocol === 'tcp' ? 80 : 53,
  protocol,
});

/** The pids holding the listening sockets on local `port` (`ss FLAGS 'sport = :PORT'`). */
function socketOwners(flags: string, port: number): number[] {
  const ss = spawnSync('ss', [flags, `sport = :${port}`], { encoding: 'utf8' });
  expect(ss.status, ss.stderr).toBe(0);
  return [...ss.stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
}

/** Polls the async `check` every 50 ms until it holds, for at most `timeoutMs`. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('--net user --publish on QEMU', () => {
  it(
    'the CLI holds the published TCP port, QEMU the UDP one, while the worker runs; released after; a second run is refused',
    async () => {
      const [tcp, udp] = [await freePort(), await freePort()];
      // 2000 jobs through one worker, 1 ms of sleep each: the VM runs for a few seconds.
      const child = spawnUkernel(
        ['run', '--publish', `127.0.0.1:${tcp}:80`, '-p', `${udp}:53/udp`, '--dns', '10.0.2.2:5353', '--', '2000', '1'],
        project,
      );
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      try {
        await waitFor('QEMU to start', () => qemuDescendants(child.pid!).length > 0, 20_000);
        const [qemu] = qemuDescendants(child.pid!);
        const argv = readFileSync(`/proc/${qemu}/cmdline`, 'utf8').split('\0');
        // The TCP rule names the proxy's internal port, the UDP rule the published one.
        const netdev = argv[argv.indexOf('-netdev') + 1] ?? '';
        const rule = /^user,id=net0,hostfwd=tcp:127\.0\.0\.1:(\d+)-:80,hostfwd=udp:127\.0\.0\.1:(\d+)-:53$/.exec(netdev);
        expect(rule, netdev).not.toBeNull();
        expect([Number(rule![1]) !== tcp, Number(rule![2])]).toEqual([true, udp]);
        expect(argv).toContain('virtio-net-device,netdev=net0');
        expect(argv[argv.indexOf('-append') + 1]).toMatch(/^uk\.wall_ns=[0-9]+ uk\.dns=10\.0\.2\.2:5353 /);
        expect(argv.join(' ')).not.toMatch(/restrict=on|vhost=on/);

        // The ports are taken while it runs (the TCP one by the CLI itself, the UDP one by QEMU):
        // binding them fails, a TCP connect is accepted.
        expect(await probePort(mapping(tcp, 'tcp'))).toBe('EADDRINUSE');
        expect(socketOwners('-ltnpH', tcp)).toEqual([child.pid]);
        await eventually('QEMU to bind the UDP port', async () => (await probePort(mapping(udp, 'udp'))) === 'EADDRINUSE');
        expect(socketOwners('-lunpH', udp)).toEqual([qemu]);
        await new Promise<void>((resolve, reject) => {
          const c = connect({ host: '127.0.0.1', port: tcp }, () => {
            c.destroy();
            resolve();
          });
          c.once('error', reject);
        });

        // A second run publishing the same port is refused before it starts anything.
        const before = runLogs().length;
        const second = await ukernel(['run', '-p', `${tcp}:8080`], project, RUN_MS);
        expect(second.code, second.stderr).toBe(2);
        expect(second.stderr).toContain(`error UK132: --publish: host port ${tcp}/tcp on 127.0.0.1 is already in use`);
        expect(runLogs().length).toBe(before);
        expect(processAlive(qemu!)).toBe(true);
      } finally {
        if (child.exitCode === null) await Promise.race([exited, new Promise((r) => setTimeout(r, RUN_MS))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      expect(await exited, stderr).toBe(0);
      expect(stderr).toContain(
        `Network: user, 127.0.0.1:${tcp} → guest :80/tcp, 127.0.0.1:${udp} → guest :53/udp, guest address by DHCP, dns 10.0.2.2:5353`,
      );
      expect(stdout).toContain('pipeline: 2000 jobs through 1 workers');
      // Released with the VM.
      expect(await probePort(mapping(tcp, 'tcp'))).toBeNull();
      expect(await probePort(mapping(udp, 'udp'))).toBeNull();
    },
    3 * RUN_MS,
  );

  it(
    '--json carries the network; ukernel.toml [run] publish alone means user networking',
    async () => {
      const port = await freePort();
      const result = await ukernel(['run', '--json', '-p', `${port}:80`], project, RUN_MS);
      expect(result.code, result.stderr).toBe(0);
      const report = JSON.parse(result.stdout) as { network: unknown };
      expect(report.network).toEqual({
        mode: 'user',
        interface: null,
        publish: [{ host_ip: '127.0.0.1', host_port: port, guest_port: 80, protocol: 'tcp' }],
        ip: null,
        gateway: null,
        dns: null,
        mac: null,
        // What the guest reported (@uk:net): slirp's DHCP answer.
        guest: {
          address: '10.0.2.15/24',
          method: 'dhcp',
          gateway: '10.0.2.2',
          dns: '10.0.2.3:53',
          mac: '52:54:00:12:34:56',
          configured_ns: expect.any(Number),
        },
        // The publish proxy's counters: nobody connected.
        proxy: emptyProxyStats(),
        // The guest stack's counters at exit (@uk:netstat): the DHCP exchange crossed the NIC,
        // and lwIP holds no received frame.
        stats: expect.objectContaining({ rx_frames: expect.any(Number), pool_pbufs_used: 0, tx_dropped: 0 }),
      });
      expect((report.network as { stats: { rx_frames: number } }).stats.rx_frames).toBeGreaterThan(0);
      // A plain run has no network in its report.
      const plain = await ukernel(['run', '--json'], project, RUN_MS);
      expect(plain.code, plain.stderr).toBe(0);
      expect((JSON.parse(plain.stdout) as { network: unknown }).network).toBeNull();

      // The project declares its port: `ukernel run` alone publishes it; `--net none` runs it
      // without a network.
      const toml = join(project, 'ukernel.toml');
      const original = readFileSync(toml, 'utf8');
      const declared = await freePort();
      writeFileSync(toml, original.replace('net = "none"\n', `publish = ["${declared}:80"]\n`));
      try {
        const fromFile = await ukernel(['run', '--json'], project, BUILD_MS);
        expect(fromFile.code, fromFile.stderr).toBe(0);
        expect(JSON.parse(fromFile.stdout).network).toMatchObject({
          mode: 'user',
          publish: [{ host_ip: '127.0.0.1', host_port: declared, guest_port: 80, protocol: 'tcp' }],
        });
        const without = await ukernel(['run', '--json', '--net', 'none'], project, RUN_MS);
        expect(without.code, without.stderr).toBe(0);
        expect(JSON.parse(without.stdout).network).toBeNull();
      } finally {
        writeFileSync(toml, original);
      }
    },
    2 * RUN_MS + BUILD_MS,
  );
});

describe('refused before anything starts: exit 2, the code, no VMM, no run log', () => {
  let held: Server;
  let heldPort: number;
  beforeAll(async () => {
    held = createServer();
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    heldPort = (held.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => held.close(() => r())));

  it.each<[string, () => string[], string, RegExp]>([
    ['a TCP port in use', () => ['-p', `${heldPort}:80`], 'UK132', /host port \d+\/tcp on 127\.0\.0\.1 is already in use/],
    ['a malformed mapping', () => ['-p', '8080:80/sctp'], 'UK129', /--publish "8080:80\/sctp": the protocol must be tcp or udp/],
    ['a port out of range', () => ['-p', '65536:80'], 'UK129', /the host port must be an integer in 1\.\.65535 \(got "65536"\)/],
    ['one host port twice', () => ['-p', '18080:80', '-p', '0.0.0.0:18080:81'], 'UK131', /both bind host port 18080\/tcp/],
    ['a host address elsewhere', () => ['-p', '192.0.2.1:18080:80'], 'UK141', /192\.0\.2\.1 .* is not an address of this host/],
    ['--publish with --net none', () => ['--net', 'none', '-p', '18080:80'], 'UK139', /--publish needs user networking/],
    [
      'user networking on Firecracker',
      () => ['--net', 'user', '--vmm', 'firecracker'],
      'UK127',
      /Firecracker has no user networking/,
    ],
    ['a missing tap', () => ['--net', 'tap:uknone0', '--ip', '172.16.0.2/30'], 'UK134', /there is no network interface uknone0/],
    ['a NIC that is not a tap', () => ['--net', 'tap:lo', '--ip', '172.16.0.2/30'], 'UK135', /lo is not a TUN\/TAP device/],
    ['a tap without an address', () => ['--net', 'tap:tap0'], 'UK138', /the guest has no address/],
  ])('%s → %s', async (_what, args, code, message) => {
    const before = runLogs().length;
    const result = await ukernel(['run', ...args()], project, RUN_MS);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`error ${code}: `);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
    expect(runLogs().length).toBe(before);
  });

  it.each<[string, (port: number) => string, RegExp]>([
    [
      'the internal port of a TCP mapping',
      (port) => `${port}:80`,
      /error UK132: QEMU could not bind 127\.0\.0\.1:\d+\/tcp, the internal port ukernel picked for 127\.0\.0\.1:(\d+) → guest :80\/tcp/,
    ],
    ['a UDP port', (port) => `${port}:53/udp`, /error UK132: QEMU could not bind host port 127\.0\.0\.1:(\d+)\/udp/],
  ])(
    "a port QEMU cannot bind after all (%s, taken since the check) → UK132 with QEMU's words",
    async (_what, publish, message) => {
      // A stand-in QEMU that fails on its first hostfwd rule as QEMU 7.2 does when the port is taken (measured).
      const fake = join(work.path, 'qemu-port-taken.sh');
      writeFileSync(
        fake,
        `#!/bin/sh
for arg in "$@"; do case "$arg" in user,id=net0,hostfwd=*) rule=\${arg#user,id=net0,hostfwd=}; rule=\${rule%%,*};; esac; done
echo "qemu-system-x86_64: -netdev user,id=net0,hostfwd=$rule: Could not set up host forwarding rule '$rule'" >&2
exit 1
`,
        { mode: 0o755 },
      );
      const port = await freePort();
      const result = await run(process.execPath, [cliPath, 'run', '-p', publish(port)], {
        cwd: project,
        env: { ...process.env, UKERNEL_QEMU: fake },
        timeoutMs: RUN_MS,
      });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(Number(message.exec(result.stderr)?.[1])).toBe(port);
      expect(result.stderr).toContain('Could not set up host forwarding rule');
      // The proxy's port is let go with the run.
      expect(await probePort(mapping(port, 'tcp'))).toBeNull();
    },
  );

  it('a UDP port in use', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    try {
      const result = await ukernel(['run', '-p', `${socket.address().port}:53/udp`], project, RUN_MS);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/error UK132: --publish: host port \d+\/udp on 127\.0\.0\.1 is already in use/);
    } finally {
      await new Promise<void>((r) => socket.close(() => r()));
    }
  });
});

// A tap in a network namespace this test creates (root only): the worker boots with the tap
// attached (QEMU's tap argv works, the address reaches the kernel command line), and a tap
// another VMM holds is refused as busy before anything starts.
const isRoot = process.geteuid?.() === 0 && spawnSync('ip', ['-V']).status === 0;
describe.skipIf(!isRoot)('--net tap in a network namespace (root)', () => {
  const ns = `uknet${process.pid}`;
  const inNs = (...args: string[]) => spawnSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
  beforeAll(() => {
    for (const args of [
      ['netns', 'add', ns],
      ['-n', ns, 'tuntap', 'add', 'dev', 'tap0', 'mode', 'tap'],
      ['-n', ns, 'addr', 'add', '172.16.0.1/30', 'dev', 'tap0'],
      ['-n', ns, 'link', 'set', 'tap0', 'up'],
    ]) {
      const result = spawnSync('ip', args, { encoding: 'utf8' });
      expect(result.status, `ip ${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
  });
  afterAll(() => {
    spawnSync('ip', ['netns', 'del', ns]);
  });

  const ukernelInNs = (args: string[]) =>
    spawnSync('ip', ['netns', 'exec', ns, process.execPath, cliPath, ...args], {
      cwd: project,
      encoding: 'utf8',
      timeout: RUN_MS,
    });

  it('boots with the tap attached, the address on the command line', () => {
    const result = ukernelInNs(['run', '--json', '--net', 'tap:tap0', '--ip', '172.16.0.2/30', '--gateway', '172.16.0.1']);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { network: Record<string, unknown>; run_log: string };
    expect(report.network).toMatchObject({ mode: 'tap', interface: 'tap0', ip: '172.16.0.2/30', mac: '06:00:ac:10:00:02' });
    // Released with the VM: no process holds the tap any more.
    expect(inNs('cat', '/sys/class/net/tap0/carrier').stdout.trim()).toBe('0');
  });

  it.skipIf(!onPath('firecracker'))('Firecracker boots with the tap as network-interfaces', () => {
    const result = ukernelInNs(['run', '--json', '--vmm', 'firecracker', '--net', 'tap:tap0', '--ip', '172.16.0.2/30']);
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { network: Record<string, unknown>; run_log: string };
    expect(report.network).toMatchObject({ mode: 'tap', interface: 'tap0', mac: '06:00:ac:10:00:02' });
    const config = JSON.parse(readFileSync(report.run_log.replace(/\.log$/, '.firecracker.json'), 'utf8'));
    expect(config['network-interfaces']).toEqual([{ iface_id: 'net0', host_dev_name: 'tap0', guest_mac: '06:00:ac:10:00:02' }]);
    expect(config['boot-source'].boot_args).toMatch(/^uk\.wall_ns=[0-9]+ uk\.ip=172\.16\.0\.2\/30/);
  });

  it('a tap another VMM holds → UK136 before anything starts', async () => {
    const holder = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'qemu-system-x86_64',
        '-M',
        'microvm',
        '-nodefaults',
        '-display',
        'none',
        '-S',
        '-netdev',
        'tap,id=n0,ifname=tap0,script=no,downscript=no',
        '-device',
        'virtio-net-device,netdev=n0',
      ],
      { stdio: 'ignore' },
    );
    try {
      await waitFor('the holder to attach tap0', () => inNs('cat', '/sys/class/net/tap0/carrier').stdout.trim() === '1', 20_000);
      const before = runLogs().length;
      const result = ukernelInNs(['run', '--net', 'tap:tap0', '--ip', '172.16.0.2/30']);
      expect(result.status, result.stderr).toBe(2);
      expect(result.stderr).toContain('error UK136: tap:tap0: tap0 is already attached to another process');
      expect(runLogs().length).toBe(before);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('close', r));
    }
  });
});
