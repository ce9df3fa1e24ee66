// The examples that serve the network. The http template (examples/http-server) serves its
// routes twice over: built as a Linux process with the SDK's host backend
// (bench/net/build-host.sh: quick, no VM), and as a new user gets it — `ukernel init --template
// http`, build, pack, `ukernel run --publish` on QEMU with user networking on a free loopback
// port. The heavy traffic (1,000 keep-alive requests, 100 connections, 1 MiB bodies, aborts) is
// tests/e2e/net-*.test.ts's. examples/net-worker answers jobs sent over TCP under QEMU.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, requireBuilt, root, run, tempDir, ukernelOk } from './helpers.js';

const BUILD_MS = 180_000;
/** Boot, DHCP and listen under QEMU (TCG included) before the first answer. */
const LISTEN_MS = 60_000;
const REQUEST_MS = 20_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request through `agent` (keep-alive), bounded by REQUEST_MS. */
function fetchRaw(
  port: number,
  agent: Agent,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers, timeout: REQUEST_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${REQUEST_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends `bytes` on a fresh connection and reads until the server closes it (bounded). */
function exchange(port: number, bytes: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${REQUEST_MS} ms; received: ${JSON.stringify(received)}`));
    }, REQUEST_MS);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('error', () => undefined); // A reset still ends in 'close'; the answer is checked.
  });
}

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

/** The pattern GET /bytes?n=N sends: byte i is i % 251. */
function pattern(length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = i % 251;
  return bytes;
}

const hex = (value: number): string => value.toString(16).padStart(8, '0');

/** Every route once, over one keep-alive connection; `name` is the project's name. */
async function checkRoutes(port: number, name: string): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const index = await fetchRaw(port, agent, 'GET', '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.body.toString()).toContain(`<h1>${name}</h1>`);

    const health = await fetchRaw(port, agent, 'GET', '/healthz');
    expect([health.status, health.body.toString(), health.headers.server]).toEqual([200, 'ok', 'ukernel-http']);

    const missing = await fetchRaw(port, agent, 'GET', '/no/such/page');
    expect(missing.status).toBe(404);
    const wrong = await fetchRaw(port, agent, 'DELETE', '/healthz');
    expect([wrong.status, wrong.headers.allow]).toEqual([405, 'GET, HEAD']);
    const head = await fetchRaw(port, agent, 'HEAD', '/bytes?n=1000');
    expect([head.status, head.headers['content-length'], head.body.length]).toEqual([200, '1000', 0]);

    const body = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7 + 3) & 0xff));
    const echo = await fetchRaw(port, agent, 'POST', '/echo', body);
    expect(echo.status).toBe(200);
    expect(echo.body.equals(body)).toBe(true);
    expect(echo.headers['x-checksum']).toBe(hex(crc32(body)));
    const bytes = await fetchRaw(port, agent, 'GET', '/bytes?n=70000');
    expect(bytes.body.equals(pattern(70_000))).toBe(true);
    expect(bytes.headers['x-checksum']).toBe(hex(crc32(pattern(70_000))));

    const info = await fetchRaw(port, agent, 'GET', '/api/info');
    expect([info.status, info.headers['content-type']]).toEqual([200, 'application/json']);
    const json = JSON.parse(info.body.toString()) as Record<string, unknown>;
    expect(json).toMatchObject({ server: 'ukernel-http', abi_version: expect.stringMatching(/^\d+\.\d+\.\d+$/) });
    expect(json.uptime_ns).toBeGreaterThan(0);
    // This request counts; the 404 and 405 did too. All of them came on one connection.
    expect(json.requests_served).toBeGreaterThanOrEqual(8);
    expect(json.connections_open).toBeGreaterThanOrEqual(1);
    expect(json.requests_rejected).toBe(0);
  } finally {
    agent.destroy();
  }
  // Refused requests: answered, then the connection closes.
  expect(await exchange(port, 'garbage\r\n\r\n')).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Connection: close\r\n/);
  const big = `GET / HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(9000)}\r\n\r\n`;
  expect(await exchange(port, big)).toMatch(/^HTTP\/1\.1 431 /);
  expect(await exchange(port, 'GET /healthz HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
}

/** Collects a child's output; resolves when `marker` appears on stdout (bounded). */
function waitForOutput(child: ChildProcess, marker: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(
      () => reject(new Error(`${what}: no ${marker} within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`)),
      timeoutMs,
    );
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (marker.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before ${marker}\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
}

/** Stops a child with `signal` and waits for it (SIGKILL after 20 s); returns its exit code. */
async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await closed;
  clearTimeout(timer);
  return code;
}

/**
 * `ukernel run --publish 127.0.0.1:PORT:GUEST_PORT [-- ARGS]` in `project` on a free loopback
 * PORT: waits for `ready` on the console, runs `use(PORT)`, then stops the VM with Ctrl-C (the
 * CLI exits 130).
 */
async function withPublished(
  project: string,
  guestPort: number,
  args: string[],
  ready: RegExp,
  use: (port: number) => Promise<void>,
): Promise<void> {
  const port = await freePort();
  const argv = [cliPath, 'run', '--publish', `127.0.0.1:${port}:${guestPort}`, ...args];
  const cli = spawn(process.execPath, argv, { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitForOutput(cli, ready, LISTEN_MS, 'ukernel run');
    await use(port);
  } finally {
    expect(await stop(cli, 'SIGINT')).toBe(130);
  }
}

describe('the http server built as a Linux process (sdk/zig/host)', () => {
  let work: ReturnType<typeof tempDir>;
  let server: ChildProcess | undefined;
  let port = 0;

  beforeAll(async () => {
    work = tempDir();
    const binary = join(work.path, 'http-server');
    const build = await run('bash', ['bench/net/build-host.sh', 'examples/http-server/src/main.zig', binary], {
      cwd: root,
      timeoutMs: BUILD_MS,
    });
    expect(build.code, build.stderr).toBe(0);
    port = await freePort();
    server = spawn(binary, [String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForOutput(server, /listening on http:\/\/0\.0\.0\.0:\d+\//, 10_000, 'the host server');
  }, BUILD_MS + 20_000);

  afterAll(async () => {
    if (server) await stop(server, 'SIGTERM');
    work?.remove();
  });

  it('serves every route, keeps the connection alive, and refuses bad requests', async () => {
    await checkRoutes(port, 'PROJECT_NAME'); // The example itself: the name is not filled in.
  });

  it('answers pipelined requests in order, and each refusal with its status and a close', async () => {
    await checkRefusals(port);
  });

  it('survives clients that reset mid-transfer, and frees their connections', async () => {
    await checkAborts(port);
  });
});

/** Pipelining, every refusal (status, then a close) and `Expect: 100-continue`. */
async function checkRefusals(port: number): Promise<void> {
  const health = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  const last = 'GET /bytes?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const pipelined = await exchange(port, health.repeat(50) + last);
  expect(pipelined.match(/HTTP\/1\.1 200 OK\r\n/g)).toHaveLength(51);
  expect(pipelined).toMatch(/\r\nConnection: close\r\n\r\n\x00\x01\x02$/);
  const refusals: Array<[string, RegExp]> = [
    ['POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2097153\r\n\r\n', /^HTTP\/1\.1 413 /],
    ['POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', /^HTTP\/1\.1 501 /],
    ['GET / HTTP/2.0\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 505 /],
    ['GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', /^HTTP\/1\.1 400 /],
    ['GET /bytes?n=99999999999 HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /],
    [`GET / HTTP/1.1\r\nHost: x\r\n${'A: b\r\n'.repeat(101)}\r\n`, /^HTTP\/1\.1 431 /],
  ];
  for (const [request, status] of refusals) {
    const answer = await exchange(port, request);
    expect(answer, request).toMatch(status);
    expect(answer, request).toMatch(/\r\nConnection: close\r\n/);
  }
  // `Expect: 100-continue`: the interim answer comes before the body is sent.
  const interim = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () =>
      socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n'),
    );
    socket.setTimeout(REQUEST_MS, () => socket.destroy(new Error('no interim answer')));
    socket.once('data', (chunk: Buffer) => {
      socket.end('hello');
      resolve(chunk.toString());
    });
    socket.on('error', reject);
  });
  expect(interim).toBe('HTTP/1.1 100 Continue\r\n\r\n');
}

/** Clients that reset mid-download and mid-upload: the server goes on, their slots are freed. */
async function checkAborts(port: number): Promise<void> {
  for (const request of [
    'GET /bytes?n=16000000 HTTP/1.1\r\nHost: x\r\n\r\n',
    `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n${'y'.repeat(100_000)}`,
  ]) {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => socket.write(request));
      socket.setTimeout(REQUEST_MS, () => socket.destroy(new Error('no answer')));
      // The first bytes of the answer (or, for the upload, once it is under way): reset.
      const abort = () => {
        socket.resetAndDestroy();
        resolve();
      };
      if (request.startsWith('GET')) socket.once('data', abort);
      else socket.once('ready', () => setTimeout(abort, 50));
      socket.on('error', reject);
    });
  }
  const agent = new Agent({ keepAlive: false });
  try {
    // Closed connections leave the table within the poll interval.
    const deadline = Date.now() + REQUEST_MS;
    let info: Record<string, number> = {};
    do {
      info = JSON.parse((await fetchRaw(port, agent, 'GET', '/api/info')).body.toString()) as Record<string, number>;
      if (info.connections_open !== 1) await new Promise((r) => setTimeout(r, 100));
    } while (info.connections_open !== 1 && Date.now() < deadline);
    expect(info.connections_open).toBe(1);
    expect(info.connections_aborted).toBeGreaterThanOrEqual(2);
  } finally {
    agent.destroy();
  }
}

describe('ukernel init --template http, run under QEMU with --publish', () => {
  let work: ReturnType<typeof tempDir>;
  let project: string;

  beforeAll(async () => {
    requireBuilt();
    work = tempDir();
    project = join(work.path, 'web');
    mkdirSync(project);
    await ukernelOk(['init', '--name', 'web', '--lang', 'native', '--template', 'http'], project, BUILD_MS);
    await ukernelOk(['build'], project, BUILD_MS);
    await ukernelOk(['pack'], project, BUILD_MS);
  }, 3 * BUILD_MS);

  afterAll(() => work?.remove());

  it(
    'serves its routes on a published loopback port, refuses bad requests, survives resets; Ctrl-C stops it',
    async () => {
      const listening = /web: listening on http:\/\/0\.0\.0\.0:80\//;
      await withPublished(project, 80, [], listening, async (port) => {
        await checkRoutes(port, 'web');
        await checkRefusals(port);
        await checkAborts(port);
      });
      // A span per request, named after its route; log records for the start and each refusal.
      const trace = JSON.parse((await ukernelOk(['trace', '--json'], project)).stdout) as {
        spans: Array<{ name: string; count: number }>;
      };
      const spans = Object.fromEntries(trace.spans.map(({ name, count }) => [name, count]));
      expect(spans).toMatchObject({ 'GET /': 1, 'GET /healthz': 52, 'GET /api/info': expect.any(Number) });
      expect(Object.keys(spans).sort()).toEqual(
        [
          'GET /',
          'GET /api/info',
          'GET /bytes',
          'GET /healthz',
          'POST /echo',
          'method not allowed',
          'not found',
          'rejected',
        ].sort(),
      );
      const logs = (await ukernelOk(['logs', '--json', '--level', 'info'], project)).stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; message?: string; fields?: Record<string, string> })
        .filter((record) => record.type === 'log');
      expect(logs[0]).toMatchObject({ message: 'listening', fields: { port: '80' } });
      const refused = logs.filter((record) => record.message === 'request rejected').map((r) => r.fields?.status);
      expect(refused.sort()).toEqual(['400', '400', '400', '400', '400', '413', '431', '431', '501', '505']);
    },
    LISTEN_MS + 4 * REQUEST_MS,
  );
});

/** 100 jobs, one with no payload and a bad line on one connection, then end of input. */
async function checkJobs(port: number): Promise<void> {
  const payloads = Array.from({ length: 100 }, (_, i) => `payload ${i} ${'x'.repeat(i)}`);
  const input = `${payloads.map((payload, id) => `job ${id} ${payload}`).join('\n')}\nnonsense\njob 1000\n`;
  // The whole input, then end of input: the server answers everything, then closes.
  const output = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.end(input));
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${REQUEST_MS} ms; received: ${received}`));
    }, REQUEST_MS);
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
  const lines = output.trimEnd().split('\n');
  expect(lines).toContain('error - expected: job <id> <payload>');
  const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
  const done = new Map<number, { digest: string; worker: number }>();
  for (const line of lines.filter((l) => l.startsWith('done '))) {
    const [, id, digest, worker] = line.split(' ');
    done.set(Number(id), { digest: digest!, worker: Number(worker) });
  }
  expect(done.size).toBe(payloads.length + 1);
  for (const [id, payload] of payloads.entries()) expect(done.get(id)?.digest, `job ${id}`).toBe(sha(payload));
  expect(done.get(1000)?.digest).toBe(sha('')); // `job 1000` with no payload.
  expect(lines.length).toBe(payloads.length + 2);
  const workers = new Set([...done.values()].map(({ worker }) => worker));
  expect(
    [...workers].every((worker) => worker >= 0 && worker < 4),
    [...workers].join(' '),
  ).toBe(true);
}

describe('examples/net-worker under QEMU with --publish', () => {
  let work: ReturnType<typeof tempDir>;
  let project: string;

  beforeAll(async () => {
    requireBuilt();
    work = tempDir();
    project = join(work.path, 'net-worker');
    cpSync(join(root, 'examples/net-worker'), project, { recursive: true });
    await ukernelOk(['build'], project, BUILD_MS);
    await ukernelOk(['pack'], project, BUILD_MS);
  }, 2 * BUILD_MS);

  afterAll(() => work?.remove());

  it(
    'answers every job with the SHA-256 of its payload from one of its workers, and a bad line with an error',
    async () => {
      const ready = /net-worker: 4 workers, jobs on tcp port 7000/;
      await withPublished(project, 7000, ['--', '7000', '4'], ready, checkJobs);
    },
    LISTEN_MS + 2 * REQUEST_MS,
  );
});
