// Test fixture (unit tests only): a Python adapter runtime to build with. The real one when the
// cache holds it (adapters/python/build.sh has run on this machine); otherwise a runtime
// directory around a host CPython 3.13 (same bytecode magic, 3571, as the pinned 3.13.5):
// manifest.json, host/bin/python3.13 and Lib/ as symlinks to that installation. Null when this
// machine has neither (the tests that need it say so and skip).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { adapterCacheDir, type PythonRuntime, readRuntime, runtimeSystem } from './python.js';

/**
 * The newest plain runtime build.sh left in the cache (by manifest.json's time; one built with
 * system libraries, `--system`, is passed over: the test projects ask for none), or null.
 */
export function cachedRuntime(env: NodeJS.ProcessEnv = process.env): PythonRuntime | null {
  const cache = adapterCacheDir(env);
  let names: string[] = [];
  try {
    names = readdirSync(cache).filter((n) => /^python-3\.13\.[0-9]+-[0-9a-f]{16}$/.test(n));
  } catch {
    return null;
  }
  const plain: { runtime: PythonRuntime; mtimeMs: number }[] = [];
  for (const name of names) {
    try {
      const runtime = readRuntime(join(cache, name), 'the cache');
      if (runtimeSystem(runtime).length > 0) continue;
      plain.push({ runtime, mtimeMs: statSync(join(runtime.dir, 'manifest.json')).mtimeMs });
    } catch {
      // Incomplete: try the next.
    }
  }
  plain.sort((a, b) => b.mtimeMs - a.mtimeMs);
  return plain[0]?.runtime ?? null;
}

/** A host CPython 3.13: UKERNEL_TEST_PYTHON313, pyenv's, or python3.13 on PATH. */
export function hostPython313(): { executable: string; lib: string; version: string } | null {
  const candidates = [process.env.UKERNEL_TEST_PYTHON313 ?? ''];
  const pyenv = join(homedir(), '.pyenv', 'versions');
  try {
    for (const v of readdirSync(pyenv).filter((n) => /^3\.13\.[0-9]+$/.test(n)))
      candidates.push(join(pyenv, v, 'bin', 'python3.13'));
  } catch {
    // No pyenv.
  }
  candidates.push('python3.13');
  for (const candidate of candidates.filter((c) => c !== '')) {
    const probe = spawnSync(
      candidate,
      [
        '-I',
        '-c',
        'import sys, sysconfig; print(sys.version_info[:2] == (3, 13)); print(sysconfig.get_path("stdlib")); print(sys.version.split()[0])',
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    const [ok, lib, version] = (probe.stdout ?? '').trim().split('\n');
    if (probe.status === 0 && ok === 'True' && lib !== undefined && existsSync(join(lib, 'os.py'))) {
      return { executable: candidate, lib, version: version ?? '3.13' };
    }
  }
  return null;
}

/** The cached runtime, else one made under `dir` around a host CPython 3.13, else null. */
export function testRuntime(dir: string): PythonRuntime | null {
  const cached = cachedRuntime();
  if (cached !== null) return cached;
  const host = hostPython313();
  if (host === null) return null;
  const runtime = join(dir, `python-${host.version}-host0000000000000`);
  mkdirSync(join(runtime, 'host', 'bin'), { recursive: true });
  symlinkSync(
    host.executable.startsWith('/') ? host.executable : which(host.executable),
    join(runtime, 'host', 'bin', 'python3.13'),
  );
  symlinkSync(host.lib, join(runtime, 'Lib'));
  const manifest = {
    name: 'python',
    version: host.version,
    sources: [
      { name: 'python3.13', debian_version: `${host.version}-host`, tarball: 'none (host CPython)', sha256: '0'.repeat(64) },
    ],
    options: { test: true },
    modules: [],
  };
  writeFileSync(join(runtime, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return readRuntime(runtime, 'the test fixture');
}

function which(name: string): string {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
}
