// A `ukernel run` left running while a network test talks to the guest: its console is
// collected as it comes, a test waits for a line (bounded), and stopping it is bounded too.
// Also small host-side pieces the network tests share: a free loopback port, an HTTP request on
// an explicit socket, FNV-1a as the probe computes it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer, type Socket } from 'node:net';
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
