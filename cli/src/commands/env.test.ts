// `ukernel env` on Python projects in temp directories, for what needs no runtime: the checks
// that must answer before an adapter runtime is found or built (a runtime with other system
// libraries is minutes of build), and hand-edited `[env] system`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../constants.js';
import { isUkernelError, type UkernelError } from '../errors.js';
import { renderLock, type Lock } from '../project/lock.js';
import { readToolchainPins, ukernelRoot } from '../toolchain.js';
import { envChange, envLock } from './env.js';
import { init } from './init.js';

const base = mkdtempSync(join(tmpdir(), 'uk-env-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const pins = readToolchainPins(ukernelRoot());
let count = 0;

/** A Python worker project whose ukernel.toml has `[env] system = <system>`, and a lock pinning `locked`. */
async function pythonProject(system: string, locked: string[]): Promise<string> {
  const dir = join(base, `p${count++}`);
  await init({ name: 'pys', lang: 'python', template: 'worker' }, { cwd: dir, say: () => {}, zigVersion: pins.zigVersion });
  const toml = join(dir, 'ukernel.toml');
  writeFileSync(toml, readFileSync(toml, 'utf8').replace('[env]', `[env]\nsystem = ${system}`));
  const H = (c: string): string => c.repeat(64);
  const lock: Lock = {
    format: 1,
    ukernel: { version: '0.1.0' },
    abi: { version: '0.3.0' },
    kernel: { version: '0.1.0', sha256: H('a') },
    toolchain: { zig: pins.zigVersion, zig_wheel: 'ziglang.whl', zig_wheel_sha256: H('b') },
    env: { language: 'python', base: 'python-3.13', adapter: 'python', packages: [] },
    adapter: { name: 'python', version: '3.13.5', runtime: 'python-3.13.5-0123456789abcdef' },
    dependencies: [],
    system: locked.map((name) => ({ name, version: '1.0-1', source_sha256: H('c') })),
  };
  writeFileSync(join(dir, LOCK_FILE), renderLock(lock));
  return dir;
}

async function failure(body: () => Promise<unknown>): Promise<UkernelError> {
  const err = await body().then(
    () => null,
    (e: unknown) => e,
  );
  if (err === null) throw new Error('expected an error');
  return err as UkernelError;
}

describe('env lock --check and [env] system', () => {
  it('libraries the lock did not pin: UK170 naming both sets, without finding or building a runtime', async () => {
    const dir = await pythonProject('["openssl", "sqlite"]', ['openssl']);
    // No runtime there: reaching for one would be UK161 (or, from the cache, minutes of build).
    const env = { UKERNEL_PYTHON_RUNTIME: join(dir, 'no-runtime') };
    const err = await failure(() => envLock({ check: true }, { cwd: dir, env, out: () => {} }));
    expect(isUkernelError(err, 'LockStale'), String(err)).toBe(true);
    expect(err.message).toBe('env/ukernel.lock does not match the environment: the system libraries changed');
    expect(err.details).toEqual(['system: locked openssl, now openssl, sqlite (ukernel.toml [env] system)']);
  });
});

describe('env remove --system with a hand-edited [env] system', () => {
  it('an alias there: UK178 saying which name to write, not "openssl is not in [env] system (libssl)"; files untouched', async () => {
    const dir = await pythonProject('["libssl"]', ['openssl']);
    const toml = readFileSync(join(dir, 'ukernel.toml'), 'utf8');
    const lock = readFileSync(join(dir, LOCK_FILE), 'utf8');
    const env = { UKERNEL_PYTHON_RUNTIME: join(dir, 'no-runtime') };
    const err = await failure(() => envChange('remove', ['libssl'], { system: true }, { cwd: dir, env, out: () => {} }));
    expect(isUkernelError(err, 'SystemUnknown'), String(err)).toBe(true);
    expect(err.message).toBe('ukernel.toml [env] system: "libssl" is another name for "openssl"');
    // The fix it offers is an edit: `env add --system libssl` refuses this file the same way.
    expect(err.hint).toBe(
      'Write "openssl" in place of "libssl" in [env] system: ukernel.toml holds catalog names (those `ukernel env add --system` writes).',
    );
    const add = await failure(() => envChange('add', ['libssl'], { system: true }, { cwd: dir, env, out: () => {} }));
    expect(isUkernelError(add, 'SystemUnknown'), String(add)).toBe(true);
    expect(readFileSync(join(dir, 'ukernel.toml'), 'utf8')).toBe(toml);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(lock);
  });
});
