// The Python worker template as a new user meets it: `ukernel init --lang python --template
// worker` in an empty directory, then `ukernel run` builds the adapter (once), boots, prints
// the pipeline's results and exits 0 (QEMU, and Firecracker when on PATH); `inspect` shows the
// adapter; `trace` the Python spans.
// The boot needs the whole chain (adapters/python/build.sh and link.sh in this checkout); the
// syntax-error case needs only a CPython 3.13 for the host side (cli/src/build/python-fixture.ts).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterCacheDir } from '../../cli/src/build/python.js';
import { testRuntime } from '../../cli/src/build/python-fixture.js';
import { cliPath, onPath, requireBuilt, root, run, tempDir, ukernelOk } from './helpers.js';

/** The first build compiles CPython, musl and zlib: minutes on this machine. */
const FIRST_BUILD_MS = 3_600_000;
const chain = existsSync(join(root, 'adapters/python/build.sh')) && existsSync(join(root, 'adapters/python/link.sh'));
let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work.remove());

async function pythonProject(name: string): Promise<string> {
  const dir = join(work.path, name);
  mkdirSync(dir);
  const init = await ukernelOk(['init', '--name', name, '--lang', 'python', '--template', 'worker'], dir);
  expect(init.stdout).toBe('Created ukernel.toml\nCreated src/main.py\nCreated env/ukernel.env\nCreated .gitignore\n');
  return dir;
}

describe('ukernel build: a Python syntax error', () => {
  it('fails with exit 2 and UK159 at file:line:column, and writes no bundle', async () => {
    const runtime = testRuntime(work.path);
    if (runtime === null) return void console.warn('python-template: no CPython 3.13 here; skipped');
    const dir = await pythonProject('pysyntax');
    writeFileSync(join(dir, 'src', 'main.py'), 'import asyncio\n\nasync def main(:\n    pass\n');
    const result = await run(process.execPath, [cliPath, 'build'], {
      cwd: dir,
      timeoutMs: 120_000,
      env: { ...process.env, UKERNEL_PYTHON_RUNTIME: runtime.dir, XDG_CACHE_HOME: join(work.path, 'cache') },
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/^error UK159: src\/main\.py:3:16: SyntaxError: /m);
    expect(result.stderr).toContain('async def main(:');
    expect(existsSync(join(dir, 'build', 'bundle.tgz'))).toBe(false);
  }, 180_000);
});

describe.skipIf(!chain)('the Python worker template end to end (QEMU)', () => {
  it(
    'init → run: builds the adapter, boots, prints the pipeline and exits 0; inspect and trace see Python',
    async () => {
      const dir = await pythonProject('pyw');
      const ran = await ukernelOk(['run', '--', '12', '3'], dir, FIRST_BUILD_MS);
      expect(ran.stdout).toContain('hello from pyw: 12 jobs, 3 workers');
      expect(ran.stdout.match(/^job +[0-9]+ -> +[0-9]+ \(worker [0-2]\)$/gm)).toHaveLength(12);
      expect(ran.stdout).toMatch(/^pipeline done: 12 results, total [0-9]+$/m);
      expect(ran.stderr).toContain('Adapter runtime: build/adapter/python-3.13');

      const inspect = await ukernelOk(['inspect', 'dist/pyw.img'], dir);
      expect(inspect.stdout).toMatch(/^Adapter: python-3\.13$/m);
      expect(inspect.stdout).toMatch(/^Entry: bin\/python$/m);
      expect(inspect.stdout).toMatch(/^ {2}source python3\.13 /m);

      const trace = join(dir, 't.json');
      await ukernelOk(['trace', '--export', 'chrome', trace], dir);
      const names = new Set((JSON.parse(readFileSync(trace, 'utf8')).traceEvents as Array<{ name: string }>).map((e) => e.name));
      for (const name of ['pipeline', 'producer', 'worker-0', 'aggregator', 'result']) expect(names).toContain(name);

      const logs = await ukernelOk(['logs'], dir);
      expect(logs.stdout).toContain('pipeline done');

      // The most workers the template takes: every stage still gets its own span (the kernel
      // keeps 16 open per task), with no over-limit warning.
      const most = await ukernelOk(['run', '--', '30', '99'], dir);
      const workers = Number(/^hello from pyw: 30 jobs, ([0-9]+) workers$/m.exec(most.stdout)?.[1]);
      expect(workers).toBeGreaterThan(3);
      expect((await ukernelOk(['logs'], dir)).stdout).not.toContain('too many spans open');
      const spans = JSON.parse((await ukernelOk(['trace', '--json'], dir)).stdout).spans as Array<{ name: string }>;
      expect(spans.filter((s) => s.name.startsWith('worker-'))).toHaveLength(workers);

      // bin/python names no directory of this machine (the runtime's temporary build directory,
      // the adapter cache, the checkout): the same runtime key gives the same bytes anywhere.
      const python = readFileSync(join(dir, 'build/adapter/python-3.13/python'));
      for (const local of [adapterCacheDir(process.env), root, '.build.']) expect(python.indexOf(local)).toBe(-1);

      // Issue 10's memory budget: the template runs in 32 MiB (bench/python (c) finds the least;
      // this keeps it from creeping back up).
      const small = await ukernelOk(['run', '--memory', '32'], dir);
      expect(small.stdout).toMatch(/^pipeline done: [0-9]+ results, total [0-9]+$/m);
    },
    FIRST_BUILD_MS + 300_000,
  );

  it.skipIf(!onPath('firecracker'))(
    'the same image runs under Firecracker',
    async () => {
      const dir = await pythonProject('pyfc');
      const ran = await ukernelOk(['run', '--vmm', 'firecracker', '--', '6', '2'], dir, FIRST_BUILD_MS);
      expect(ran.stdout).toContain('hello from pyfc: 6 jobs, 2 workers');
      expect(ran.stdout).toMatch(/^pipeline done: 6 results, total 3303495$/m);
      expect(ran.stderr).toMatch(/on firecracker\/kvm .* status 0$/m);
    },
    FIRST_BUILD_MS + 300_000,
  );
});
