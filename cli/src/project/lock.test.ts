// env/ukernel.lock: rendering (deterministic, sorted, no paths or times), reading (every bad
// input a catalog error at file:line:column), drift (each entry named), and the build's check
// (--locked, CI=true, the warning) on real projects in temp directories.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { init } from '../commands/init.js';
import { LOCK_FILE } from '../constants.js';
import { isUkernelError, UkernelError } from '../errors.js';
import { sha256Hex } from '../hash.js';
import { noProgress } from '../progress.js';
import { readToolchainPins, ukernelRoot } from '../toolchain.js';
import { loadProject } from './config.js';
import {
  checkLockForBuild,
  checkPackedKernel,
  checkPackedRuntime,
  currentEnvironment,
  driftLines,
  type Lock,
  type LockContext,
  lockDrift,
  readLockFile,
  renderLock,
} from './lock.js';

const base = mkdtempSync(join(tmpdir(), 'uk-lock-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const root = ukernelRoot();
const pins = readToolchainPins(root);
const abort = new AbortController().signal;
let count = 0;

const H = (c: string): string => c.repeat(64);

function sampleLock(): Lock {
  return {
    format: 1,
    ukernel: { version: '0.1.0' },
    abi: { version: '0.3.0' },
    kernel: { version: '0.1.0', sha256: H('a') },
    toolchain: { zig: '0.15.2', zig_wheel: 'ziglang-0.15.2-py3-none-any.whl', zig_wheel_sha256: H('b') },
    env: { language: 'python', base: 'python-3.13', adapter: 'python', packages: [] },
    adapter: {
      name: 'python',
      version: '3.13.5',
      runtime: 'python-3.13.5-0123456789abcdef',
      options: { selector: 'poll', mimalloc: false },
      sources: [
        { name: 'musl', version: '1.2.5-3', tarball: 'musl_1.2.5.orig.tar.gz', sha256: H('c') },
        { name: 'zlib', version: '1:1.3.1-1', tarball: 'zlib_1.3.1.orig.tar.gz', sha256: H('d') },
      ],
    },
    dependencies: [],
    system: [],
  };
}

function projectDir(): string {
  const dir = join(base, `p${count++}`);
  mkdirSync(join(dir, 'env'), { recursive: true });
  return dir;
}

/** Write `text` as env/ukernel.lock of a fresh directory and read it back. */
function readText(text: string): ReturnType<typeof readLockFile> {
  const dir = projectDir();
  writeFileSync(join(dir, LOCK_FILE), text);
  return readLockFile(dir);
}

function thrown(body: () => unknown): UkernelError {
  try {
    body();
  } catch (err) {
    if (err instanceof UkernelError) return err;
    throw err;
  }
  throw new Error('expected a UkernelError');
}

describe('renderLock', () => {
  it('gives the same bytes for the same lock, keys sorted, and reads back to the same lock', () => {
    const lock = sampleLock();
    const text = renderLock(lock);
    // Keys in another order (and sources reversed in the object, not in the list) render the same.
    const shuffled = Object.fromEntries(Object.entries(lock).reverse()) as Lock;
    expect(renderLock(shuffled)).toBe(text);
    expect(text).toMatch(/^# env\/ukernel\.lock: /);
    expect(text.indexOf('[abi]')).toBeLessThan(text.indexOf('[adapter]'));
    expect(text.indexOf('[adapter]')).toBeLessThan(text.indexOf('[kernel]'));
    expect(text).toContain('[[adapter.sources]]\nname = "musl"\nsha256 = "cccc');
    expect(readText(text)?.lock).toEqual(lock);
  });

  it('refuses to write a lock it could not read (a bad hash is a bug, not a file)', () => {
    const lock = sampleLock();
    lock.kernel.sha256 = 'not-a-hash';
    expect(() => renderLock(lock)).toThrow();
  });
});

describe('readLockFile: bad input', () => {
  it('no lock: null', () => {
    expect(readLockFile(projectDir())).toBeNull();
  });

  it('not TOML: UK121 at file:line:column with the line', () => {
    const err = thrown(() => readText('format = 1\n[kernel\n'));
    expect(err.code).toBe('UK121');
    expect(err.message).toMatch(/^env\/ukernel\.lock:2:\d+: /);
    expect(err.details.join('\n')).toContain('2:  [kernel');
  });

  it('a hand-edited hash: UK121 naming the entry at its line', () => {
    const text = renderLock(sampleLock()).replace(`sha256 = "${H('d')}"`, 'sha256 = "d00d"');
    const err = thrown(() => readText(text));
    expect(err.code).toBe('UK121');
    const line = text.split('\n').indexOf('sha256 = "d00d"') + 1;
    expect(err.message).toBe(
      `env/ukernel.lock:${line}:1: adapter.sources.1.sha256: expected 64 lower-case hex digits (a sha256)`,
    );
  });

  it('a newer format: UK172 saying which format this ukernel reads', () => {
    const err = thrown(() => readText(renderLock(sampleLock()).replace('format = 1', 'format = 2')));
    expect(err.code).toBe('UK172');
    expect(err.message).toMatch(/:\d+:1: lock format 2; this ukernel \(.*\) reads lock format 1$/);
    expect(err.hint).toContain('ukernel env lock');
  });

  it('an unknown key, a missing table and a wrong format: UK121 each, named', () => {
    const text = renderLock(sampleLock());
    expect(thrown(() => readText(text.replace('[kernel]', '[kernel]\nextra = 1'))).message).toMatch(
      /^env\/ukernel\.lock:\d+:1: kernel: unknown key\(s\) "extra"$/,
    );
    expect(thrown(() => readText(text.replace(/\[toolchain\][^[]*/, ''))).message).toMatch(
      /: toolchain: missing \(expected object\)$/,
    );
    expect(thrown(() => readText(text.replace('format = 1', 'format = 0'))).message).toMatch(/: format: expected lock format 1$/);
    expect(thrown(() => readText('{"lock-version": 1}\n')).code).toBe('UK121');
  });
});

describe('checkPackedKernel', () => {
  it("the lock's kernel: silent; another: a warning with both hashes, or UK170 under CI=true", () => {
    const warnings: string[] = [];
    const options = { display: LOCK_FILE, env: {}, warn: (line: string) => warnings.push(line) };
    checkPackedKernel(sampleLock(), H('a'), options);
    expect(warnings).toEqual([]);
    checkPackedKernel(sampleLock(), H('e'), options);
    expect(warnings).toEqual([
      `warning: env/ukernel.lock pins another kernel (kernel.sha256 ${H('a')}); packing ${H('e')}. Run \`ukernel env lock\` to lock this one.`,
    ]);
    const err = thrown(() => checkPackedKernel(sampleLock(), H('e'), { ...options, env: { CI: 'true' } }));
    expect(err.code).toBe('UK170');
    expect(err.message).toBe('env/ukernel.lock does not match the environment: the kernel changed (CI=true: refusing to pack)');
  });
});

describe('checkPackedRuntime', () => {
  it("the last build's adapter runtime against the lock's (env add --system, then pack without build): a warning, or UK170 under CI=true", () => {
    const warnings: string[] = [];
    const options = { display: LOCK_FILE, env: {}, warn: (line: string) => warnings.push(line) };
    checkPackedRuntime(sampleLock(), 'python-3.13.5-0123456789abcdef', options);
    checkPackedRuntime(sampleLock(), undefined, options); // A native build has no runtime.
    expect(warnings).toEqual([]);
    checkPackedRuntime(sampleLock(), 'python-3.13.5-fedcba9876543210', options);
    expect(warnings).toEqual([
      'warning: env/ukernel.lock pins another adapter runtime (adapter.runtime python-3.13.5-0123456789abcdef) than the last build used (python-3.13.5-fedcba9876543210): the image would carry a lock that does not describe its bin/python. Run `ukernel build` (and `ukernel env lock` if the lock is the older of the two), then pack.',
    ]);
    const err = thrown(() =>
      checkPackedRuntime(sampleLock(), 'python-3.13.5-fedcba9876543210', { ...options, env: { CI: 'true' } }),
    );
    expect(err.code).toBe('UK170');
    expect(err.message).toBe(
      'env/ukernel.lock does not match the environment: the adapter runtime changed (CI=true: refusing to pack)',
    );
    expect(err.details).toEqual(['adapter.runtime: locked python-3.13.5-0123456789abcdef, now python-3.13.5-fedcba9876543210']);
    expect(err.hint).toContain('Run `ukernel build` before `ukernel pack`');
  });
});

describe('lockDrift', () => {
  it('names every entry that differs, lists by name, with its part of the environment', () => {
    const locked = sampleLock();
    const now = sampleLock();
    expect(lockDrift(locked, now)).toEqual([]);
    now.kernel.sha256 = H('e');
    now.adapter.sources![0]!.sha256 = H('f');
    now.adapter.runtime = 'python-3.13.5-fedcba9876543210';
    now.env.packages = ['requests==2.32'];
    now.toolchain.zig = '0.16.0';
    const drift = lockDrift(locked, now);
    expect(drift.map((d) => [d.entry, d.section])).toEqual([
      ['adapter.runtime', 'the adapter runtime'],
      ['adapter.sources[musl].sha256', 'the adapter runtime'],
      ['env.packages', "ukernel.toml's environment ([project] language, [env], [build] adapter)"],
      ['kernel.sha256', 'the kernel'],
      ['toolchain.zig', 'the toolchain (scripts/toolchain.env)'],
    ]);
    expect(driftLines(drift)).toContain(`kernel.sha256: locked ${H('a')}, now ${H('e')}`);
    expect(driftLines(drift)).toContain('env.packages: locked [], now ["requests==2.32"]');
  });

  it('when [env] packages changed, the locked dependencies are one entry, not every field of every wheel', () => {
    const locked = sampleLock();
    locked.env.packages = ['requests==2.32'];
    const wheel = (name: string) => ({
      name,
      version: '1.0',
      artifact: `${name}-1.0-py3-none-any.whl`,
      sha256: H('7'),
      url: `https://files.pythonhosted.org/${name}-1.0-py3-none-any.whl`,
    });
    locked.dependencies = [wheel('idna'), wheel('requests')];
    const now = sampleLock();
    now.env.packages = ['idna', 'requests==2.32'];
    expect(driftLines(lockDrift(locked, now))).toEqual([
      'dependencies: locked 2 distributions resolved for the [env] packages locked, now not resolved for the new [env] packages (`ukernel env lock` resolves them)',
      'env.packages: locked ["requests==2.32"], now ["idna","requests==2.32"]',
    ]);
    // The same packages, another wheel: named field by field as before.
    const other = sampleLock();
    other.env.packages = ['requests==2.32'];
    other.dependencies = [wheel('idna'), { ...wheel('requests'), sha256: H('8') }];
    expect(lockDrift(locked, other).map((d) => d.entry)).toEqual(['dependencies[requests].sha256']);
  });

  it('a source package added or gone is named too', () => {
    const now = sampleLock();
    now.adapter.sources!.push({ name: 'openssl', version: '3.5.1-1', tarball: 'openssl.tar.gz', sha256: H('9') });
    const entries = lockDrift(sampleLock(), now).map((d) => `${d.entry} ${d.locked} ${d.current}`);
    expect(entries).toContain(`adapter.sources[openssl].sha256 null ${H('9')}`);
  });
});

/** A native project in a temp directory and a kernel file standing for the kernel ELF. */
async function nativeProject(env: NodeJS.ProcessEnv = {}): Promise<{ ctx: LockContext; kernel: string; dir: string }> {
  const dir = projectDir();
  await init({ name: 'demo' }, { cwd: dir, say: () => {}, zigVersion: pins.zigVersion });
  const kernel = join(dir, 'kernel.elf');
  writeFileSync(kernel, 'a kernel');
  const ctx: LockContext = { ukernelRoot: root, env, pins, project: loadProject(dir, pins.zigVersion), progress: noProgress };
  return { ctx, kernel, dir };
}

describe('currentEnvironment and the build check', () => {
  it("a native project's environment: toolchain, kernel, ABI, adapter native; no path or time in the lock", async () => {
    const { ctx, kernel } = await nativeProject();
    const { lock, kernelMissing } = await currentEnvironment(ctx, { path: kernel, from: 'test' }, abort);
    expect(kernelMissing).toBeNull();
    expect(lock).toMatchObject({
      format: 1,
      kernel: { sha256: sha256Hex('a kernel'), version: expect.stringMatching(/^[0-9]+\.[0-9]+\.[0-9]+$/) },
      toolchain: { zig: pins.zigVersion, zig_wheel_sha256: pins.all.ZIG_WHEEL_SHA256 },
      env: { language: 'native', adapter: 'native', base: `zig-${pins.zigVersion}`, packages: [] },
      adapter: { name: 'native' },
      dependencies: [],
      system: [],
    });
    const text = renderLock(lock);
    expect(text).not.toContain(base);
    expect(text).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    const missing = await currentEnvironment(ctx, { path: join(base, 'nope.elf'), from: 'test' }, abort);
    expect(missing.kernelMissing).toMatch(/^no kernel ELF at .*nope\.elf \(test; ENOENT\)$/);
  });

  it('--locked without a lock: UK171; without --locked: nothing to check', async () => {
    const { ctx, kernel } = await nativeProject();
    const options = { locked: true, display: LOCK_FILE, warn: () => {} };
    await expect(checkLockForBuild(ctx, { path: kernel, from: 't' }, options, abort)).rejects.toSatisfy((e) =>
      isUkernelError(e, 'LockMissing'),
    );
    await checkLockForBuild(ctx, { path: kernel, from: 't' }, { ...options, locked: false }, abort);
  });

  it('a stale lock: a warning naming what drifted; an error with --locked or CI=true', async () => {
    for (const [env, locked, outcome] of [
      [{}, false, 'warn'],
      [{}, true, '--locked'],
      [{ CI: 'true' }, false, 'CI=true'],
      [{ CI: '1' }, false, 'CI=true'],
      [{ CI: 'false' }, false, 'warn'],
    ] as const) {
      const { ctx, kernel, dir } = await nativeProject(env);
      const source = { path: kernel, from: 't' };
      writeFileSync(join(dir, LOCK_FILE), renderLock((await currentEnvironment(ctx, source, abort)).lock));
      const warnings: string[] = [];
      const options = { locked, display: LOCK_FILE, warn: (line: string) => warnings.push(line) };
      await checkLockForBuild(ctx, source, options, abort); // Current: silent.
      expect(warnings).toEqual([]);
      writeFileSync(kernel, 'another kernel');
      const check = checkLockForBuild(ctx, source, options, abort);
      if (outcome === 'warn') {
        await check;
        expect(warnings).toEqual([
          'warning: env/ukernel.lock is stale (the kernel changed: kernel.sha256); building with what is here now. Run `ukernel env lock` to update it.',
        ]);
      } else {
        const err = await check.then(
          () => null,
          (e: unknown) => e,
        );
        expect(isUkernelError(err, 'LockStale'), String(err)).toBe(true);
        expect((err as UkernelError).message).toBe(
          `env/ukernel.lock does not match the environment: the kernel changed (${outcome}: refusing to build)`,
        );
        expect((err as UkernelError).details[0]).toMatch(/^kernel\.sha256: locked [0-9a-f]{64}, now [0-9a-f]{64}$/);
      }
    }
  });

  it('a kernel not built yet is named as such in the warning, not as another kernel', async () => {
    const { ctx, kernel, dir } = await nativeProject();
    writeFileSync(join(dir, LOCK_FILE), renderLock((await currentEnvironment(ctx, { path: kernel, from: 't' }, abort)).lock));
    const warnings: string[] = [];
    const missing = { path: join(dir, 'not-built.elf'), from: 'the ukernel checkout' };
    await checkLockForBuild(ctx, missing, { locked: false, display: LOCK_FILE, warn: (l) => warnings.push(l) }, abort);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      '(the kernel changed: kernel.sha256; no kernel ELF at ' +
        `${join(dir, 'not-built.elf')} (the ukernel checkout; ENOENT): build it with scripts/build-kernel.sh)`,
    );
  });

  it('ukernel.toml asking for Python packages without a lock resolving them: UK171 (run env lock), before anything is built', async () => {
    const dir = projectDir();
    await init({ name: 'pyw', lang: 'python', template: 'worker' }, { cwd: dir, say: () => {}, zigVersion: pins.zigVersion });
    const toml = join(dir, 'ukernel.toml');
    writeFileSync(toml, readFileSync(toml, 'utf8').replace('[env]', '[env]\npackages = ["requests==2.32"]'));
    const ctx: LockContext = {
      ukernelRoot: root,
      env: {},
      pins,
      project: loadProject(dir, pins.zigVersion),
      progress: noProgress,
    };
    expect(parseToml(readFileSync(toml, 'utf8')).env).toMatchObject({ packages: ['requests==2.32'] });
    const err = await checkLockForBuild(
      ctx,
      { path: 'k', from: 't' },
      { locked: false, display: LOCK_FILE, warn: () => {} },
      abort,
    ).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isUkernelError(err, 'LockMissing'), String(err)).toBe(true);
    expect((err as UkernelError).message).toContain('asks for requests==2.32');
    expect((err as UkernelError).hint).toContain('ukernel env lock');
  });

  it('[env] system the lock did not pin, with --locked or CI=true: UK170 naming both sets, before any runtime is found or built', async () => {
    // UKERNEL_PYTHON_RUNTIME names no runtime: reaching for one (a runtime with the new set of
    // libraries is minutes of build when the cache lacks it) would be UK161, not the refusal.
    for (const [env, locked, why] of [
      [{}, true, '--locked'],
      [{ CI: 'true' }, false, 'CI=true'],
    ] as const) {
      const dir = projectDir();
      await init({ name: 'pys', lang: 'python', template: 'worker' }, { cwd: dir, say: () => {}, zigVersion: pins.zigVersion });
      const toml = join(dir, 'ukernel.toml');
      writeFileSync(toml, readFileSync(toml, 'utf8').replace('[env]', '[env]\nsystem = ["openssl", "sqlite"]'));
      const lock = sampleLock();
      lock.system = [{ name: 'openssl', version: '3.5.7-1~deb13u2', source_sha256: H('e') }];
      writeFileSync(join(dir, LOCK_FILE), renderLock(lock));
      const ctx: LockContext = {
        ukernelRoot: root,
        env: { ...env, UKERNEL_PYTHON_RUNTIME: join(dir, 'no-runtime') },
        pins,
        project: loadProject(dir, pins.zigVersion),
        progress: noProgress,
      };
      const err = await checkLockForBuild(
        ctx,
        { path: 'k', from: 't' },
        { locked, display: LOCK_FILE, warn: () => {} },
        abort,
      ).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isUkernelError(err, 'LockStale'), String(err)).toBe(true);
      expect((err as UkernelError).message).toBe(
        `env/ukernel.lock does not match the environment: the system libraries changed (${why}: refusing to build)`,
      );
      expect((err as UkernelError).details).toEqual(['system: locked openssl, now openssl, sqlite (ukernel.toml [env] system)']);
    }
  });
});
