// The http template (examples/http-server) serves its routes, twice over: built as a Linux
// process with the SDK's host backend (bench/net/build-host.sh: quick, no VM), and as a new user
// gets it — `ukernel init --template http`, build, pack, `ukernel run --publish` on QEMU with
// user networking on a free loopback port. The heavy traffic (1,000 keep-alive requests, 100
// connections, 1 MiB bodies, aborts) is tests/e2e/net-*.test.ts's.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
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
});

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
    'serves /, /healthz, /api/info and a 404 on a published loopback port; Ctrl-C stops it',
    async () => {
      const port = await freePort();
      const cli = spawn(process.execPath, [cliPath, 'run', '--publish', `127.0.0.1:${port}:80`], {
        cwd: project,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        await waitForOutput(cli, /web: listening on http:\/\/0\.0\.0\.0:80\//, LISTEN_MS, 'ukernel run');
        await checkRoutes(port, 'web');
      } finally {
        expect(await stop(cli, 'SIGINT')).toBe(130);
      }
    },
    LISTEN_MS + 4 * REQUEST_MS,
  );
});
