// The publish proxy end to end (cli/src/vmm/publish-proxy.ts) under QEMU user networking: the
// CLI holds the published TCP port itself (backlog 511) while QEMU's slirp listens on an
// internal loopback port with its backlog of 1; a hundred clients connecting at the same moment
// to the http template are all answered within seconds (without the proxy SYNs past slirp's
// queue waited for retransmits, 1 s, 3 s, 7 s…: some for 100 s); and the run's report counts
// what went through (network.proxy), aborts and half-closes included.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probePort } from '../../cli/src/vmm/net-host.js';
import type { ProxyStats } from '../../cli/src/vmm/publish-proxy.js';
import { buildNetProjects, freePort, GuestRun } from '../net/guest.js';
import { qemuDescendants, requireBuilt, tempDir } from './helpers.js';

const BUILD_MS = 240_000;
const LISTEN_MS = 60_000;
/** The bodies POSTed to the probe's /echo at once. */
const BODY_BYTES = Array.from({ length: 20 }, (_, i) => 1_000 + i * 3_000);
let work: ReturnType<typeof tempDir>;
let probe: { project: string; image: string };
let web: string;

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  ({ probe, web } = await buildNetProjects(work.path, BUILD_MS));
}, 3 * BUILD_MS);
afterAll(() => work?.remove());

/** The listening TCP sockets on `port` (any address): backlog (ss's Send-Q) and owner pids. */
function listeners(port: number): Array<{ backlog: number; address: string; pids: number[] }> {
  const ss = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  expect(ss.status, ss.stderr).toBe(0);
  return ss.stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      return {
        backlog: Number(fields[2]),
        address: fields[3]!,
        pids: [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])),
      };
    });
}

/** One request on a fresh connection; the whole answer once the server closes (bounded). */
function exchange(port: number, request: string | Buffer, timeoutMs: number, halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true }, () =>
      halfClose ? socket.end(request) : socket.write(request),
    );
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no whole answer within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString())}`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      socket.end();
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
  });
}

/** The report of the latest run in `project` (logs/runs/….json). */
function latestReport(project: string): { network: { proxy: ProxyStats | null } | null } {
  const dir = join(project, 'logs/runs');
  const reports = readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.endsWith('.firecracker.json'))
    .sort();
  return JSON.parse(readFileSync(join(dir, reports.at(-1)!), 'utf8'));
}

describe('the publish proxy under --net user', () => {
  it(
    'the http template: the CLI holds the port, slirp an internal one; 100 clients at once all get 200 within 10 s',
    async () => {
      const port = await freePort();
      const guest = new GuestRun(['run', '--publish', `127.0.0.1:${port}:80`], web);
      try {
        await guest.waitForLine(/listening on http:\/\/0\.0\.0\.0:80\//, LISTEN_MS);
        // Who listens where: the CLI on the published port (backlog 511), QEMU on the port its
        // argv names (slirp's backlog 1), only on loopback.
        const [qemu] = qemuDescendants(guest.child.pid!);
        const argv = readFileSync(`/proc/${qemu}/cmdline`, 'utf8').split('\0');
        const rule = /hostfwd=tcp:127\.0\.0\.1:(\d+)-:80/.exec(argv[argv.indexOf('-netdev') + 1] ?? '');
        expect(rule, argv.join(' ')).not.toBeNull();
        const internal = Number(rule![1]);
        expect(internal).not.toBe(port);
        expect(listeners(port)).toEqual([{ backlog: 511, address: `127.0.0.1:${port}`, pids: [guest.child.pid] }]);
        expect(listeners(internal)).toEqual([{ backlog: 1, address: `127.0.0.1:${internal}`, pids: [qemu] }]);
        expect(guest.stderr).toContain(`Network: user, 127.0.0.1:${port} → guest :80/tcp, guest address by DHCP`);

        const started = Date.now();
        const request = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
        const answers = await Promise.all(
          Array.from({ length: 100 }, async () => {
            const answer = await exchange(port, request, 10_000);
            return { answer, ms: Date.now() - started };
          }),
        );
        const statuses = answers.map((a) => a.answer.split('\r\n')[0]);
        expect(statuses).toEqual(answers.map(() => 'HTTP/1.1 200 OK'));
        expect(answers.every((a) => a.answer.endsWith('\r\n\r\nok'))).toBe(true);
        const slowest = Math.max(...answers.map((a) => a.ms));
        expect(slowest).toBeLessThan(10_000);
        console.log(`net-proxy: 100 clients at once, the slowest answered after ${slowest} ms`);
      } finally {
        expect((await guest.stop()).code, guest.explain()).toBe(130);
      }
      // Both ports are free again with the VM gone.
      const mapping = { hostIp: '127.0.0.1', hostPort: port, guestPort: 80, protocol: 'tcp' } as const;
      expect(await probePort(mapping)).toBeNull();
      expect(listeners(port)).toEqual([]);
    },
    LISTEN_MS + 60_000,
  );

  it(
    'echo bodies intact, a half-closed request still answered, an abort counted: the report carries network.proxy',
    async () => {
      const port = await freePort();
      const guest = new GuestRun(
        ['run', '--image', probe.image, '--publish', `127.0.0.1:${port}:8000`, '--', 'http', '8000'],
        probe.project,
      );
      try {
        await guest.waitForLine(/http: ready port=8000/, LISTEN_MS);
        const bodies = BODY_BYTES.map((n) => randomBytes(n));
        const echoes = await Promise.all(
          bodies.map((body) =>
            exchange(
              port,
              Buffer.concat([
                Buffer.from(`POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n`),
                body,
              ]),
              20_000,
            ),
          ),
        );
        echoes.forEach((answer, i) => {
          expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
          const body = Buffer.from(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'latin1');
          expect(body.equals(bodies[i]!), `echo ${i}`).toBe(true);
        });
        // The client's FIN travels after its request; the answer still comes back.
        expect(await exchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 20_000, true)).toMatch(
          /^HTTP\/1\.1 200 OK\r\n/,
        );
        // A client that resets mid-request.
        await new Promise<void>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port }, () => {
            socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\npartial');
            setTimeout(() => {
              socket.resetAndDestroy();
              resolve();
            }, 300);
          });
          socket.on('error', reject);
        });
        expect(await exchange(port, 'GET /quit HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 20_000)).toMatch(
          /^HTTP\/1\.1 200/,
        );
        expect((await guest.finished(30_000)).code, guest.explain()).toBe(0);
      } finally {
        await guest.stop();
      }
      // 20 echoes, the half-closed request, the abort, /quit: all through the proxy, every body
      // counted both ways (the headers on top).
      const proxy = latestReport(probe.project).network?.proxy;
      expect(proxy).toMatchObject({ connections: 23, forwarded: 23, refused: 0, client_resets: 1, guest_resets: 0 });
      const bodyTotal = BODY_BYTES.reduce((n, b) => n + b, 0);
      expect(proxy!.bytes_to_guest).toBeGreaterThan(bodyTotal);
      expect(proxy!.bytes_from_guest).toBeGreaterThan(bodyTotal);
    },
    LISTEN_MS + 120_000,
  );
});
