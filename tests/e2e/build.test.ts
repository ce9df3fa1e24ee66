// `ukernel build` as a user meets it: it says what it is doing while it does it (plain lines off a
// terminal; never with --json), and an interrupted or killed build leaves no compiler running
// and no temp file behind, so the next build just works. Every wait is bounded.
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, descendants, processAlive, requireBuilt, spawnUkernel, tempDir, ukernel, waitFor } from './helpers.js';

const BUILD_MS = 180_000;
let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work.remove());

/** A fresh project (its own, empty Zig caches). */
async function freshProject(name: string): Promise<string> {
  const dir = join(work.path, name);
  mkdirSync(dir);
  const init = await ukernel(['init', '--name', name], dir);
  expect(init.code, init.stderr).toBe(0);
  return dir;
}

/**
 * Make the workload take about a minute to compile (a long comptime loop), so that a compiler
 * that outlives a killed CLI is still there to be seen; returns the undo.
 */
function slowCompile(dir: string): () => void {
  const main = join(dir, 'src/main.zig');
  const source = readFileSync(main, 'utf8');
  writeFileSync(
    main,
    `${source}\ncomptime {\n    @setEvalBranchQuota(1_000_000_000);\n    var i: u64 = 0;\n    while (i < 20_000_000) : (i += 1) {}\n}\n`,
  );
  return () => writeFileSync(main, source);
}

/** PIDs of `zig build-exe` processes below `pid` (through setpriv, which execs). */
function zigCompilers(pid: number): number[] {
  return descendants(pid).filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').includes('build-exe');
    } catch {
      return false; // Gone already.
    }
  });
}

/** Every file or directory under `dir` named *.tmp, and (with `zig`) Zig's temp entries. */
function leftovers(dir: string, zig = true): string[] {
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
  for (const tmp of zig ? ['build/.zig-cache/tmp', 'build/.zig-cache/global/tmp'] : []) {
    if (existsSync(join(dir, tmp))) found.push(...readdirSync(join(dir, tmp)).map((entry) => join(dir, tmp, entry)));
  }
  return found;
}

interface Building {
  cli: ChildProcess;
  zigs: number[];
  /** The CLI's exit (not the close of its pipes, which a surviving zig would hold open). */
  exited: Promise<number | null>;
  /** Its stderr once the pipes closed, or what came within `ms`. */
  stderr(ms: number): Promise<string>;
}

/** `ukernel build` (or `args`) in `dir`, once its compiler runs. */
async function buildUntilCompiling(dir: string, args = ['build']): Promise<Building> {
  const cli = spawnUkernel(args, dir);
  let stderr = '';
  cli.stdout!.resume();
  cli.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
  const closed = new Promise<void>((resolve) => cli.on('close', () => resolve()));
  const stderrWithin = async (ms: number): Promise<string> => {
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, ms))]);
    return stderr;
  };
  let zigs: number[] = [];
  await waitFor(
    'zig build-exe to start',
    () => {
      zigs = zigCompilers(cli.pid!);
      return zigs.length > 0;
    },
    30_000,
  );
  return { cli, zigs, exited, stderr: stderrWithin };
}

describe('progress', () => {
  it(
    'build, pack and run say what they are doing on stderr; stdout keeps the results; --json shows none',
    async () => {
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
    },
    2 * BUILD_MS,
  );
});

describe('interrupted builds', () => {
  it(
    'SIGKILL of `ukernel build` mid-compile takes zig with it; the next build succeeds and leaves no temp file',
    async () => {
      const dir = await freshProject('killed');
      const fast = slowCompile(dir);
      const { cli, zigs, exited } = await buildUntilCompiling(dir);
      cli.kill('SIGKILL');
      await exited;
      await waitFor('zig to die with its parent', () => zigs.every((pid) => !processAlive(pid)), 5_000);
      fast();

      const again = await ukernel(['build'], dir, BUILD_MS);
      expect(again.code, again.stderr).toBe(0);
      // Ours are gone; Zig's own temp entries of the killed compile stay until they are stale.
      expect(leftovers(dir, false)).toEqual([]);
    },
    BUILD_MS,
  );

  it(
    'SIGKILL of `ukernel run` while it rebuilds takes zig with it',
    async () => {
      const dir = await freshProject('run-killed');
      slowCompile(dir);
      const { cli, zigs, exited } = await buildUntilCompiling(dir, ['run', '--accel', accels[0]!]);
      cli.kill('SIGKILL');
      await exited;
      await waitFor('zig to die with its parent', () => zigs.every((pid) => !processAlive(pid)), 5_000);
    },
    BUILD_MS,
  );

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)(
    '%s mid-compile stops zig, removes the temp files and exits %i',
    async (signal, status) => {
      const dir = await freshProject(`interrupted-${signal.toLowerCase()}`);
      slowCompile(dir);
      const { cli, zigs, exited, stderr: stderrWithin } = await buildUntilCompiling(dir);
      cli.kill(signal);
      const code = await exited;
      const stderr = await stderrWithin(5_000);
      expect(code, stderr).toBe(status);
      expect(stderr).toContain(`ukernel: interrupted by ${signal}; build stopped`);
      expect(zigs.every((pid) => !processAlive(pid))).toBe(true); // gone before the CLI exited
      expect(leftovers(dir)).toEqual([]);
      expect(existsSync(join(dir, 'build/bundle.tgz'))).toBe(false);
    },
    BUILD_MS,
  );
});
