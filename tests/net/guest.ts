// A `ukernel run` left running while a network test talks to the guest: its console is
// collected as it comes, a test waits for a line (bounded), and stopping it is bounded too.
// Also small host-side pieces the network tests share: a free loopback port, an HTTP request on
// an explicit socket, FNV-1a as the probe computes it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer, Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildProjectCopy, cliPath, ukernelOk } from '../e2e/helpers.js';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class GuestRun {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  private readonly exited: Promise<Exit>;
  private readonly label: string;

  /** Spawns `[prefix…] node ukernel.mjs ARGS` in `cwd` (prefix: `ip netns exec NS`, say). */
  constructor(args: string[], cwd: string, prefix: string[] = []) {
    const argv = [...prefix, process.execPath, cliPath, ...args];
    this.label = `ukernel ${args.join(' ')}`;
    this.child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolvePromise) => {
      this.child.on('close', (code, signal) => {
        this.exit = { code, signal };
        resolvePromise(this.exit);
      });
      this.child.on('error', (error) => {
        this.stderr += `\nspawn failed: ${error.message}`;
        this.exit = { code: null, signal: null };
        resolvePromise(this.exit);
      });
    });
  }

  /** The console and stderr, ends first, for failure messages. */
  explain(): string {
    const tail = (text: string, lines: number) => text.trimEnd().split('\n').slice(-lines).join('\n');
    return `${this.label}: ${this.exit ? `exited ${this.exit.code ?? this.exit.signal}` : 'running'}\n--- console (end):\n${tail(this.stdout, 40)}\n--- stderr (end):\n${tail(this.stderr, 15)}`;
  }

  /** The first match of `pattern` in the console, waiting at most `timeoutMs` (fails early if the run ends). */
  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.stdout);
      if (match) return match;
      if (this.exit) throw new Error(`the run ended before printing ${pattern}\n${this.explain()}`);
      if (Date.now() > deadline) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms\n${this.explain()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the run to end by itself, at most `timeoutMs` (then kills it and fails). */
  async finished(timeoutMs: number): Promise<Exit> {
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const result = await Promise.race([this.exited, timer]);
    if (result !== 'timeout') return result;
    this.child.kill('SIGKILL');
    throw new Error(`did not end within ${timeoutMs} ms\n${this.explain()}`);
  }

  /** Stops the run with SIGINT (the CLI stops the VM, exit 130), SIGKILL past `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGINT');
    try {
      return await this.finished(timeoutMs);
    } catch {
      return this.exit ?? { code: null, signal: 'SIGKILL' };
    }
  }
}

/** A port that was free on 127.0.0.1 a moment ago (the kernel's pick for port 0). */
export function freePort(kind: 'tcp' | 'udp' = 'tcp'): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    if (kind === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => {
        const { port } = socket.address();
        socket.close(() => resolvePromise(port));
      });
      return;
    }
    const server = createNetServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePromise(port));
    });
  });
}

/** FNV-1a 64 (the probe's `fnv=`), fed chunk by chunk; 32-bit halves, as BigInt per byte is slow. */
export class Fnv1a64 {
  private hi = 0xcbf29ce4;
  private lo = 0x84222325;

  update(chunk: Uint8Array): void {
    let { hi, lo } = this;
    for (const byte of chunk) {
      lo = (lo ^ byte) >>> 0;
      // h * (2^40 + 0x1b3): lo * 0x1b3 is below 2^41, exact in a double; its carry goes to hi.
      const low = lo * 0x1b3;
      hi = (Math.imul(hi, 0x1b3) + ((lo << 8) >>> 0) + Math.floor(low / 0x1_0000_0000)) >>> 0;
      lo = low >>> 0;
    }
    this.hi = hi;
    this.lo = lo;
  }

  hex(): string {
    return `0x${this.hi.toString(16).padStart(8, '0')}${this.lo.toString(16).padStart(8, '0')}`;
  }
}

/** Resolves when `socket` is connected; rejects on error or after `timeoutMs`. */
export function connected(socket: Socket, timeoutMs: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect did not complete within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolvePromise();
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * The two workloads the network tests run, built and packed in `parent`: a copy of the net probe
 * (tests/workloads/net-probe) and a project made by `ukernel init --template http` (`web`).
 */
export async function buildNetProjects(
  parent: string,
  timeoutMs: number,
): Promise<{ probe: { project: string; image: string }; web: string }> {
  const probe = await buildProjectCopy('net-probe', parent, timeoutMs);
  const web = join(parent, 'web');
  mkdirSync(web);
  await ukernelOk(['init', '--name', 'web', '--lang', 'native', '--template', 'http'], web, timeoutMs);
  await ukernelOk(['build'], web, timeoutMs);
  await ukernelOk(['pack'], web, timeoutMs);
  return { probe, web };
}

export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * One keep-alive HTTP/1.1 connection on a plain socket: requests go out when asked, and each
 * answer (Content-Length bodies only) is read whole. Lets a test hold many connections open on
 * purpose and put requests on them all at once.
 */
export class HttpConnection {
  readonly socket: Socket;
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
    socket.on('error', () => {});
  }

  static async open(port: number, host: string, timeoutMs: number): Promise<HttpConnection> {
    const socket = new Socket();
    socket.connect(port, host);
    await connected(socket, timeoutMs);
    return new HttpConnection(socket);
  }

  /** Sends `GET path` and reads its answer, at most `timeoutMs`. */
  async get(path: string, timeoutMs: number): Promise<RawReply> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: guest\r\n\r\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.take();
      if (reply) return reply;
      if (this.closed) throw new Error(`GET ${path}: the connection closed before a whole answer`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`GET ${path}: no whole answer within ${timeoutMs} ms`);
      await new Promise<void>((resolvePromise) => {
        const timer = setTimeout(resolvePromise, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolvePromise();
        };
      });
      this.waiting = null;
    }
  }

  /** A whole answer from the front of the buffer, or null if not all of it is here yet. */
  private take(): RawReply | null {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (this.buffer.length < end + 4 + length) return null;
    const body = Buffer.from(this.buffer.subarray(end + 4, end + 4 + length));
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status: Number(lines[0]?.split(' ')[1]), headers, body };
  }

  close(): void {
    this.socket.destroy();
  }
}
