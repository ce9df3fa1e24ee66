// Networking end to end under `--net user` (QEMU user networking, no root), on KVM (when
// usable) and TCG: the http template (`ukernel init --template http`) published on a random
// free loopback port — 1,000 keep-alive requests on one connection, 100 concurrent connections,
// 1 MiB bodies both ways checked by CRC-32, clients that abort mid-transfer (the server keeps
// answering and its open-connection count comes back down) — and the net probe
// (tests/workloads/net-probe): the guest as a client of a server this test runs on the host
// (reached at 10.0.2.2), UDP echo through `--publish H:G/udp`, and name resolution against a
// DNS server this test runs (`--dns 10.0.2.2:PORT`), malformed answers included.
import { crc32 } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer, Socket, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, requireBuilt, tempDir } from './helpers.js';
import { startDnsServer, type DnsServer } from '../net/dns-server.js';
import { buildNetProjects, connected, Fnv1a64, freePort, GuestRun, HttpConnection } from '../net/guest.js';

const BUILD_MS = 240_000;
let work: ReturnType<typeof tempDir>;
let probe: { project: string; image: string };
let web: string;

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  ({ probe, web } = await buildNetProjects(work.path, BUILD_MS));
}, 3 * BUILD_MS);
afterAll(() => work?.remove());

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  socketId: number;
}

let socketIds = 0;
const socketIdOf = new WeakMap<object, number>();

/** One HTTP request to 127.0.0.1:port (through `agent`), bounded by `timeoutMs`. */
function fetchReply(
  port: number,
  agent: Agent | false,
  options: { method?: string; path: string; body?: Buffer; timeoutMs?: number },
): Promise<Reply> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port,
      agent,
      method: options.method ?? 'GET',
      path: options.path,
      headers: options.body ? { 'content-length': String(options.body.length) } : {},
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`${options.method ?? 'GET'} ${options.path} got no complete answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('socket', (socket) => {
      if (!socketIdOf.has(socket)) socketIdOf.set(socket, ++socketIds);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolvePromise({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          socketId: socketIdOf.get(req.socket!) ?? 0,
        });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(options.body);
  });
}

/** The net probe run under `accel` with `options` (network flags), then `-- mode…`. */
function probeRun(accel: string, options: string[], mode: string[]): GuestRun {
  return new GuestRun(['run', '--image', probe.image, '--accel', accel, ...options, '--', ...mode], probe.project);
}

function crcHex(data: Buffer): string {
  return crc32(data).toString(16).padStart(8, '0');
}

/** GET /api/info as JSON (a fresh connection, closed after). */
async function info(port: number): Promise<Record<string, number | string>> {
  const reply = await fetchReply(port, false, { path: '/api/info' });
  expect(reply.status).toBe(200);
  return JSON.parse(reply.body.toString());
}

/** Retries `attempt` (every 100 ms) until it returns true, at most `timeoutMs`; fails saying `what`. */
async function eventually(what: string, attempt: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await attempt()) return;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(accels)('--net user (%s)', (accel) => {
  const tcg = accel === 'tcg';
  const slow = tcg ? 4 : 1;

  describe('the http template, published on a random loopback port', () => {
    let guest: GuestRun;
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      guest = new GuestRun(['run', '--accel', accel, '--publish', `127.0.0.1:${port}:80`], web);
      await guest.waitForLine(/listening on http:\/\/0\.0\.0\.0:80\//, 60_000);
      // Published means reachable: the first request may race the forwarding rule's guest side.
      await eventually(
        'GET /healthz → 200',
        async () => (await fetchReply(port, false, { path: '/healthz' })).status === 200,
        30_000,
      );
    }, 120_000);
    afterAll(async () => {
      const exit = await guest?.stop();
      // Stopped by SIGINT: the CLI says 130; anything else means the kernel ended the run itself.
      expect(exit?.code, guest?.explain()).toBe(130);
      expect(guest.stdout).not.toMatch(/exception:|panic|@uk:exit/);
    }, 30_000);

    it(
      `${tcg ? 300 : 1000} keep-alive requests on one connection, all answered on it`,
      async () => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        const count = tcg ? 300 : 1000;
        const paths = ['/', '/healthz', '/api/info', '/bytes?n=100'];
        const sockets = new Set<number>();
        try {
          for (let i = 0; i < count; i++) {
            const path = paths[i % paths.length]!;
            const reply = await fetchReply(port, agent, { path });
            expect(reply.status, `request ${i}: GET ${path}`).toBe(200);
            if (path === '/healthz') expect(reply.body.toString().trim()).toBe('ok');
            if (path === '/bytes?n=100') expect(reply.body.length).toBe(100);
            sockets.add(reply.socketId);
          }
        } finally {
          agent.destroy();
        }
        expect([...sockets].length, 'connections used').toBe(1);
        const after = await info(port);
        expect(Number(after.requests_served)).toBeGreaterThanOrEqual(count);
      },
      120_000 * slow,
    );

    it(
      '100 concurrent connections: all open at once, a request on each at the same moment, all answered',
      async () => {
        // Opened one after another: QEMU's slirp listens on the published port with a backlog of
        // 1 (`ss -ltn` shows Send-Q 1), so a burst of connects overflows the host's accept queue
        // and some hang for a minute before the guest ever sees them. The tap tests open theirs
        // in a burst.
        const connections: HttpConnection[] = [];
        try {
          for (let i = 0; i < 100; i++) {
            const connection = await HttpConnection.open(port, '127.0.0.1', 10_000);
            connections.push(connection);
            expect((await connection.get('/healthz', 20_000 * slow)).status, `connection ${i}`).toBe(200);
          }
          for (const round of [1, 2]) {
            const replies = await Promise.all(connections.map((c, i) => c.get(`/bytes?n=${1000 + i}`, 60_000 * slow)));
            replies.forEach((reply, i) => {
              expect(reply.status, `round ${round} connection ${i}`).toBe(200);
              expect(reply.body.length).toBe(1000 + i);
              expect(reply.headers['x-checksum']).toBe(crcHex(reply.body));
            });
          }
          const during = JSON.parse((await connections[0]!.get('/api/info', 20_000)).body.toString());
          expect(during.connections_open, 'the server holds all 100 at once').toBe(100);
        } finally {
          for (const connection of connections) connection.close();
        }
        await eventually(
          'connections_open back to 1 after the 100 close',
          async () => (await info(port)).connections_open === 1,
          20_000,
        );
      },
      120_000 * slow,
    );

    it(
      '1 MiB bodies both ways, checked by CRC-32 (X-Checksum) and byte for byte',
      async () => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
          for (let i = 0; i < 3; i++) {
            const body = randomBytes(1 << 20);
            const echo = await fetchReply(port, agent, { method: 'POST', path: '/echo', body, timeoutMs: 60_000 * slow });
            expect(echo.status).toBe(200);
            expect(echo.headers['x-checksum']).toBe(crcHex(body));
            expect(echo.body.length).toBe(body.length);
            expect(echo.body.equals(body), 'echoed body equals the one sent').toBe(true);

            const bytes = await fetchReply(port, agent, { path: `/bytes?n=${1 << 20}`, timeoutMs: 60_000 * slow });
            expect(bytes.status).toBe(200);
            expect(bytes.body.length).toBe(1 << 20);
            expect(bytes.headers['x-checksum']).toBe(crcHex(bytes.body));
            const wrong = bytes.body.findIndex((byte, index) => byte !== index % 251);
            expect(wrong, 'first byte off the i % 251 pattern').toBe(-1);
          }
        } finally {
          agent.destroy();
        }
      },
      200_000 * slow,
    );

    it(
      'clients that abort mid-transfer: the server answers the next one and closes their connections',
      async () => {
        const before = await info(port);
        const abort = async (what: string, send: (socket: Socket) => Promise<void>) => {
          const socket = new Socket();
          socket.connect(port, '127.0.0.1');
          await connected(socket, 10_000);
          socket.on('error', () => {});
          await send(socket);
          socket.destroy();
          const reply = await fetchReply(port, false, { path: '/healthz' });
          expect(reply.status, `GET /healthz after ${what}`).toBe(200);
        };
        const firstBytes = (socket: Socket, bytes: number) =>
          new Promise<void>((resolvePromise, reject) => {
            let seen = 0;
            const timer = setTimeout(() => reject(new Error(`no ${bytes} bytes of the response within 30 s`)), 30_000 * slow);
            socket.on('data', (chunk: Buffer) => {
              seen += chunk.length;
              if (seen >= bytes) {
                clearTimeout(timer);
                resolvePromise();
              }
            });
          });
        for (let i = 0; i < 3; i++) {
          await abort('an /echo upload cut at 300 KiB of 1 MiB', async (socket) => {
            socket.write(`POST /echo HTTP/1.1\r\nHost: guest\r\nContent-Length: ${1 << 20}\r\n\r\n`);
            await new Promise<void>((r) => socket.write(randomBytes(300 << 10), () => r()));
          });
          await abort('a 16 MiB /bytes download dropped after 64 KiB', async (socket) => {
            const seen = firstBytes(socket, 64 << 10);
            socket.write(`GET /bytes?n=${16 << 20} HTTP/1.1\r\nHost: guest\r\n\r\n`);
            await seen;
          });
          await abort('an /echo of 1 MiB dropped after 64 KiB of its answer', async (socket) => {
            const seen = firstBytes(socket, 64 << 10);
            socket.write(`POST /echo HTTP/1.1\r\nHost: guest\r\nContent-Length: ${1 << 20}\r\n\r\n`);
            socket.write(randomBytes(1 << 20));
            await seen;
          });
          await abort('half a request head', async (socket) => {
            await new Promise<void>((r) => socket.write('GET /api/info HTTP/1.1\r\nHost: gu', () => r()));
          });
        }
        await eventually(
          'connections_open back to 1 after the aborted clients',
          async () => (await info(port)).connections_open === 1,
          30_000,
        );
        const after = await info(port);
        expect(Number(after.connections_accepted)).toBeGreaterThanOrEqual(Number(before.connections_accepted) + 24);
        // The server is whole: a full-size echo still works.
        const body = randomBytes(1 << 20);
        const echo = await fetchReply(port, false, { method: 'POST', path: '/echo', body, timeoutMs: 60_000 * slow });
        expect(echo.headers['x-checksum']).toBe(crcHex(body));
      },
      240_000 * slow,
    );
  });

  describe('the guest as a client, and UDP', () => {
    it(
      'the guest connects to a server on the host at 10.0.2.2 and exchanges 4 × 256 KiB, checked both ends',
      async () => {
        let received = 0;
        let connections = 0;
        const fnv = new Fnv1a64();
        const server: Server = createServer((socket) => {
          connections += 1;
          socket.on('data', (chunk: Buffer) => {
            received += chunk.length;
            fnv.update(chunk);
            socket.write(chunk);
          });
          socket.on('end', () => socket.end());
          socket.on('error', () => {});
        });
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : 0;
        try {
          const guest = probeRun(accel, ['--net', 'user'], ['client', '10.0.2.2', String(port), '4', '262144']);
          const exit = await guest.finished(120_000 * slow);
          expect(exit.code, guest.explain()).toBe(0);
          const line = /^client: rounds=4 bytes=262144 fnv=(0x[0-9a-f]{16})$/m.exec(guest.stdout);
          expect(line, guest.explain()).not.toBeNull();
          expect(connections).toBe(1);
          expect(received).toBe(4 * 262144);
          // What the host received is what the guest sent: the same FNV-1a over the same bytes.
          expect(fnv.hex()).toBe(line![1]);
        } finally {
          server.close();
        }
      },
      130_000 * slow,
    );

    it(
      'UDP echo through --publish H:7777/udp: datagrams of 1 to 1472 bytes come back intact',
      async () => {
        const hostPort = await freePort('udp');
        const guest = probeRun(accel, ['--publish', `127.0.0.1:${hostPort}:7777/udp`], ['udp-echo', '7777']);
        const socket = createSocket('udp4');
        try {
          await guest.waitForLine(/^udp-echo: ready port=7777$/m, 60_000);
          const replies: Buffer[] = [];
          let waiting: (() => void) | null = null;
          socket.on('message', (message) => {
            replies.push(message);
            waiting?.();
          });
          await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
          /** Sends `payload` until it comes back (UDP may drop one), at most 5 tries of 2 s. */
          const exchange = async (payload: Buffer): Promise<Buffer> => {
            for (let attempt = 0; attempt < 5; attempt++) {
              replies.length = 0;
              const answered = new Promise<void>((r) => {
                waiting = r;
              });
              socket.send(payload, hostPort, '127.0.0.1');
              const timer = new Promise<void>((r) => setTimeout(r, 2000 * slow));
              await Promise.race([answered, timer]);
              const reply = replies.find((r) => r.equals(payload)) ?? replies[0];
              if (reply) return reply;
            }
            throw new Error(`no answer to a ${payload.length}-byte datagram after 5 tries\n${guest.explain()}`);
          };
          const sizes = [1, 2, 64, 100, 512, 1000, 1400, 1472];
          for (let i = 0; i < 40; i++) {
            const payload = randomBytes(sizes[i % sizes.length]!);
            const reply = await exchange(payload);
            expect(reply.equals(payload), `datagram ${i} (${payload.length} bytes) came back equal`).toBe(true);
          }
          // QUIT ends the echo (its BYE may not outlive the VM: the udp-send test checks that).
          socket.send(Buffer.from('QUIT'), hostPort, '127.0.0.1');
          const exit = await guest.finished(30_000);
          expect(exit.code, guest.explain()).toBe(0);
          expect(guest.stdout).toMatch(/^udp-echo: done echoed=\d+$/m);
        } finally {
          socket.close();
          await guest.stop();
        }
      },
      120_000 * slow,
    );

    it(
      'datagrams the guest sends just before it exits still reach the host (at 10.0.2.2)',
      async () => {
        const server = createSocket('udp4');
        const received: string[] = [];
        server.on('message', (message) => received.push(message.toString()));
        await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
        try {
          const guest = probeRun(
            accel,
            ['--net', 'user'],
            ['udp-send', '10.0.2.2', String(server.address().port), 'one', 'two', 'last'],
          );
          const exit = await guest.finished(60_000 * slow);
          expect(exit.code, guest.explain()).toBe(0);
          expect(guest.stdout).toMatch(/^udp-send: sent=3$/m);
          // A datagram still queued (waiting for ARP, say) dies with the VM: the kernel must send
          // what the workload handed it before powering off.
          const deadline = Date.now() + 5_000;
          while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
          expect(received, 'datagrams on the host within 5 s of the exit').toEqual(['one', 'two', 'last']);
        } finally {
          server.close();
        }
      },
      70_000 * slow,
    );

    it('name resolution against a DNS server the test runs (--dns 10.0.2.2:PORT): answers, NXDOMAIN, malformed replies', async () => {
      const dns: DnsServer = await startDnsServer();
      try {
        const names = [
          'svc.ukernel.test',
          'multi.ukernel.test',
          'missing.ukernel.test',
          'truncated.ukernel.test',
          'garbage.ukernel.test',
          'wrong-id.ukernel.test',
          '10.1.2.3',
          'SVC.Ukernel.Test',
        ];
        const guest = probeRun(accel, ['--net', 'user', '--dns', `10.0.2.2:${dns.port}`], ['resolve', ...names]);
        const exit = await guest.finished(150_000);
        expect(exit.code, guest.explain()).toBe(0);
        const result = (name: string) =>
          new RegExp(`^resolve: ${name.replace(/\./g, '\\.')} (ok|error)(.*) ms=\\d+$`, 'm').exec(guest.stdout);
        const addresses = (name: string) => (result(name)?.[2] ?? '').trim().split(' ');
        expect(result('svc.ukernel.test')?.[1], guest.explain()).toBe('ok');
        expect(addresses('svc.ukernel.test')).toEqual(['10.9.8.7:0']);
        expect(result('multi.ukernel.test')?.[1], guest.explain()).toBe('ok');
        for (const address of addresses('multi.ukernel.test')) expect(['10.9.8.1:0', '10.9.8.2:0']).toContain(address);
        expect(result('missing.ukernel.test')?.[0], guest.explain()).toMatch(/ error NotFound /);
        // Malformed answers: an error (not an address from the broken reply, never a crash).
        for (const name of ['truncated.ukernel.test', 'garbage.ukernel.test', 'wrong-id.ukernel.test']) {
          const line = result(name);
          expect(line?.[1], `${name}\n${guest.explain()}`).toBe('error');
        }
        expect(addresses('10.1.2.3'), guest.explain()).toEqual(['10.1.2.3:0']);
        expect(result('SVC.Ukernel.Test')?.[1], guest.explain()).toBe('ok');
        // The guest asked this server (not the host's resolver), and never for the literal.
        const asked = dns.queries.map((q) => q.name);
        expect(asked).toContain('svc.ukernel.test');
        expect(asked).toContain('missing.ukernel.test');
        expect(asked).not.toContain('10.1.2.3');
        expect(guest.stdout).not.toMatch(/exception:|panic/);
      } finally {
        await dns.close();
      }
    }, 160_000);
  });
});
