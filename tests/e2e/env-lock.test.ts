// `ukernel env lock|show|add` and locked builds through the real CLI (docs/environments.md):
// a native project locked, checked, drifted (the kernel, ukernel.toml) and refused by
// `build --locked` and CI=true; the lock in the image; bad locks refused at file:line; a Python
// project's lock pins its adapter runtime (a stand-in runtime directory, so no runtime build).
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, kernelPath, requireBuilt, root, run, tempDir } from './helpers.js';

const BUILD_MS = 180_000;
let work: ReturnType<typeof tempDir>;
let project: string;

/** `ukernel ARGS` in `cwd`; CI unset unless `env` sets it (the suite itself may run under CI=true). */
function ukernelEnv(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const base = { ...process.env };
  delete base.CI;
  return run(process.execPath, [cliPath, ...args], { cwd, timeoutMs: BUILD_MS, env: { ...base, ...env } });
}

async function ok(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const result = await ukernelEnv(args, cwd, env);
  expect(result.code, `ukernel ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

async function fails(args: string[], cwd: string, code: string, env: NodeJS.ProcessEnv = {}) {
  const result = await ukernelEnv(args, cwd, env);
  expect(result.code, `ukernel ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(2);
  expect(result.stderr).toMatch(new RegExp(`^error ${code}: `, 'm'));
  expect(result.stderr).toMatch(/\nhint: /);
  expect(result.stderr).not.toMatch(/^\s+at |UK900/m);
  return result;
}

const lockPath = (): string => join(project, 'env/ukernel.lock');

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  project = join(work.path, 'demo');
  mkdirSync(project);
  await ok(['init', '--name', 'demo'], project);
});
afterAll(() => work.remove());

describe('the kernel', () => {
  it('holds no path of the checkout, so its sha256 (which the lock pins) is the same in every clone', () => {
    // lwIP's asserts quote __FILE__; kernel/build.zig maps the source tree's prefix away.
    const elf = readFileSync(kernelPath);
    expect(elf.includes(Buffer.from(root))).toBe(false);
    expect(elf.includes(Buffer.from('lwip/src/core/tcp.c'))).toBe(true);
  });
});

describe('a native project', () => {
  it(
    '`env lock` writes env/ukernel.lock, twice the same bytes; `--check` passes; `env show` says current',
    async () => {
      const first = await ok(['env', 'lock'], project);
      expect(first.stdout).toBe('Locked environment: env/ukernel.lock\n');
      const bytes = readFileSync(lockPath());
      await ok(['env', 'lock'], project);
      expect(readFileSync(lockPath()).equals(bytes)).toBe(true);
      const lock = parseToml(bytes.toString('utf8'));
      expect(lock).toMatchObject({
        format: 1,
        kernel: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
        toolchain: { zig: '0.15.2', zig_wheel_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
        adapter: { name: 'native' },
        env: { language: 'native', adapter: 'native', base: 'zig-0.15.2', packages: [] },
        dependencies: [],
        system: [],
      });
      expect((lock.kernel as { sha256: string }).sha256).toBe(
        (await import('node:crypto')).createHash('sha256').update(readFileSync(kernelPath)).digest('hex'),
      );
      expect(bytes.toString()).not.toContain(work.path); // no paths
      expect((await ok(['env', 'lock', '--check'], project)).stdout).toBe('Lock is current: env/ukernel.lock\n');
      const show = await ok(['env', 'show'], project);
      expect(show.stdout).toContain('Adapter: native\n');
      expect(show.stdout).toMatch(/^Kernel: \d+\.\d+\.\d+ {2}sha256 [0-9a-f]{64}$/m);
      expect(show.stdout).toContain('Lock: env/ukernel.lock is current\n');
      const json = JSON.parse((await ok(['env', 'show', '--json'], project)).stdout);
      expect(json).toMatchObject({ base: 'zig-0.15.2', adapter: { name: 'native' }, lock: { state: 'current' } });
    },
    BUILD_MS,
  );

  it(
    'another kernel: `--check`, `build --locked` and CI=true refuse naming kernel.sha256; a plain build warns',
    async () => {
      const other = join(work.path, 'other-kernel.elf');
      copyFileSync(kernelPath, other);
      writeFileSync(other, Buffer.concat([readFileSync(other), Buffer.from('drift')]));
      const env = { UKERNEL_KERNEL: other };
      const check = await fails(['env', 'lock', '--check'], project, 'UK170', env);
      expect(check.stderr).toContain('error UK170: env/ukernel.lock does not match the environment: the kernel changed\n');
      expect(check.stderr).toMatch(/^ {2}kernel\.sha256: locked [0-9a-f]{64}, now [0-9a-f]{64}$/m);
      const locked = await fails(['build', '--locked'], project, 'UK170', env);
      expect(locked.stderr).toContain('(--locked: refusing to build)');
      expect(existsSync(join(project, 'build/bundle.tgz'))).toBe(false); // nothing built
      const ci = await fails(['build'], project, 'UK170', { ...env, CI: 'true' });
      expect(ci.stderr).toContain('(CI=true: refusing to build)');
      const plain = await ok(['build'], project, env);
      expect(plain.stderr).toContain(
        'warning: env/ukernel.lock is stale (the kernel changed: kernel.sha256); building with what is here now. Run `ukernel env lock` to update it.',
      );
      expect(plain.stdout).toBe('Built workload bundle: build/bundle.tgz\n');
      // Packing another kernel than the lock's: a warning; CI=true refuses.
      const pack = await ok(['pack'], project, env);
      expect(pack.stderr).toMatch(
        /warning: env\/ukernel\.lock pins another kernel \(kernel\.sha256 [0-9a-f]{64}\); packing [0-9a-f]{64}\./,
      );
      const ciPack = await fails(['pack'], project, 'UK170', { ...env, CI: 'true' });
      expect(ciPack.stderr).toContain('(CI=true: refusing to pack)');
      const show = JSON.parse((await ok(['env', 'show', '--json'], project, env)).stdout);
      expect(show.lock).toMatchObject({ state: 'stale', drift: [{ entry: 'kernel.sha256', section: 'the kernel' }] });
      // Back to the checkout's kernel: current again, and locked builds (and CI) go ahead.
      await ok(['env', 'lock', '--check'], project);
      await ok(['build', '--locked'], project);
      await ok(['build'], project, { CI: 'true' });
    },
    BUILD_MS,
  );

  it(
    'an edit of ukernel.toml [env] is drift of the manifest; `env lock` makes the lock current again',
    async () => {
      const toml = readFileSync(join(project, 'ukernel.toml'), 'utf8');
      // A Python project asks for packages; on a native one the key is refused where it stands.
      writeFileSync(join(project, 'ukernel.toml'), toml.replace('[env]', '[env]\npackages = ["requests==2.32"]'));
      const native = await fails(['env', 'lock', '--check'], project, 'UK112');
      expect(native.stderr).toMatch(/ukernel\.toml:\d+:1: env\.packages: a native project has no language packages/);
      // Editing the language section of the lock's [env] by hand stands for an edited manifest.
      writeFileSync(join(project, 'ukernel.toml'), toml);
      const lock = readFileSync(lockPath(), 'utf8');
      writeFileSync(lockPath(), lock.replace('base = "zig-0.15.2"', 'base = "zig-0.15.1"'));
      const check = await fails(['env', 'lock', '--check'], project, 'UK170');
      expect(check.stderr).toContain("ukernel.toml's environment ([project] language, [env], [build] adapter) changed");
      expect(check.stderr).toContain('  env.base: locked zig-0.15.1, now zig-0.15.2\n');
      await ok(['env', 'lock'], project);
      expect(readFileSync(lockPath(), 'utf8')).toBe(lock);
    },
    BUILD_MS,
  );

  it(
    'the image carries the lock: `inspect` shows it, `inspect --json` has it whole',
    async () => {
      await ok(['build', '--locked'], project);
      await ok(['pack'], project);
      const text = (await ok(['inspect', 'dist/demo.img'], project)).stdout;
      expect(text).toContain('Lock: format 1 (env/ukernel.lock when packed)\n');
      expect(text).toMatch(/^ {2}kernel \d+\.\d+\.\d+ {2}sha256 [0-9a-f]{64}$/m);
      expect(text).toContain('  adapter native\n  dependencies: none\n  system libraries: none\n');
      const json = JSON.parse((await ok(['inspect', 'dist/demo.img', '--json'], project)).stdout);
      expect(json.lock).toEqual(parseToml(readFileSync(lockPath(), 'utf8')));
      expect(json.manifest.lock).toEqual(json.lock);
    },
    BUILD_MS,
  );

  it(
    'bad locks: a hand-edited hash (UK121 naming the entry at its line), a newer format (UK172), not TOML (UK121); none builds',
    async () => {
      const lock = readFileSync(lockPath(), 'utf8');
      rmSync(join(project, 'build/bundle.tgz'));
      try {
        const hash = /^sha256 = "([0-9a-f]{64})"$/m.exec(lock)![1]!;
        const edited = lock.replace(hash, `${hash.slice(0, 63)}g`);
        writeFileSync(lockPath(), edited);
        const line = edited.split('\n').findIndex((l) => l.includes(`${hash.slice(0, 63)}g`)) + 1;
        const bad = await fails(['build'], project, 'UK121');
        expect(bad.stderr).toContain(
          `error UK121: env/ukernel.lock:${line}:1: kernel.sha256: expected 64 lower-case hex digits (a sha256)\n`,
        );
        writeFileSync(lockPath(), lock.replace('format = 1', 'format = 2'));
        const newer = await fails(['build'], project, 'UK172');
        expect(newer.stderr).toMatch(/env\/ukernel\.lock:\d+:1: lock format 2; this ukernel \(.+\) reads lock format 1/);
        writeFileSync(lockPath(), `${lock}\n[kernel\n`);
        const broken = await fails(['build'], project, 'UK121');
        expect(broken.stderr).toMatch(/error UK121: env\/ukernel\.lock:\d+:\d+: /);
        expect(existsSync(join(project, 'build/bundle.tgz'))).toBe(false);
      } finally {
        writeFileSync(lockPath(), lock);
      }
    },
    BUILD_MS,
  );

  it(
    'no lock: `build --locked` refuses (UK171), CI=true builds as before; `env add` explains what a native lock holds',
    async () => {
      const lock = readFileSync(lockPath(), 'utf8');
      rmSync(lockPath());
      try {
        const missing = await fails(['build', '--locked'], project, 'UK171');
        expect(missing.stderr).toContain('error UK171: env/ukernel.lock does not exist, and --locked builds only from a lock\n');
        await fails(['env', 'lock', '--check'], project, 'UK171');
        expect((await ok(['build'], project, { CI: 'true' })).stderr).not.toContain('warning');
        const show = JSON.parse((await ok(['env', 'show', '--json'], project)).stdout);
        expect(show.lock).toEqual({ path: 'env/ukernel.lock', state: 'missing' });
      } finally {
        writeFileSync(lockPath(), lock);
      }
      const add = await fails(['env', 'add', 'requests==2.32'], project, 'UK173');
      expect(add.stderr).toMatch(
        /a native project has no packages to add \(requests==2\.32\): its lock pins the toolchain \(zig 0\.15\.2\), the kernel and the ABI/,
      );
      await fails(['env', 'add', '--system', 'openssl'], project, 'UK173');
    },
    BUILD_MS,
  );
});

/** A stand-in adapter runtime: what readRuntime checks (manifest.json, host/bin/python3.13, Lib/). */
function standInRuntime(dir: string, musl: string): void {
  mkdirSync(join(dir, 'host/bin'), { recursive: true });
  mkdirSync(join(dir, 'Lib'), { recursive: true });
  writeFileSync(join(dir, 'host/bin/python3.13'), '');
  const sources = [
    { name: 'python3.13', debian_version: '3.13.5-2', tarball: 'python3.13_3.13.5.orig.tar.xz', sha256: 'a'.repeat(64) },
    { name: 'musl', debian_version: '1.2.5-3', tarball: 'musl_1.2.5.orig.tar.gz', sha256: musl },
  ];
  const manifest = { name: 'python', version: '3.13.5', sources, options: { selector: 'poll', mimalloc: false } };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

describe('a Python project', () => {
  it(
    'the lock pins the adapter runtime (key, sources, options); another runtime is drift; packages asked but not locked are refused at build',
    async () => {
      const py = join(work.path, 'pyw');
      mkdirSync(py);
      const runtime = join(work.path, 'python-3.13.5-0123456789abcdef');
      standInRuntime(runtime, 'b'.repeat(64));
      const env = { UKERNEL_PYTHON_RUNTIME: runtime };
      await ok(['init', '--name', 'pyw', '--lang', 'python', '--template', 'worker'], py);
      await ok(['env', 'lock'], py, env);
      const text = readFileSync(join(py, 'env/ukernel.lock'), 'utf8');
      expect(text).not.toContain(work.path);
      expect(parseToml(text)).toMatchObject({
        adapter: {
          name: 'python',
          version: '3.13.5',
          runtime: 'python-3.13.5-0123456789abcdef',
          options: { selector: 'poll', mimalloc: false },
          sources: [
            { name: 'musl', version: '1.2.5-3', tarball: 'musl_1.2.5.orig.tar.gz', sha256: 'b'.repeat(64) },
            { name: 'python3.13', version: '3.13.5-2', sha256: 'a'.repeat(64) },
          ],
        },
        env: { language: 'python', base: 'python-3.13', adapter: 'python', packages: [] },
      });
      const show = await ok(['env', 'show'], py, env);
      expect(show.stdout).toContain('Adapter: python 3.13.5 (runtime python-3.13.5-0123456789abcdef)\n');
      expect(show.stdout).toContain(`  source musl 1.2.5-3  sha256 ${'b'.repeat(64)}\n`);
      expect(show.stdout).toContain('Dependencies: asked none; resolved none\n');

      // The same runtime rebuilt from another musl tarball: the source's hash names the drift.
      standInRuntime(runtime, 'c'.repeat(64));
      const check = await fails(['env', 'lock', '--check'], py, 'UK170', env);
      expect(check.stderr).toContain('the adapter runtime changed');
      expect(check.stderr).toContain(`  adapter.sources[musl].sha256: locked ${'b'.repeat(64)}, now ${'c'.repeat(64)}\n`);
      standInRuntime(runtime, 'b'.repeat(64));
      await ok(['env', 'lock', '--check'], py, env);

      // Packages asked in ukernel.toml (by hand): `env show` shows them asked, not resolved; a
      // build refuses (it installs what the lock resolved and never resolves itself).
      const toml = join(py, 'ukernel.toml');
      writeFileSync(toml, readFileSync(toml, 'utf8').replace('[env]', '[env]\npackages = ["requests==2.32"]'));
      const asked = JSON.parse((await ok(['env', 'show', '--json'], py, env)).stdout);
      expect(asked.dependencies).toEqual({ asked: ['requests==2.32'], resolved: [] });
      expect(asked.lock).toMatchObject({ state: 'stale', drift: [{ entry: 'env.packages' }] });
      const check2 = await fails(['env', 'lock', '--check'], py, 'UK170', env);
      expect(check2.stderr).toContain('  env.packages: locked [], now ["requests==2.32"]\n');
      const build = await fails(['build'], py, 'UK170', env);
      expect(build.stderr).toContain('ukernel.toml [env] packages asks for requests==2.32, but env/ukernel.lock resolved none');
      expect(build.stderr).toContain('Run `ukernel env lock`');
      expect(readFileSync(join(py, 'env/ukernel.lock'), 'utf8')).toBe(text); // untouched
      // A system library outside the catalog: refused, listing the catalog, nothing written.
      const tomlBefore = readFileSync(toml, 'utf8');
      const system = await fails(['env', 'add', '--system', 'libfoo'], py, 'UK178', env);
      expect(system.stderr).toContain('env add --system: "libfoo" is not a system library ukernel can build');
      expect(system.stderr).toMatch(/The catalog: openssl \(also libssl, ssl\); sqlite \(also sqlite3, libsqlite3\)/);
      expect(readFileSync(toml, 'utf8')).toBe(tomlBefore);
      expect(readFileSync(join(py, 'env/ukernel.lock'), 'utf8')).toBe(text);
    },
    BUILD_MS,
  );
});
