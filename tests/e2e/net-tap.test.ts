// The tap path, in a network namespace each test creates (root only: skipped, saying why,
// otherwise): `ukernel run --net tap:tap0 --ip … --gateway …` runs inside the namespace
// (`ip netns exec NS node cli/bin/ukernel.mjs run …`), and clients run there too, so no test
// traffic leaves it. On QEMU (KVM when usable, and TCG) and on Firecracker when `firecracker`
// is on PATH (skipped, saying so, otherwise):
//   - the http template answers curl from the namespace (pages, JSON, a 1 MiB download checked
//     by CRC-32), and the run stops cleanly;
//   - hostile network input: tests/net/inject.py writes malformed, truncated, oversized,
//     checksum-broken and fragmented frames, ARP garbage and a bounded SYN flood onto the tap
//     while the net probe's HTTP server serves. The server answers during and after; the
//     probe's memory report (sockets, UDP PCBs, heap) comes back to its value before; the
//     kernel never crashes (no exception, the run ends with status 0 when asked to quit).
// Namespaces carry unique names and are removed in afterAll (and by the next run if a test
// process died): a failed test leaves none behind.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { accels, kvmUsable, onPath, requireBuilt, root, run, tempDir } from './helpers.js';
import { createNetns, netnsExists, tapUnavailable, type Netns } from '../net/netns.js';
import { buildNetProjects, GuestRun } from '../net/guest.js';

const BUILD_MS = 240_000;
const unavailable = tapUnavailable();
const firecrackerSkip = !onPath('firecracker')
  ? 'firecracker not on PATH: the tap tests run on QEMU only'
  : !kvmUsable()
    ? '/dev/kvm not usable: Firecracker needs KVM'
    : null;

let work: ReturnType<typeof tempDir>;
let probe: { project: string; image: string };
let web: string;
const namespaces: Netns[] = [];

beforeAll(async () => {
  if (unavailable) return;
  requireBuilt();
  work = tempDir();
  ({ probe, web } = await buildNetProjects(work.path, BUILD_MS));
}, 3 * BUILD_MS);
afterAll(() => {
  for (const netns of namespaces) netns.remove();
  work?.remove();
});

/** A fresh namespace for one test; removed after it (and checked gone). */
function namespace(options: { mtu?: number } = {}): Netns {
  const netns = createNetns(options);
  namespaces.push(netns);
  return netns;
}
afterEach(() => {
  for (const netns of namespaces.splice(0)) {
    netns.remove();
    expect(netnsExists(netns.name), `namespace ${netns.name} removed`).toBe(false);
  }
});

/** curl inside the namespace (bounded by --max-time and a process timeout): status, body file. */
async function curl(netns: Netns, url: string, output = '/dev/stdout', maxTimeS = 10) {
  const result = await run(
    'ip',
    [
      'netns',
      'exec',
      netns.name,
      'curl',
      '-sS',
      '--max-time',
      String(maxTimeS),
      '-o',
      output,
      '-w',
      '\n%header{x-checksum} %{http_code}',
      url,
    ],
    { cwd: root, timeoutMs: (maxTimeS + 5) * 1000 },
  );
  const lines = result.stdout.trimEnd().split('\n');
  const [checksum, status] = (lines.at(-1) ?? '').split(' ');
  return { ok: result.code === 0, status: Number(status), checksum, body: lines.slice(0, -1).join('\n'), stderr: result.stderr };
}

interface Target {
  label: string;
  vmm: 'qemu' | 'firecracker';
  accel?: 'kvm' | 'tcg';
  skip: string | null;
}
const targets: Target[] = [
  ...accels.map((accel): Target => ({ label: `qemu/${accel}`, vmm: 'qemu', accel, skip: null })),
  { label: 'firecracker', vmm: 'firecracker', skip: firecrackerSkip },
];

function runArgs(target: Target, netns: Netns): string[] {
  return [
    'run',
    '--vmm',
    target.vmm,
    ...(target.accel ? ['--accel', target.accel] : []),
    '--net',
    `tap:${netns.tap}`,
    '--ip',
    `${netns.guestIp}/${netns.prefixLength}`,
    '--gateway',
    netns.hostIp,
  ];
}

describe.each(targets)('--net tap in a network namespace ($label)', (target) => {
  const slow = target.accel === 'tcg' ? 4 : 1;
  const skipWhy = unavailable ?? target.skip;

  it(
    'the http template answers curl from the namespace; the run stops cleanly',
    async (context) => {
      if (skipWhy) context.skip(skipWhy);
      const netns = namespace();
      const guest = new GuestRun([...runArgs(target, netns)], web, netns.wrap([]));
      try {
        await guest.waitForLine(/listening on http:\/\/0\.0\.0\.0:80\//, 60_000);
        const base = `http://${netns.guestIp}`;
        const health = await curl(netns, `${base}/healthz`);
        expect(health.status, `${health.stderr}\n${guest.explain()}`).toBe(200);
        expect(health.body.trim()).toBe('ok');
        const page = await curl(netns, `${base}/`);
        expect(page.status).toBe(200);
        const infoReply = await curl(netns, `${base}/api/info`);
        expect(JSON.parse(infoReply.body)).toMatchObject({ server: 'ukernel-http' });
        const file = join(work.path, `bytes-${netns.name}`);
        const download = await curl(netns, `${base}/bytes?n=${1 << 20}`, file, 60 * slow);
        expect(download.status, download.stderr).toBe(200);
        const body = readFileSync(file);
        expect(body.length).toBe(1 << 20);
        expect(body.findIndex((byte, index) => byte !== index % 251)).toBe(-1);
        expect(download.checksum).toBe(crc32(body).toString(16).padStart(8, '0'));
      } finally {
        const exit = await guest.stop();
        expect(exit.code, guest.explain()).toBe(130);
      }
      expect(guest.stdout).not.toMatch(/exception:|panic/);
    },
    180_000 * slow,
  );

  it(
    'hostile network input: the server answers during and after, its memory report comes back, the kernel never crashes',
    async (context) => {
      if (skipWhy) context.skip(skipWhy);
      // MTU 9000 on the host side, so jumbo frames can be written onto the tap at all.
      const netns = namespace({ mtu: 9000 });
      const guest = new GuestRun(
        [...runArgs(target, netns), '--image', probe.image, '--', 'http', '80'],
        probe.project,
        netns.wrap([]),
      );
      const base = `http://${netns.guestIp}`;
      const memory = async () => {
        const reply = await curl(netns, `${base}/memory`, '/dev/stdout', 30 * slow);
        expect(reply.status, `GET /memory: ${reply.stderr}\n${guest.explain()}`).toBe(200);
        return JSON.parse(reply.body) as { sockets_free: number; udp_free: number; heap_free_mib: number; held: number };
      };
      try {
        await guest.waitForLine(/^http: ready port=80$/m, 60_000);
        const first = await curl(netns, `${base}/`);
        expect(first.status, `${first.stderr}\n${guest.explain()}`).toBe(200);
        const before = await memory();
        expect(before.sockets_free, 'the probe can open sockets').toBeGreaterThan(0);

        const injector = run(
          'ip',
          [
            'netns',
            'exec',
            netns.name,
            'python3',
            join(root, 'tests/net/inject.py'),
            '--iface',
            netns.tap,
            '--host-ip',
            netns.hostIp,
            '--guest-ip',
            netns.guestIp,
            '--port',
            '80',
            '--rounds',
            '3',
            '--syn-flood',
            '5000',
            '--rate',
            '2000',
          ],
          { cwd: root, timeoutMs: 120_000 * slow },
        );
        let injectorDone = false;
        void injector.then(
          () => (injectorDone = true),
          () => (injectorDone = true),
        );
        // While the injector writes: requests go on, one at a time.
        let during = 0;
        let duringOk = 0;
        while (!injectorDone && during < 10_000) {
          during += 1;
          if ((await curl(netns, `${base}/`, '/dev/stdout', 10 * slow)).status === 200) duringOk += 1;
        }
        const injected = await injector;
        expect(injected.code, `inject.py: ${injected.stderr}`).toBe(0);
        const report = JSON.parse(injected.stdout) as {
          sent: Record<string, number>;
          refused: Record<string, number>;
          control_before: boolean;
          control_after: boolean;
          seed: number;
        };
        const summary = `inject.py seed ${report.seed}: ${JSON.stringify(report)}`;
        // The frames reached the guest (it answered the echo before them) and it still answers ICMP.
        expect(report.control_before, summary).toBe(true);
        expect(report.control_after, summary).toBe(true);
        expect(report.sent['syn-flood'], summary).toBe(5000);
        for (const category of [
          'runt',
          'truncated',
          'oversized',
          'checksum',
          'ip-header',
          'fragments',
          'tcp',
          'udp',
          'arp',
          'ethertype',
        ]) {
          expect(report.sent[category] ?? 0, `${category} frames sent; ${summary}`).toBeGreaterThan(0);
        }
        expect(duringOk, `requests answered while injecting (${duringOk}/${during}); ${summary}`).toBeGreaterThan(0);

        // After: every request is answered.
        for (let i = 0; i < 20; i++) {
          const reply = await curl(netns, `${base}/`, '/dev/stdout', 10 * slow);
          expect(reply.status, `request ${i} after the injection: ${reply.stderr}\n${guest.explain()}`).toBe(200);
        }
        // Nothing leaked: the counters come back to their values before (half-open connections
        // from the flood time out in the kernel first, hence the wait).
        const deadline = Date.now() + 90_000;
        let after = await memory();
        while (
          (after.sockets_free + after.held !== before.sockets_free + before.held ||
            after.udp_free !== before.udp_free ||
            after.heap_free_mib !== before.heap_free_mib) &&
          Date.now() < deadline
        ) {
          await new Promise((r) => setTimeout(r, 1000));
          after = await memory();
        }
        const counts = (m: typeof before) => [m.sockets_free + m.held, m.udp_free, m.heap_free_mib];
        expect(
          counts(after),
          `[sockets, udp, heap MiB] after vs before: ${JSON.stringify(after)} ${JSON.stringify(before)}`,
        ).toEqual(counts(before));

        // The run ends cleanly when asked: status 0, no exception.
        const quit = await curl(netns, `${base}/quit`);
        expect(quit.status).toBe(200);
        const exit = await guest.finished(30_000);
        expect(exit.code, guest.explain()).toBe(0);
        expect(guest.stdout).not.toMatch(/exception:|panic|stack overflow/);
        expect(guest.stderr).toMatch(/status 0/);
      } finally {
        await guest.stop();
      }
    },
    400_000 * slow,
  );
});

describe('tap tests: skipped', () => {
  it('says why when the tap tests cannot run here', (context) => {
    if (!unavailable) context.skip('tap tests run here');
    expect(unavailable).toMatch(/root|ip|tun/);
  });
});

// The namespace fixture cleans up after itself even when nothing else ran.
describe('namespace fixture', () => {
  it('creates a namespace with an addressed tap and removes it', (context) => {
    if (unavailable) context.skip(unavailable);
    const netns = createNetns();
    try {
      const links = spawnSync('ip', ['-n', netns.name, 'addr', 'show', 'dev', netns.tap], { encoding: 'utf8' }).stdout;
      expect(links).toContain(`${netns.hostIp}/${netns.prefixLength}`);
      expect(links).toMatch(/tap0: <[^>]*UP/);
    } finally {
      netns.remove();
    }
    expect(netnsExists(netns.name)).toBe(false);
  });
});
