// The host side of a Python build, run for real with a CPython 3.13 (the adapter runtime's host
// python when the cache has it, else a host 3.13 installation: python-fixture.ts): the stdlib
// zip is byte-identical across builds, DEFLATED, unchecked-hash, without tests; a syntax error is
// UK159 at file:line:column; the .pyc of src/ are written only when every file compiles.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isUkernelError, type UkernelError } from '../errors.js';
import { noProgress } from '../ui.js';
import { ukernelRoot } from '../toolchain.js';
import { testRuntime } from './python-fixture.js';
import { compileSources, ensurePythonRuntime, RUNTIME_BUILD_NOTICE, stdlibZip } from './python.js';

const base = mkdtempSync(join(tmpdir(), 'uk-python-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const runtime = testRuntime(base);
const root = ukernelRoot();
const never = new AbortController().signal;

/** The zip's entries as the runtime's own zipfile reads them. */
function zipEntries(zip: string): Array<{ name: string; method: number; date: number[]; attr: number; head: string }> {
  const script = `
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(json.dumps([{"name": i.filename, "method": i.compress_type, "date": list(i.date_time),
  "attr": i.external_attr >> 16, "head": z.read(i)[:16].hex()} for i in z.infolist()]))`;
  const result = spawnSync(runtime!.hostPython, ['-I', '-c', script, zip], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as ReturnType<typeof zipEntries>;
}

describe.skipIf(runtime === null)('the standard library zip', () => {
  it('is byte-identical across two builds, DEFLATED, unchecked-hash .pyc, without tests or GUIs', async () => {
    const envA = { XDG_CACHE_HOME: join(base, 'cache-a') };
    const envB = { XDG_CACHE_HOME: join(base, 'cache-b') };
    const a = await stdlibZip(root, envA, runtime!, noProgress, never);
    const b = await stdlibZip(root, envB, runtime!, noProgress, never);
    expect(a).not.toBe(b);
    expect(readFileSync(a).equals(readFileSync(b)), 'two builds of the zip differ').toBe(true);

    const entries = zipEntries(a);
    const names = entries.map((e) => e.name);
    expect(names).toEqual([...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    for (const needed of [
      'asyncio/__init__.pyc',
      'asyncio/base_events.pyc',
      'json/__init__.pyc',
      'encodings/utf_8.pyc',
      'os.pyc',
    ]) {
      expect(names).toContain(needed);
    }
    for (const name of names) {
      expect(name).toMatch(/\.pyc$/);
      expect(name).not.toMatch(/(^|\/)(test|tests|idle_test)\//);
      expect(name).not.toMatch(/^(idlelib|tkinter|turtledemo|ensurepip|__phello__|site-packages|lib2to3|pydoc_data|venv)\//);
    }
    for (const entry of entries) {
      expect(entry.method, entry.name).toBe(8); // DEFLATED: zlib is built into the adapter
      expect(entry.date).toEqual([1980, 1, 1, 0, 0, 0]);
      expect(entry.attr).toBe(0o100644);
      // PEP 552 header: magic 3571 (0x0df3) "\r\n", flags 1 = hash-based, check_source unset.
      expect(entry.head.slice(0, 8)).toBe('f30d0d0a');
      expect(entry.head.slice(8, 16)).toBe('01000000');
    }
    if (runtime!.sysconfigdata !== null) expect(names).toContain('_sysconfigdata__linux_.pyc');
    if (existsSync(join(root, 'adapters/python/ukernel/__init__.py'))) expect(names).toContain('ukernel/__init__.pyc');
  }, 120_000);

  it('a warm build reuses the cached zip without compiling again', async () => {
    const env = { XDG_CACHE_HOME: join(base, 'cache-a') };
    const path = await stdlibZip(root, env, runtime!, noProgress, never);
    const before = statSync(path).mtimeMs;
    const started = Date.now();
    expect(await stdlibZip(root, env, runtime!, noProgress, never)).toBe(path);
    expect(statSync(path).mtimeMs).toBe(before);
    expect(Date.now() - started).toBeLessThan(5_000); // a hang bound, not a speed figure
  }, 120_000);
});

describe.skipIf(runtime === null)('compileSources: the syntax check and .pyc of src/', () => {
  function project(files: Record<string, string>): string {
    const dir = mkdtempSync(join(base, 'proj-'));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return dir;
  }
  const display = (rel: string): string => rel;

  it('writes unchecked-hash .pyc for every module but the entry', async () => {
    const dir = project({ 'src/main.py': 'import helper\n', 'src/helper.py': 'X = 1\n', 'src/pkg/__init__.py': '' });
    const out = join(dir, 'out');
    const result = await compileSources(
      root,
      runtime!,
      { root: dir, sourceDir: 'src', entry: 'src/main.py', display },
      out,
      never,
    );
    expect(result.files).toEqual(['src/helper.py', 'src/main.py', 'src/pkg/__init__.py']);
    expect(result.pycs).toEqual(['src/__pycache__/helper.cpython-313.pyc', 'src/pkg/__pycache__/__init__.cpython-313.pyc']);
    const pyc = readFileSync(join(out, result.pycs[0]!));
    expect(pyc.subarray(0, 8).toString('hex')).toBe('f30d0d0a01000000');
  });

  it('a syntax error is UK159 at file:line:column with the line, and nothing is written', async () => {
    const dir = project({
      'src/main.py': 'import asyncio\n',
      'src/jobs/work.py': 'def ok():\n    return 1\n\ndef broken(:\n    pass\n',
      'src/other.py': 'x = (1,\n',
    });
    const out = join(dir, 'out');
    const err = await compileSources(
      root,
      runtime!,
      { root: dir, sourceDir: 'src', entry: 'src/main.py', display },
      out,
      never,
    ).catch((e: unknown) => e);
    expect(isUkernelError(err, 'PythonSyntax')).toBe(true);
    const error = err as UkernelError;
    expect(error.code).toBe('UK159');
    expect(error.exitCode).toBe(2);
    expect(error.message).toMatch(/^src\/jobs\/work\.py:4:12: SyntaxError: /);
    expect(error.details.join('\n')).toContain('def broken(:');
    expect(error.details.at(-1)).toMatch(/^src\/other\.py:1:5: SyntaxError: /);
    expect(existsSync(out)).toBe(false);
  });
});

it('a machine without CPython 3.13 skips the tests above (and says so)', () => {
  if (runtime === null)
    console.warn('python.test.ts: no CPython 3.13 here (cache or host); the zip and syntax tests were skipped');
  expect(true).toBe(true);
});

describe('ensurePythonRuntime: running adapters/python/build.sh', () => {
  /** A checkout whose build.sh is `script` (run for real by bash). */
  function checkout(script: string): string {
    const dir = mkdtempSync(join(base, 'checkout-'));
    mkdirSync(join(dir, 'adapters', 'python'), { recursive: true });
    writeFileSync(join(dir, 'adapters', 'python', 'build.sh'), script);
    return dir;
  }
  function recorder(interactive: boolean) {
    const steps: string[] = [];
    const notices: string[] = [];
    const progress = {
      begin: (text: string) => {
        steps.push(text);
        return { done: () => steps.push(`done: ${text}`) };
      },
    };
    return { steps, notices, ui: { progress, notice: (line: string): void => void notices.push(line), interactive } };
  }
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

  it.skipIf(runtime === null)('follows the progress lines on a terminal, and reads the directory printed last', async () => {
    const script = `echo "progress: 1/2 host CPython" >&2; echo noise >&2; echo "progress: 2/2 libpython3.13.a" >&2; echo other; echo ${runtime!.dir}\n`;
    const { steps, notices, ui } = recorder(true);
    const found = await ensurePythonRuntime(checkout(script), env, ui, never);
    expect(found.dir).toBe(runtime!.dir);
    expect(steps).toEqual([
      'Building the Python adapter runtime: 1/2 host CPython',
      'done: Building the Python adapter runtime: 1/2 host CPython',
      'Building the Python adapter runtime: 2/2 libpython3.13.a',
      'done: Building the Python adapter runtime: 2/2 libpython3.13.a',
    ]);
    expect(notices).toEqual([]);
  });

  it.skipIf(runtime === null)('without a terminal: one notice when it builds, none when the cache has it', async () => {
    const building = recorder(false);
    const script = `for i in 1 2 3; do echo "progress: $i/3 step" >&2; done; echo ${runtime!.dir}\n`;
    await ensurePythonRuntime(checkout(script), env, building.ui, never);
    expect(building.notices).toEqual([RUNTIME_BUILD_NOTICE]);
    expect(building.steps).toEqual([]);
    const cached = recorder(false);
    await ensurePythonRuntime(checkout(`echo ${runtime!.dir}\n`), env, cached.ui, never);
    expect(cached.notices).toEqual([]);
  });

  it('a failing build is UK160 with the last lines of its output; a missing script or directory is named', async () => {
    const failing = checkout('echo "progress: 1/9 fetching sources" >&2; echo "sha256 mismatch for musl" >&2; exit 3\n');
    const err = await ensurePythonRuntime(failing, env, recorder(false).ui, never).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UK160', message: 'adapters/python/build.sh failed (exit status 3)' });
    expect((err as UkernelError).details).toContain('sha256 mismatch for musl');

    const silent = checkout('echo "not a path"\n');
    await expect(ensurePythonRuntime(silent, env, recorder(false).ui, never)).rejects.toMatchObject({
      code: 'UK160',
      message: expect.stringMatching(/did not print the runtime directory last/),
    });
    const empty = checkout(`mkdir -p ${base}/empty-runtime; echo ${base}/empty-runtime\n`);
    await expect(ensurePythonRuntime(empty, env, recorder(false).ui, never)).rejects.toMatchObject({
      code: 'UK161',
      message: expect.stringMatching(/has no manifest\.json$/),
    });
    const none = mkdtempSync(join(base, 'checkout-'));
    await expect(ensurePythonRuntime(none, env, recorder(false).ui, never)).rejects.toMatchObject({
      code: 'UK161',
      message: 'this ukernel checkout has no adapters/python/build.sh',
    });
  });

  it('a stop (Ctrl-C) ends the build and every process it started', async () => {
    const pidFile = join(base, 'child.pid');
    const script = `sleep 60 & echo $! > ${pidFile}; echo "progress: 1/1 waiting" >&2; wait\n`;
    const controller = new AbortController();
    const ui = recorder(false).ui;
    ui.notice = () => controller.abort(new Error('stopped by the test'));
    await expect(ensurePythonRuntime(checkout(script), env, ui, controller.signal)).rejects.toThrow('stopped by the test');
    const child = Number(readFileSync(pidFile, 'utf8'));
    const alive = (): boolean => {
      try {
        process.kill(child, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(), `the build's child ${child} outlived the stop`).toBe(false);
  });
});
