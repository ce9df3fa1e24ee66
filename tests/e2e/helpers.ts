// Shared helpers for end-to-end tests: they run the real CLI (cli/bin/ukernel.mjs) on the real
// kernel under real QEMU. Every wait is bounded.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { probeKvm } from '../../cli/src/vmm/accel.js';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const cliPath = join(root, 'cli/bin/ukernel.mjs');
export const kernelPath = join(root, 'kernel/zig-out/bin/ukernel.elf');
export const shimPath = join(root, 'tests/fc_shim/zig-out/fc_shim.elf');

/** The CLI's own KVM probe, so the tests pick the accelerators `ukernel run --accel auto` would. */
export function kvmUsable(): boolean {
  return probeKvm().ok;
}

export function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** Accelerators to test: TCG always, KVM when usable (the suite must pass both ways). */
export const accels: Array<'kvm' | 'tcg'> = kvmUsable() ? ['kvm', 'tcg'] : ['tcg'];

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'ukernel-e2e-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs a command to completion, killing it (and failing) past `timeoutMs`. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

export function ukernel(args: string[], cwd: string, timeoutMs?: number): Promise<RunResult> {
  return run(process.execPath, [cliPath, ...args], { cwd, timeoutMs });
}

/** `ukernel ARGS` in `cwd`, which must exit 0 (the failure message carries its output). */
export async function ukernelOk(args: string[], cwd: string, timeoutMs = 180_000): Promise<RunResult> {
  const result = await ukernel(args, cwd, timeoutMs);
  expect(result.code, `ukernel ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

/** A project NAME made by `ukernel init` in `parent`, with `main` as src/main.zig, built and packed. */
export async function initProject(parent: string, name: string, main: string, timeoutMs = 180_000): Promise<string> {
  const project = join(parent, name);
  mkdirSync(project);
  await ukernelOk(['init', '--name', name], project, timeoutMs);
  writeFileSync(join(project, 'src/main.zig'), main);
  await ukernelOk(['build'], project, timeoutMs);
  await ukernelOk(['pack'], project, timeoutMs);
  return project;
}

/** Waits until `predicate` holds, polling every 20 ms, for at most `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Live means: the /proc entry exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** PIDs of every descendant of `pid` (breadth first, bounded). */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  for (let steps = 0; queue.length > 0 && steps < 1000; steps++) {
    const current = queue.shift()!;
    let children: number[] = [];
    try {
      const tasks = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8');
      children = tasks.split(/\s+/).filter(Boolean).map(Number);
    } catch {
      continue;
    }
    queue.push(...children);
    found.push(...children);
  }
  return found;
}

/** PIDs of qemu-system-x86_64 processes that are descendants of `pid`. */
export function qemuDescendants(pid: number): number[] {
  return descendants(pid).filter((child) => {
    try {
      return readFileSync(`/proc/${child}/comm`, 'utf8').trim().startsWith('qemu-system');
    } catch {
      return false; // Gone already.
    }
  });
}

export function spawnUkernel(args: string[], cwd: string): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function requireBuilt(): void {
  if (!existsSync(kernelPath)) throw new Error(`kernel not built: ${kernelPath} (run scripts/build-kernel.sh)`);
  if (!existsSync(join(root, 'cli/dist/cli.js'))) throw new Error('CLI not built (run npm ci)');
}

/** Builds a copy of tests/workloads/NAME in `parent` (bench/lib.mjs, shared with the benchmarks). */
export async function buildProjectCopy(
  name: string,
  parent: string,
  timeoutMs = 180_000,
): Promise<{ project: string; image: string }> {
  const lib = (await import(join(root, 'bench/lib.mjs'))) as {
    buildProjectCopy(root: string, name: string, parent: string, timeoutMs: number): Promise<{ project: string; image: string }>;
  };
  return lib.buildProjectCopy(root, name, parent, timeoutMs);
}
