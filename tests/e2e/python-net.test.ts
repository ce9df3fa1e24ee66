// asyncio streams over the kernel's sockets (net.*) in the Python adapter (issue 10, Deliver 3):
// tests/workloads/python-net (src/main.py says what each mode does) under QEMU, as a user runs it.
//
// - loopback: asyncio.start_server and open_connection inside one guest, by IP, by "localhost"
//   and on every address (host None), many clients at once, 1 MiB each way; loop.getaddrinfo and
//   getnameinfo; and no thread ever started (asyncio's default resolves names in a thread the
//   kernel cannot give: the adapter resolves them in place, adapters/python/main.c, over the
//   POSIX layer's getaddrinfo on net.resolve, adapters/posix/src/netdb.zig).
// - published: an HTTP/1.1 server and an echo server in the guest answer the host through
//   `ukernel run -p` (Node's fetch and a TCP socket).
// - connects out: the guest sends a datagram to a UDP server this test runs on the host
//   (10.0.2.2 under user networking) first thing, while the network may still be coming up,
//   then reaches a TCP server there by address and by a DNS name the test's DNS server
//   (tests/net/dns-server.ts, `--dns 10.0.2.2:PORT`) answers (also through
//   socket.gethostbyname_ex); a name that does not exist is socket.gaierror EAI_NONAME.
// Every mode ends with asyncio.run() returning and exit status 0.
//
// Runs under QEMU with each accelerator the host has (KVM and TCG here), and the loopback mode
// under Firecracker too when `firecracker` is on PATH (skipped, saying so, otherwise). Skipped,
// saying so, until the adapter's build (adapters/python/build.sh, link.sh) is in the checkout.
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer } from '../net/dns-server.js';
import { accels, buildProjectCopy, cliPath, kvmUsable, onPath, requireBuilt, root, tempDir, ukernel } from './helpers.js';

/** The first build of a Python project may build the CPython runtime (minutes; cached after). */
const BUILD_MS = 3_600_000;
const RUN_MS = 180_000;
/** From `ukernel run` to the guest's "serving" line: a boot, DHCP and CPython's start. */
const LISTEN_MS = 60_000;
const REQUEST_MS = 15_000;

const chain = existsSync(join(root, 'adapters/python/build.sh')) && existsSync(join(root, 'adapters/python/link.sh'));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until `child`'s stdout matches `pattern`; rejects on exit or after `timeoutMs`. */
function waitForOutput(child: ChildProcess, output: { text: string }, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output.text}`)), timeoutMs);
    const onData = () => {
      if (pattern.test(output.text)) done();
    };
    const onExit = (code: number | null) => done(new Error(`ukernel run exited (${code}) before ${pattern}:\n${output.text}`));
    function done(error?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    onData();
  });
}

/** The exit status of `child`, or a rejection after `timeoutMs` (the child is then killed). */
function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      reject(new Error(`ukernel run did not end within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** One line to a TCP server and its one-line answer. */
function tcpLine(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(line));
    socket.setTimeout(REQUEST_MS, () => socket.destroy(new Error(`no answer from 127.0.0.1:${port}`)));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.endsWith('\n')) {
        socket.end();
        resolve(received);
      }
    });
    socket.on('error', reject);
  });
}

function checks(stdout: string): { failed: string[]; passed: string[] } {
  const lines = stdout.split('\n').filter((line) => line.startsWith('check: '));
  return {
    failed: lines.filter((line) => !/^check: \S+ ok\b/.test(line)),
    passed: lines.filter((line) => /^check: \S+ ok\b/.test(line)).map((line) => line.split(' ')[1]!),
  };
}

/** `ukernel run -- loopback` (no network device: sockets over the kernel's loopback). */
async function loopback(project: string, vmmArgs: string[]): Promise<void> {
  const result = await ukernel(['run', ...vmmArgs, '--', 'loopback'], project, RUN_MS);
  const output = result.stdout + result.stderr;
  expect(checks(result.stdout).failed, output).toEqual([]);
  expect(checks(result.stdout).passed).toEqual([
    'listen-ip',
    'echo-ip',
    'echo-localhost',
    'listen-localhost',
    'listen-any',
    'getaddrinfo',
    'getnameinfo',
    'no-dns-server',
    'concurrent',
    'large',
    'refused',
    'no-thread',
  ]);
  expect(output).not.toContain("can't start new thread");
  expect(result.stdout).toMatch(/^python-net loopback: ok$/m);
  expect(result.code, output).toBe(0);
}

describe.skipIf(!chain).each(accels)('asyncio streams over net.* in the Python adapter (qemu/%s)', (accel) => {
  let work: ReturnType<typeof tempDir>;
  let project: string;

  beforeAll(async () => {
    requireBuilt();
    work = tempDir();
    project = (await buildProjectCopy('python-net', work.path, BUILD_MS)).project;
  }, BUILD_MS);

  afterAll(() => work?.remove());

  it(
    'loopback: start_server and open_connection by IP, by "localhost" and on every address; name lookups without a thread',
    () => loopback(project, ['--accel', accel]),
    RUN_MS,
  );

  it(
    "published: the guest's HTTP/1.1 and echo servers answer the host through --net user -p",
    async () => {
      const httpPort = await freePort();
      const echoPort = await freePort();
      const args = ['run', '--accel', accel, '-p', `${httpPort}:80`, '-p', `${echoPort}:7`, '--', 'serve'];
      const cli = spawn(process.execPath, [cliPath, ...args], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
      const output = { text: '' };
      cli.stdout!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
      cli.stderr!.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
      try {
        await waitForOutput(cli, output, /^serving http on :80, echo on :7$/m, LISTEN_MS);
        const base = `http://127.0.0.1:${httpPort}`;
        const hello = await fetch(`${base}/hello`, { signal: AbortSignal.timeout(REQUEST_MS) });
        expect(hello.status).toBe(200);
        expect(await hello.text()).toBe('hello from asyncio in the guest\n');
        const body = 'x'.repeat(100_000);
        const echoed = await fetch(`${base}/echo`, { method: 'POST', body, signal: AbortSignal.timeout(REQUEST_MS) });
        expect(echoed.status).toBe(200);
        expect(await echoed.text()).toBe(body);
        // Several clients at once (keep-alive connections the guest serves concurrently).
        const many = await Promise.all(
          Array.from({ length: 8 }, async (_, index) => {
            const answer = await fetch(`${base}/echo`, {
              method: 'POST',
              body: `client ${index}`,
              signal: AbortSignal.timeout(REQUEST_MS),
            });
            return answer.text();
          }),
        );
        expect(many).toEqual(Array.from({ length: 8 }, (_, index) => `client ${index}`));
        const missing = await fetch(`${base}/nowhere`, { signal: AbortSignal.timeout(REQUEST_MS) });
        expect(missing.status).toBe(404);
        await missing.text();
        expect(await tcpLine(echoPort, 'echo me\n')).toBe('ECHO ME\n');
        const quit = await fetch(`${base}/quit`, { signal: AbortSignal.timeout(REQUEST_MS) });
        expect(await quit.text()).toBe('bye\n');
        expect(await exitOf(cli, RUN_MS), output.text).toBe(0);
      } finally {
        if (cli.exitCode === null) cli.kill('SIGINT');
      }
      expect(output.text).toMatch(/^served 12 requests$/m);
      expect(output.text).toMatch(/^check: no-thread ok/m);
      expect(output.text).toMatch(/^python-net serve: ok$/m);
    },
    RUN_MS,
  );

  it(
    'connects out: the guest reaches UDP and TCP servers on the host at 10.0.2.2, and by a DNS name',
    async () => {
      const server: Server = createServer((socket) => {
        let pending = '';
        socket.on('data', (chunk: Buffer) => {
          pending += chunk.toString();
          for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
            socket.write(`HOST: ${pending.slice(0, newline + 1).toUpperCase()}`);
            pending = pending.slice(newline + 1);
          }
        });
        socket.on('end', () => socket.end());
        socket.on('error', () => undefined);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      // A UDP server answering each datagram in upper case.
      const udp = createSocket('udp4');
      udp.on('message', (message, from) => udp.send(message.toString().toUpperCase(), from.port, from.address));
      await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
      const udpPort = udp.address().port;
      const dns = await startDnsServer();
      try {
        const result = await ukernel(
          [
            'run',
            '--accel',
            accel,
            '--net',
            'user',
            '--dns',
            `10.0.2.2:${dns.port}`,
            '--',
            'client',
            '10.0.2.2',
            String(port),
            'host.ukernel.test',
            'missing.ukernel.test',
            String(udpPort),
          ],
          project,
          RUN_MS,
        );
        const output = result.stdout + result.stderr;
        expect(checks(result.stdout).failed, output).toEqual([]);
        expect(checks(result.stdout).passed).toEqual([
          'datagram',
          'connect-ip',
          'peer',
          'resolve',
          'connect-name',
          'gethostbyname_ex',
          'missing-name',
          'no-thread',
        ]);
        expect(result.stdout).toMatch(/^python-net client: ok$/m);
        expect(result.code, output).toBe(0);
        // The names went to the test's DNS server (through the kernel's resolver).
        const asked = dns.queries.map((query) => query.name);
        expect(asked).toContain('host.ukernel.test');
        expect(asked).toContain('missing.ukernel.test');
      } finally {
        await dns.close();
        server.close();
        udp.close();
      }
    },
    RUN_MS,
  );
});

// Under Firecracker (KVM, tap networking only: `--net user` is QEMU's), the loopback mode.
describe.skipIf(!chain)('asyncio streams over net.* in the Python adapter (firecracker)', () => {
  it(
    'loopback: the same checks as under QEMU',
    async (context) => {
      if (!onPath('firecracker') || !kvmUsable()) return context.skip('firecracker not on PATH or /dev/kvm not usable');
      requireBuilt();
      const work = tempDir();
      try {
        const { project } = await buildProjectCopy('python-net', work.path, BUILD_MS);
        await loopback(project, ['--vmm', 'firecracker']);
      } finally {
        work.remove();
      }
    },
    BUILD_MS,
  );
});
