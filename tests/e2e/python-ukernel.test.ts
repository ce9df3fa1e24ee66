// `import ukernel` (docs/python.md), tested twice over:
//
// 1. On the host, before and without the kernel: adapters/python/tests/host-test.sh links the
//    adapter's main.c and _ukernel.c with a stand-in ABI table against a host CPython 3.13 and
//    runs adapters/python/tests/every_api.py in a directory laid out like an image (sys.path,
//    argv, exit statuses, PYTHONHASHSEED, a missing entry, no ABI table). Skipped, with the
//    reason, when no CPython 3.13 development files are found (PYTHON_CONFIG or
//    python3.13-config on PATH).
//
// 2. In the guest under QEMU, as a new user would: `ukernel init --lang python --template
//    worker`, src/main.py replaced by every_api.py (every ukernel API once), `ukernel build`,
//    `ukernel run`; then `ukernel logs` must show the records with their fields, `ukernel trace`
//    the spans (decorated sync and async functions, interleaved coroutines, the 17th nested
//    span recorded as an event) and events, and the channel round trip must work inside asyncio.
//    Under Firecracker too when it is on PATH.
//    NEEDS everything of issue 10 merged: the POSIX layer (adapters/posix, libukposix.a), the
//    runtime build (adapters/python/build.sh) and the CLI's Python support (`init --lang
//    python`, the stdlib zip, the final link through adapters/python/link.sh). Until those files
//    are in the tree the block is skipped and says which are missing. The first run builds the
//    CPython runtime (minutes; cached afterwards under ~/.cache/ukernel/adapters).
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromeTraceProblems } from '../../cli/src/observe/trace.js';
import { accels, kvmUsable, onPath, requireBuilt, root, tempDir, ukernel, ukernelOk } from './helpers.js';

const HOST_TEST_MS = 300_000;
/** The first `ukernel build` of a Python project builds the CPython runtime (about 10 minutes
 * on 2 cores, more when other builds run); later builds reuse it. */
const BUILD_MS = 3_600_000;
const RUN_MS = 300_000;
const everyApi = readFileSync(join(root, 'adapters/python/tests/every_api.py'), 'utf8');

describe('import ukernel on the host (stand-in ABI table)', () => {
  it(
    'main.c, _ukernel.c and the ukernel package pass adapters/python/tests/host-test.sh',
    (context) => {
      const dir = tempDir();
      try {
        const result = spawnSync('bash', [join(root, 'adapters/python/tests/host-test.sh'), dir.path], {
          encoding: 'utf8',
          timeout: HOST_TEST_MS,
        });
        if (result.status === 77) {
          context.skip(result.stderr.trim());
          return;
        }
        expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
        expect(result.stdout).toMatch(/^host-test: ok/m);
      } finally {
        dir.remove();
      }
    },
    HOST_TEST_MS,
  );
});

/** The files the other parts of issue 10 add; the guest test needs all of them. */
const needed = [
  'adapters/posix/build.sh',
  'adapters/posix/include/ukposix.h',
  'adapters/python/build.sh',
  'adapters/python/link.sh',
  'cli/src/build/python.ts',
  'examples/python-worker/src/main.py',
];
const missing = needed.filter((path) => !existsSync(join(root, path)));
if (missing.length > 0) {
  console.warn(`python-ukernel.test.ts: the guest tests are skipped until these are merged: ${missing.join(', ')}`);
}

interface LogLine {
  type: string;
  level?: string;
  message?: string;
  fields?: Record<string, string>;
  text?: string;
}

describe.skipIf(missing.length > 0)('import ukernel in the guest', () => {
  let dir: { path: string; remove: () => void };
  let project: string;

  beforeAll(async () => {
    requireBuilt();
    dir = tempDir();
    project = join(dir.path, 'pyapi');
    mkdirSync(project);
    await ukernelOk(['init', '--name', 'pyapi', '--lang', 'python', '--template', 'worker'], project);
    writeFileSync(join(project, 'src/main.py'), everyApi);
    const build = await ukernelOk(['build'], project, BUILD_MS);
    expect(build.stdout + build.stderr).toContain('python-3.13');
  }, BUILD_MS);

  afterAll(() => dir?.remove());

  it('bin/python (adapters/python/link.sh) is a static PIE with the ukernel notes and no syscall instruction', () => {
    const adapter = join(project, 'build/adapter/python-3.13/python');
    const disassembly = spawnSync('objdump', ['-d', '--no-show-raw-insn', adapter], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    expect(disassembly.status, disassembly.stderr).toBe(0);
    expect(disassembly.stdout.length).toBeGreaterThan(1_000_000); // stripped: no symbols, all the code
    expect(disassembly.stdout.match(/\ssyscall\s*$/gm) ?? []).toEqual([]);
    const headers = spawnSync('readelf', ['-hlnW', adapter], { encoding: 'utf8' }).stdout;
    expect(headers).toMatch(/Type:\s+DYN/);
    expect(headers).not.toMatch(/INTERP/);
    expect(headers).toMatch(/ukernel\s+0x0+8\s+NT_VERSION/);
  });

  describe.each(accels)('%s', (accel) => {
    it(
      'every ukernel API works, and logs, trace and the channel show it',
      async () => {
        const run = await ukernelOk(['run', '--accel', accel], project, RUN_MS);
        const checks = run.stdout.split('\n').filter((line) => line.startsWith('check: '));
        expect(
          checks.filter((line) => !/ ok\b/.test(line)),
          run.stdout,
        ).toEqual([]);
        expect(checks.map((line) => line.split(' ')[1])).toEqual([
          'available',
          'abi',
          'fields-limit',
          'sync-decorator',
          'async-decorator',
          'interleaved-spans',
          'over-limit',
          'name-limit',
          'clock',
          'recv-empty',
          'channel-round-trip',
          'send-after-close',
          'released',
          'two-receivers',
          'recv-timeout',
          'send-full',
          'recv-nowait',
        ]);
        expect(run.stdout).toMatch(/^every-api: ok$/m);

        const logs = (await ukernelOk(['logs', '--json'], project)).stdout
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line) as LogLine)
          .filter((line) => line.type === 'log');
        const record = (message: string) => logs.find((line) => line.message === message);
        expect(record('py-debug record')).toMatchObject({ level: 'debug', fields: { level: 'debug' } });
        expect(record('py-info record')).toMatchObject({
          level: 'info',
          fields: { job: '7', ratio: '1.5', text: 'a b' },
        });
        expect(record('py-warn record')).toMatchObject({ level: 'warn', fields: { attempt: '2' } });
        expect(record('py-error record')).toMatchObject({ level: 'error', fields: { reason: 'bad' } });
        // Messages and values past one events record (64 KiB) are cut to fit, not dropped (the
        // CLI shows 4 KiB of a text and says how much more there is).
        const huge = logs.find((line) => line.message?.startsWith('py-huge record m'));
        expect(huge?.message).toMatch(/^py-huge record m+… \[[0-9]+ more bytes cut\]$/);
        expect(huge?.fields).toHaveProperty('big');
        const hugeFields = record('py-huge fields');
        expect(Object.keys(hugeFields?.fields ?? {})).toHaveLength(16);
        expect(hugeFields?.fields?.f0).toMatch(/^é+… \[[0-9]+ more bytes cut\]$/);
        expect(run.stderr).not.toMatch(/dropped/);
        expect(logs.find((line) => line.message?.startsWith('ukernel.trace: too many spans open'))).toMatchObject({
          level: 'warn',
          fields: { span: 'py-deep' },
        });
        const text = (await ukernelOk(['logs'], project)).stdout;
        expect(text).toMatch(/ info  \[task 0\] py-info record job=7 ratio=1.5 text="a b"$/m);

        const trace = JSON.parse((await ukernelOk(['trace', '--json'], project)).stdout);
        const spans = Object.fromEntries(trace.spans.map((s: { name: string }) => [s.name, s]));
        expect(spans['python-init']).toMatchObject({ count: 1, unclosed: 0 }); // main.c: CPython's start-up
        expect(spans['py-outer']).toMatchObject({ count: 1, unclosed: 0 });
        expect(spans['py-decorated-sync']).toMatchObject({ count: 1, unclosed: 0 });
        expect(spans['py-decorated-async']).toMatchObject({ count: 1, unclosed: 0 });
        // The awaited body (asyncio.sleep(0.01)) is inside the async decorator's span.
        expect(spans['py-decorated-async'].max_ns).toBeGreaterThanOrEqual(10_000_000);
        // Two coroutines interleaved their spans (the first ended first); both closed, each
        // covering its own sleep (10 ms and 40 ms).
        expect(spans['py-shared']).toMatchObject({ count: 2, unclosed: 0 });
        expect(spans['py-shared'].max_ns).toBeGreaterThanOrEqual(40_000_000);
        expect(spans['py-deep']).toMatchObject({ count: 16, unclosed: 0 });
        const events = Object.fromEntries(trace.events.map((e: { name: string }) => [e.name, e]));
        expect(events['py-event']).toMatchObject({ count: 1, last: 12345 });
        expect(events['py-deep']).toMatchObject({ count: 1 });

        mkdirSync(join(project, 'out'), { recursive: true });
        await ukernelOk(['trace', '--export', 'chrome', 'out/trace.json'], project);
        const exported = JSON.parse(readFileSync(join(project, 'out/trace.json'), 'utf8'));
        expect(chromeTraceProblems(exported)).toEqual([]);
        const names = new Set(exported.traceEvents.map((e: { name: string }) => e.name));
        for (const name of ['py-outer', 'py-decorated-async', 'py-shared', 'py-event']) expect(names).toContain(name);
      },
      RUN_MS,
    );

    it(
      'sys.exit(n) and an uncaught exception give their status, the traceback names src/main.py; UTF-8 arguments',
      async () => {
        const exited = await ukernel(['run', '--accel', accel, '--', 'exit', '3'], project, RUN_MS);
        expect(exited.code, exited.stdout + exited.stderr).toBe(3);
        const raised = await ukernel(['run', '--accel', accel, '--', 'raise'], project, RUN_MS);
        expect(raised.code, raised.stdout + raised.stderr).toBe(1);
        const output = raised.stdout + raised.stderr;
        expect(output).toMatch(/File "\/src\/main\.py", line \d+, in fail_here/);
        expect(output).toContain('RuntimeError: every_api: raised on purpose');
        // Non-ASCII arguments arrive decoded (UTF-8 mode: musl's C locale alone would not).
        const argv = await ukernelOk(['run', '--accel', accel, '--', 'argv', 'héllo☃', 'x=1'], project, RUN_MS);
        expect(argv.stdout).toContain("argv: ['héllo☃', 'x=1'] /src/main.py 1");
      },
      RUN_MS,
    );
  });

  it(
    'runs under Firecracker too (when firecracker is on PATH and KVM usable)',
    async (context) => {
      if (!onPath('firecracker') || !kvmUsable()) {
        context.skip('firecracker not on PATH or /dev/kvm not usable');
        return;
      }
      const run = await ukernelOk(['run', '--vmm', 'firecracker'], project, RUN_MS);
      expect(run.stdout).toMatch(/^every-api: ok$/m);
      const trace = JSON.parse((await ukernelOk(['trace', '--json'], project)).stdout);
      const spans = Object.fromEntries(trace.spans.map((s: { name: string }) => [s.name, s]));
      expect(spans['py-shared']).toMatchObject({ count: 2, unclosed: 0 });
    },
    RUN_MS,
  );

  it(
    'the str hash seed is random per run, and PYTHONHASHSEED in env/ukernel.env fixes it',
    async () => {
      const hash = async () => {
        const result = await ukernelOk(['run', '--accel', accels[0] ?? 'tcg', '--', 'hash'], project, RUN_MS);
        return /^hash: (-?\d+)$/m.exec(result.stdout)?.[1];
      };
      const random = [await hash(), await hash()];
      expect(random[0]).toBeDefined();
      expect(random[0]).not.toBe(random[1]); // Seeds from random.fill (getrandom in the POSIX layer).
      appendFileSync(join(project, 'env/ukernel.env'), 'PYTHONHASHSEED=0\n');
      await ukernelOk(['build'], project, BUILD_MS);
      const fixed = [await hash(), await hash()];
      expect(fixed[0]).toBeDefined();
      expect(fixed[0]).toBe(fixed[1]);
    },
    2 * RUN_MS,
  );
});
