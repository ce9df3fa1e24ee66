// `ukernel build` as a user meets it: it says what it is doing while it does it (plain lines off a
// terminal; never with --json), and an interrupted or killed build leaves no compiler running
// and no temp file behind, so the next build just works. Every wait is bounded.
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, processAlive, requireBuilt, spawnUkernel, tempDir, ukernel, waitFor } from './helpers.js';

const BUILD_MS = 180_000;
let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work.remove());

/** A fresh project: its own Zig caches are empty, so its first build compiles for seconds. */
async function freshProject(name: string): Promise<string> {
  const dir = join(work.path, name);
  mkdirSync(dir);
  const init = await ukernel(['init', '--name', name], dir);
  expect(init.code, init.stderr).toBe(0);
  return dir;
}

/** PIDs of `zig build-exe` processes below `pid` (through setpriv, which execs). */
function zigCompilers(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  for (let steps = 0; queue.length > 0 && steps < 1000; steps++) {
    const current = queue.shift()!;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
    } catch {
      continue;
    }
    for (const child of children) {
      queue.push(child);
      try {
        if (readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').includes('build-exe')) found.push(child);
      } catch {
        // Gone already.
      }
    }
  }
  return found;
}

/** Every file or directory under `dir` whose name says it is temporary, and Zig's temp entries. */
function leftovers(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string, depth: number): void => {
    if (depth > 12) return;
    for (const entry of readdirSync(at)) {
      const path = join(at, entry);
      if (/\.tmp$/.test(entry)) found.push(path);
      if (statSync(path).isDirectory()) walk(path, depth + 1);
    }
  };
  walk(dir, 0);
  for (const tmp of ['build/.zig-cache/tmp', 'build/.zig-cache/global/tmp']) {
    if (existsSync(join(dir, tmp))) found.push(...readdirSync(join(dir, tmp)).map((entry) => join(dir, tmp, entry)));
  }
  return found;
}

/** `ukernel build` in `dir`, stopped once the compiler runs; resolves to its zig pids. */
async function buildUntilCompiling(dir: string): Promise<{ cli: ChildProcess; zigs: number[]; exited: Promise<{ code: number | null; stderr: string }> }> {
  const cli = spawnUkernel(['build'], dir);
  let stderr = '';
  cli.stdout!.resume();
  cli.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => cli.on('close', (code) => resolve({ code, stderr })));
  let zigs: number[] = [];
  await waitFor('zig build-exe to start', () => (zigs = zigCompilers(cli.pid!)).length > 0, 30_000);
  return { cli, zigs, exited };
}

describe('progress', () => {
  it('build, pack and run say what they are doing on stderr; stdout keeps the results; --json shows none', async () => {
    const dir = await freshProject('progress');
    const build = await ukernel(['build'], dir, BUILD_MS);
    expect(build.code, build.stderr).toBe(0);
    expect(build.stdout).toBe('Built workload bundle: build/bundle.tgz\n');
    expect(build.stderr).toBe('Compiling src/main.zig with zig 0.15.2 (ReleaseSafe) …\nWriting bundle build/bundle.tgz …\n');

    const pack = await ukernel(['pack'], dir, BUILD_MS);
    expect(pack.code, pack.stderr).toBe(0);
    expect(pack.stderr).toBe('Packing image dist/progress.img …\n');

    // `run` rebuilds what changed, saying so; with --json it says nothing of the kind.
    const accel = accels[0]!;
    const release = await ukernel(['run', '--release', '--accel', accel], dir, BUILD_MS);
    expect(release.code, release.stderr).toBe(0);
    expect(release.stderr).toMatch(/^Compiling src\/main\.zig with zig 0\.15\.2 \(ReleaseFast\) …$/m);
    expect(release.stderr).toMatch(/^Packing image dist\/progress\.img …$/m);
    appendFileSync(join(dir, 'src/main.zig'), '// changed\n');
    const json = await ukernel(['run', '--accel', accel, '--json'], dir, BUILD_MS);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stderr).toContain('Built workload bundle'); // it did rebuild…
    expect(json.stderr).not.toMatch(/Compiling|Writing bundle|Packing image/); // …silently
    expect(JSON.parse(json.stdout).status).toBe(0);
  }, 2 * BUILD_MS);
});

describe('interrupted builds', () => {
  it('SIGKILL of `ukernel build` mid-compile takes zig with it; the next build succeeds and leaves no temp file', async () => {
    const dir = await freshProject('killed');
    const { cli, zigs, exited } = await buildUntilCompiling(dir);
    cli.kill('SIGKILL');
    await exited;
    await waitFor('zig to die with its parent', () => zigs.every((pid) => !processAlive(pid)), 5_000);

    const again = await ukernel(['build'], dir, BUILD_MS);
    expect(again.code, again.stderr).toBe(0);
    expect(leftovers(dir)).toEqual([]);
  }, BUILD_MS);

  it('SIGINT mid-compile stops zig, removes the temp files and exits 130', async () => {
    const dir = await freshProject('interrupted');
    const { cli, zigs, exited } = await buildUntilCompiling(dir);
    cli.kill('SIGINT');
    const { code, stderr } = await exited;
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('ukernel: interrupted by SIGINT; build stopped');
    expect(zigs.every((pid) => !processAlive(pid))).toBe(true); // gone before the CLI exited
    expect(leftovers(dir)).toEqual([]);
    expect(existsSync(join(dir, 'build/bundle.tgz'))).toBe(false);
  }, BUILD_MS);
});
