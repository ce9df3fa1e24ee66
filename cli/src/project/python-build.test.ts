// `ukernel build` on a Python project, for real with a CPython 3.13 runtime (python-fixture.ts):
// a syntax error fails the build with UK159 at file:line:column and leaves build/ as it was; the
// build then needs the final link (adapters/python/link.sh) and lays out the rootfs.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { build } from '../commands/build.js';
import { init } from '../commands/init.js';
import { PYTHON_ADAPTER_LINK_SCRIPT } from '../constants.js';
import { readBundle } from '../build/bundle.js';
import { testRuntime } from '../build/python-fixture.js';
import { readToolchainPins, ukernelRoot } from '../toolchain.js';
import type { Optimize } from '../build/zig.js';
import { currentBuild, workflowContext } from './workflow.js';

const base = mkdtempSync(join(tmpdir(), 'uk-pybuild-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const runtime = testRuntime(base);
const linkExists = existsSync(join(ukernelRoot(), PYTHON_ADAPTER_LINK_SCRIPT));
let count = 0;

async function pythonProject(): Promise<string> {
  const dir = join(base, `p${count++}`);
  mkdirSync(dir);
  const zigVersion = readToolchainPins(ukernelRoot()).zigVersion;
  await init({ name: 'pyw', lang: 'python', template: 'worker' }, { cwd: dir, say: () => {}, zigVersion });
  return dir;
}

function env(): NodeJS.ProcessEnv {
  return { ...process.env, UKERNEL_PYTHON_RUNTIME: runtime!.dir, XDG_CACHE_HOME: join(base, 'cache'), CI: '1' };
}

describe.skipIf(runtime === null)('ukernel build (Python project)', () => {
  it('a syntax error in src/ fails with UK159 at file:line:column, and build/ keeps the last build', async () => {
    const dir = await pythonProject();
    mkdirSync(join(dir, 'src', 'stages'));
    writeFileSync(join(dir, 'src', 'stages', 'parse.py'), 'def parse(line):\n    return line.split(\n\nVALUE = 1\n');
    // A previous build's outputs, which a failed build must not touch.
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'build.json'), '{"format":1,"previous":true}\n');
    writeFileSync(join(dir, 'build', 'bundle.tgz'), 'previous');
    const said: string[] = [];
    const err = await build({}, { cwd: dir, env: env(), say: (line) => said.push(line) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UK159', exitCode: 2 });
    expect((err as Error).message).toMatch(/^src\/stages\/parse\.py:2:\d+: SyntaxError: '\(' was never closed$/);
    expect(said).toEqual([]);
    expect(readFileSync(join(dir, 'build', 'build.json'), 'utf8')).toBe('{"format":1,"previous":true}\n');
    expect(readFileSync(join(dir, 'build', 'bundle.tgz'), 'utf8')).toBe('previous');
    expect(readdirSync(join(dir, 'build')).sort()).toEqual(['build.json', 'bundle.tgz']); // no temp dirs, no adapter/
  }, 120_000);

  it('a file under src/ whose image path is not a rootfs path fails the build naming it, before anything is written', async () => {
    const dir = await pythonProject();
    const long = `src/${'d'.repeat(200)}/${'m'.repeat(40)}.py`; // 250 bytes; its .pyc is longer than 255
    const cases: Array<[string, RegExp]> = [
      ['src/données.csv', /^src\/données\.csv: its path in the image contains a byte outside printable ASCII/],
      [
        long,
        /^src\/d+\/__pycache__\/m+\.cpython-313\.pyc \(compiled from src\/d+\/m+\.py\): its path in the image is longer than 255 bytes/,
      ],
    ];
    for (const [path, message] of cases) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), 'X = 1\n');
      const err = await build({}, { cwd: dir, env: env(), say: () => {} }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UK118', exitCode: 2 });
      expect((err as Error).message).toMatch(message);
      expect(existsSync(join(dir, 'build', 'bundle.tgz'))).toBe(false);
      rmSync(join(dir, path));
    }
  }, 120_000);

  it('data under src/ larger than an image can be fails the build naming the largest file, before reading it', async () => {
    const dir = await pythonProject();
    mkdirSync(join(dir, 'src', 'data'));
    const big = join(dir, 'src', 'data', 'big.bin');
    writeFileSync(big, '');
    truncateSync(big, 1.5 * 1024 ** 3); // sparse: no disk used
    const err = await build({}, { cwd: dir, env: env(), say: () => {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UK118', exitCode: 2 });
    expect((err as Error).message).toMatch(
      /^the files under src\/ take 1\.5 GiB, more than an image holds \(1 GiB\); the largest: src\/data\/big\.bin/,
    );
    expect(existsSync(join(dir, 'build', 'bundle.tgz'))).toBe(false);
  }, 120_000);

  it.skipIf(linkExists)(
    'without the final link in the checkout, the build stops with UK161 naming it',
    async () => {
      const dir = await pythonProject();
      const err = await build({}, { cwd: dir, env: env(), say: () => {} }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UK161' });
      expect((err as Error).message).toContain(PYTHON_ADAPTER_LINK_SCRIPT);
      expect(existsSync(join(dir, 'build', 'bundle.tgz'))).toBe(false);
    },
    120_000,
  );

  it.skipIf(!linkExists)(
    'builds the rootfs of py-design.md and says where the adapter runtime is',
    async () => {
      const dir = await pythonProject();
      writeFileSync(join(dir, 'src', 'helper.py'), 'VALUE = 1\n');
      mkdirSync(join(dir, 'src', 'data'));
      writeFileSync(join(dir, 'src', 'data', 'greeting.txt'), 'hello\n'); // data: open()'d by the code
      const said: string[] = [];
      await build({}, { cwd: dir, env: env(), say: (line) => said.push(line) });
      expect(said).toEqual(['Built workload bundle: build/bundle.tgz', 'Adapter runtime: build/adapter/python-3.13']);
      const files = readBundle(readFileSync(join(dir, 'build', 'bundle.tgz')), 'bundle');
      const paths = files.filter((f) => f.kind === 'file').map((f) => f.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'bin/python',
          'lib/python313.zip',
          'src/main.py',
          'src/helper.py',
          'src/__pycache__/helper.cpython-313.pyc',
          'src/data/greeting.txt',
          'etc/ukernel/python-entry',
          'etc/ukernel.env',
        ]),
      );
      expect(paths).not.toContain('src/__pycache__/main.cpython-313.pyc');
      expect(files.find((f) => f.path === 'etc/ukernel/python-entry')?.data.toString()).toBe('src/main.py');
      expect(files.find((f) => f.path === 'src/data/greeting.txt')).toMatchObject({ mode: 0o644, data: Buffer.from('hello\n') });
      expect(files.find((f) => f.path === 'bin/python')?.mode).toBe(0o755);
      const record = JSON.parse(readFileSync(join(dir, 'build', 'adapter', 'python-3.13', 'runtime.json'), 'utf8'));
      expect(record).toMatchObject({ adapter: 'python-3.13', runtime: { key: runtime!.key } });
      expect(existsSync(join(dir, 'build', 'adapter', 'python-3.13', 'python'))).toBe(true);
      // A second build gives the same bundle (the zip comes from the cache).
      const first = readFileSync(join(dir, 'build', 'bundle.tgz'));
      await build({}, { cwd: dir, env: env(), say: () => {} });
      expect(readFileSync(join(dir, 'build', 'bundle.tgz')).equals(first)).toBe(true);
    },
    600_000,
  );

  it.skipIf(!linkExists)(
    '[build] python_stdlib_tests puts the named tests under lib/python3.13/ as files with .pyc; an unknown name is UK162',
    async () => {
      const dir = await pythonProject();
      const toml = join(dir, 'ukernel.toml');
      const withTests = (names: string): void =>
        writeFileSync(
          toml,
          readFileSync(toml, 'utf8').replace(
            /\[build\]\n(python_stdlib_tests = .*\n)?/,
            `[build]\npython_stdlib_tests = ${names}\n`,
          ),
        );
      withTests('["test.test_math", "test.mathdata"]');
      await build({}, { cwd: dir, env: env(), say: () => {} });
      const files = readBundle(readFileSync(join(dir, 'build', 'bundle.tgz')), 'bundle');
      const paths = files.filter((f) => f.kind === 'file').map((f) => f.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'lib/python3.13/test/__init__.py',
          'lib/python3.13/test/__pycache__/__init__.cpython-313.pyc',
          'lib/python3.13/test/test_math.py',
          'lib/python3.13/test/__pycache__/test_math.cpython-313.pyc',
          'lib/python3.13/test/mathdata/ieee754.txt',
        ]),
      );
      expect(paths.filter((p) => p.startsWith('lib/python3.13/test/support/'))).toEqual([]);
      const pyc = files.find((f) => f.path === 'lib/python3.13/test/__pycache__/test_math.cpython-313.pyc')!.data;
      expect(pyc.readUInt32LE(4)).toBe(0b01); // PEP 552 flags: hash-based, unchecked

      // The list is one of the build's inputs: the build is current until it changes.
      const { optimize } = JSON.parse(readFileSync(join(dir, 'build', 'build.json'), 'utf8')) as { optimize: Optimize };
      const current = (): boolean =>
        currentBuild(
          workflowContext(dir, env(), () => {}),
          optimize,
        ) !== null;
      expect(current()).toBe(true);
      withTests('["test.test_math", "test.mathdata", "test.support"]');
      expect(current()).toBe(false);

      const before = readFileSync(join(dir, 'build', 'bundle.tgz'));
      withTests('["test.test_math", "test.no_such_test"]');
      const err = await build({}, { cwd: dir, env: env(), say: () => {} }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UK162', exitCode: 2 });
      expect((err as Error).message).toMatch(/^ukernel\.toml: build\.python_stdlib_tests: "test\.no_such_test" is not in \//);
      expect(readFileSync(join(dir, 'build', 'bundle.tgz')).equals(before)).toBe(true);
    },
    600_000,
  );
});
