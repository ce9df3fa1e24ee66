// The host side of a Python build, run for real with a CPython 3.13 (the adapter runtime's host
// python when the cache has it, else a host 3.13 installation: python-fixture.ts): the stdlib
// zip is byte-identical across builds, DEFLATED, unchecked-hash, without tests; a syntax error is
// UK159 at file:line:column; the .pyc of src/ are written only when every file compiles.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isUkernelError, type UkernelError } from '../errors.js';
import { noProgress } from '../ui.js';
import { ukernelRoot } from '../toolchain.js';
import { testRuntime } from './python-fixture.js';
import {
  compileSources,
  ensurePythonRuntime,
  installSitePackages,
  linkedAdapterPath,
  type PythonRuntime,
  RUNTIME_BUILD_NOTICE,
  stdlibZip,
} from './python.js';

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
  /** compileSources of the project at `dir` (entry src/main.py), .pyc into dir/out. */
  const compile = (dir: string) =>
    compileSources(root, runtime!, { root: dir, sourceDir: 'src', entry: 'src/main.py', display }, join(dir, 'out'), never);

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

  it('takes the other files under src/ as data, follows symlinked directories, leaves out hidden files and .pyc', async () => {
    const dir = project({
      'src/main.py': 'import shared\n',
      'src/data/greeting.txt': 'hello\n',
      'src/config.json': '{}\n',
      'src/.env': 'SECRET=1\n',
      'src/.git/x.py': 'x = (\n',
      'src/old.pyc': 'stale',
      'src/logs/__init__.py': 'V = 1\n',
      'outside/shared/__init__.py': 'X = 1\n',
      'outside/shared/table.csv': 'a,b\n',
    });
    symlinkSync(join(dir, 'outside/shared'), join(dir, 'src/shared'));
    symlinkSync('..', join(dir, 'src/data/up')); // a loop: not descended
    const result = await compile(dir);
    expect(result.files).toEqual(['src/logs/__init__.py', 'src/main.py', 'src/shared/__init__.py']);
    expect(result.data).toEqual(['src/config.json', 'src/data/greeting.txt', 'src/shared/table.csv']);
    expect(result.pycs).toContain('src/shared/__pycache__/__init__.cpython-313.pyc');
  });

  it('a file that cannot be read (a dangling link) is a file error naming it and the link, not a traceback', async () => {
    const dir = project({ 'src/main.py': 'print(1)\n', 'src/ok.py': 'X = 1\n' });
    symlinkSync('/nonexistent/helper.py', join(dir, 'src/helper.py'));
    const err = await compile(dir).catch((e: unknown) => e);
    expect(isUkernelError(err, 'FileUnreadable'), String(err)).toBe(true);
    expect((err as UkernelError).message).toBe(
      'cannot read src/helper.py (a symlink to /nonexistent/helper.py): no such file or directory (ENOENT)',
    );
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it("a top-level module named like one of the image's standard library is refused (it could never be imported)", async () => {
    const dir = project({
      'src/main.py': 'from secrets import TOKEN\n',
      'src/secrets.py': 'TOKEN = 1\n',
      'src/http/__init__.py': '',
      'src/time.py': 'X = 1\n', // a built-in module of the adapter
      'src/test.py': 'X = 1\n', // the stdlib's test package is not in the image: importable
      'src/mylib/json.py': 'X = 1\n', // inside a package: mylib.json, no clash
    });
    const err = await compile(dir).catch((e: unknown) => e);
    expect(isUkernelError(err, 'BuildFailed'), String(err)).toBe(true);
    const error = err as UkernelError;
    expect(error.message).toBe(
      "src/http/: the image's standard library has a module http, which comes first on sys.path: this package is never imported",
    );
    expect(error.details).toEqual([
      "src/secrets.py: the image's standard library has a module secrets, which comes first on sys.path: this module is never imported",
      'src/time.py: the adapter has a built-in module time, which comes first on sys.path: this module is never imported',
    ]);
    expect(error.hint).toMatch(/^Rename them/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
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

  it.skipIf(runtime === null)('says so when it waits for another build of the same runtime (the lock)', async () => {
    const waiting = 'python-runtime: waiting for another build of python-3.13.5-x (lock /c/.python-3.13.5-x.lock)';
    const script = `echo "${waiting}" >&2; echo ${runtime!.dir}\n`;
    for (const interactive of [false, true]) {
      const { notices, ui } = recorder(interactive);
      await ensurePythonRuntime(checkout(script), env, ui, never);
      expect(notices).toEqual([waiting]);
    }
  });

  it('UKERNEL_PYTHON_RUNTIME with other system libraries than the project asks for: UK161 with the build.sh that makes the right one', async () => {
    const dir = mkdtempSync(join(base, 'runtime-'));
    mkdirSync(join(dir, 'host', 'bin'), { recursive: true });
    mkdirSync(join(dir, 'Lib'));
    writeFileSync(join(dir, 'host', 'bin', 'python3.13'), '');
    const openssl = {
      name: 'openssl',
      package: 'openssl',
      debian_version: '3.5.7-1',
      tarball: 't',
      sha256: 'a'.repeat(64),
      modules: ['_ssl'],
    };
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ sources: [], system: [openssl] }));
    const { ui } = recorder(false);
    const fromEnv = { ...env, UKERNEL_PYTHON_RUNTIME: dir };
    expect((await ensurePythonRuntime(root, fromEnv, ui, never, ['openssl'])).dir).toBe(dir);
    const wanted = async (system: string[]): Promise<UkernelError> =>
      ensurePythonRuntime(root, fromEnv, ui, never, system).then(
        () => {
          throw new Error('expected UK161');
        },
        (e: UkernelError) => e,
      );
    const more = await wanted(['openssl', 'sqlite']);
    expect(isUkernelError(more, 'AdapterMissing')).toBe(true);
    expect(more.message).toBe(
      `the runtime UKERNEL_PYTHON_RUNTIME=${dir} has the system libraries [openssl], the project asks for [openssl, sqlite]`,
    );
    expect(more.hint).toBe(
      'Build a runtime with them (bash adapters/python/build.sh --system openssl,sqlite) or unset UKERNEL_PYTHON_RUNTIME.',
    );
    // None asked for: the plain runtime's command, not `--system ""` "with them".
    const none = await wanted([]);
    expect(none.message).toBe(
      `the runtime UKERNEL_PYTHON_RUNTIME=${dir} has the system libraries [openssl], the project asks for none`,
    );
    expect(none.hint).toBe(
      'Build a runtime without system libraries (bash adapters/python/build.sh) or unset UKERNEL_PYTHON_RUNTIME.',
    );
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

describe('linkedAdapterPath: the cached link is keyed by everything the link reads', () => {
  it('changes with the POSIX layer, sdk/c and sdk/zig (which the POSIX layer imports), not with the project', () => {
    const fake = mkdtempSync(join(base, 'root-'));
    const files: Record<string, string> = {
      'scripts/toolchain.env': 'ZIG_VERSION=0.15.2\n',
      'adapters/python/main.c': 'int main(void) { return 0; }\n',
      'adapters/posix/build.zig': '// b.path("../../sdk/zig/ukernel.zig")\n',
      'sdk/c/ukernel_abi.h': '#define UK 1\n',
      'sdk/zig/abi.zig': 'pub const version = 1;\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(fake, path, '..'), { recursive: true });
      writeFileSync(join(fake, path), text);
    }
    const fakeRuntime = { dir: '/r/python-3.13.5-0123456789abcdef', key: 'python-3.13.5-0123456789abcdef', manifestSha256: 'm' };
    const env = { XDG_CACHE_HOME: join(base, 'cache-link') };
    const path = (): string => linkedAdapterPath(fake, env, fakeRuntime as PythonRuntime);
    const seen = new Set([path()]);
    for (const edited of ['sdk/zig/abi.zig', 'sdk/c/ukernel_abi.h', 'adapters/posix/build.zig', 'adapters/python/main.c']) {
      writeFileSync(join(fake, edited), `${readFileSync(join(fake, edited), 'utf8')}// edited\n`);
      const now = path();
      expect(seen.has(now), `an edit of ${edited} keeps the cached link`).toBe(false);
      seen.add(now);
    }
  });
});

/** A wheel (a zip) at `path` holding `members` (name → text), written by the runtime's zipfile. */
function makeWheel(path: string, members: Record<string, string>): string {
  const script =
    'import json, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z:\n  [z.writestr(n, c) for n, c in json.loads(sys.argv[2]).items()]';
  const result = spawnSync(runtime!.hostPython, ['-I', '-c', script, path, JSON.stringify(members)], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return path;
}

describe.skipIf(runtime === null)('installSitePackages: the locked wheels into lib/site-packages', () => {
  it('unpacks the root, .dist-info and *.data/purelib, with an unchecked-hash .pyc per module that compiles', async () => {
    const wheel = makeWheel(join(base, 'demo-1.0-py3-none-any.whl'), {
      'demo/__init__.py': 'VALUE = 42\n',
      'demo/broken_template.py': 'def (:\n',
      'demo-1.0.dist-info/METADATA': 'Name: demo\nVersion: 1.0\n',
      'demo-1.0.data/purelib/extra.py': 'X = 1\n',
      'demo-1.0.data/scripts/demo-cli': '#!python\n',
    });
    const out = join(base, 'site-a');
    const files = await installSitePackages(root, runtime!, [wheel], out, never);
    expect(files).toEqual([
      '__pycache__/extra.cpython-313.pyc',
      'demo-1.0.dist-info/METADATA',
      'demo/__init__.py',
      'demo/__pycache__/__init__.cpython-313.pyc',
      'demo/broken_template.py',
      'extra.py',
    ]);
    const pyc = readFileSync(join(out, 'demo/__pycache__/__init__.cpython-313.pyc'));
    expect(pyc.readUInt32LE(4)).toBe(0b01); // PEP 552: hash-based, check_source unset
    expect(existsSync(join(out, 'demo-cli'))).toBe(false);
    // The same wheels give the same bytes.
    const again = join(base, 'site-b');
    await installSitePackages(root, runtime!, [wheel], again, never);
    for (const file of files) expect(readFileSync(join(again, file)).equals(readFileSync(join(out, file))), file).toBe(true);
  });

  it('refuses a member outside site-packages and a compiled extension, naming the wheel', async () => {
    const unsafe = makeWheel(join(base, 'evil-1.0-py3-none-any.whl'), { '../evil.py': 'x = 1\n' });
    const err = (await installSitePackages(root, runtime!, [unsafe], join(base, 'site-c'), never).catch(
      (e: unknown) => e,
    )) as UkernelError;
    expect(isUkernelError(err, 'BuildFailed')).toBe(true);
    expect(err.message).toBe("a locked wheel cannot be installed: evil-1.0-py3-none-any.whl: unsafe member path '../evil.py'");
    expect(existsSync(join(base, 'evil.py'))).toBe(false);
    const compiled = makeWheel(join(base, 'fast-1.0-py3-none-any.whl'), { 'fast/_speedups.so': 'ELF' });
    const err2 = (await installSitePackages(root, runtime!, [compiled], join(base, 'site-d'), never).catch(
      (e: unknown) => e,
    )) as UkernelError;
    expect(err2.message).toBe(
      'a locked wheel cannot be installed: fast-1.0-py3-none-any.whl: fast/_speedups.so is a compiled extension',
    );
  });
});
