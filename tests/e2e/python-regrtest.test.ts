// CPython's own regression tests (issue 10, Deliver 7) inside the guest, compared with the same
// tests on the host (docs/python.md, "CPython's tests in the guest").
//
// tests/workloads/python-regrtest is built once: its ukernel.toml puts the test packages in the
// image as real files (`[build] python_stdlib_tests`) and its src/main.py runs them with unittest
// and prints one line per module and one per test that did not pass (the format is in its
// docstring). Then:
//   - the host side: the runtime's host python3.13 (the same CPython source and flags, built for
//     the host) runs the same main.py over a copy of the image's lib/python3.13 taken from the
//     bundle, in a temporary directory, with -I -X utf8 (the guest runs in UTF-8 mode too);
//   - the guest side: one `ukernel run -- MODULE` per module under QEMU (KVM when usable, else
//     TCG), each bounded, so a module that hangs or crashes is that module's failure alone.
// For every module it prints host passed/run and guest passed/run and every test whose outcome
// differs, with its reason, and it asserts:
//   - the VM ended with the runner's own status (the `regrtest-done` line's), never a fault;
//   - the guest passes at least GUEST_PASS_FLOOR of the host's passes (set from measurement);
//   - every test that fails or errors in the guest but not on the host is explained: its
//     detail matches one of EXPLAINED (a feature the guest does not have, by design).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProjectCopy, kvmUsable, requireBuilt, root, run, tempDir } from './helpers.js';

/** The first build may build the CPython runtime (minutes); later builds reuse it. */
const BUILD_MS = 3_600_000;
/** One module in one VM: test_asyncio.test_tasks takes about 20 s under KVM here. */
const MODULE_S = { kvm: 300, tcg: 1800 } as const;
const HOST_MS = 900_000;

const MODULES = [
  'test_json',
  'test_re',
  'test_collections',
  'test_itertools',
  'test_functools',
  'test_dataclasses',
  'test_datetime',
  'test_math',
  'test_struct',
  'test_zlib',
  'test_asyncio.test_tasks',
  'test_asyncio.test_queues',
  'test_asyncio.test_locks',
  'test_asyncio.test_timeouts',
  'test_asyncio.test_streams',
] as const;

/**
 * The least share of the host's passing tests that must pass in the guest, per module (measured
 * under KVM on this machine, docs/python.md). Below 1 only where the guest lacks a feature the
 * module's tests use: subprocesses and a writable file system (test_json's test_tool), threads
 * (test_asyncio's run_in_executor and test servers).
 */
const GUEST_PASS_FLOOR: Record<string, number> = {
  test_json: 0.9,
  'test_asyncio.test_streams': 0.75,
};
const GUEST_PASS_FLOOR_DEFAULT = 0.95;

/**
 * Why a test can fail or error in the guest and not on the host: the guest has no such feature
 * (docs/python.md, "CPython's tests in the guest"). `id`, when given, limits an entry to tests
 * whose id matches.
 */
const EXPLAINED: Array<{ detail: RegExp; id?: RegExp; why: string }> = [
  {
    detail: /can't start new thread/,
    why: 'no threads: the POSIX layer refuses clone (asyncio run_in_executor, test servers on threads)',
  },
  { detail: /\[Errno 30\] Read-only file system/, why: 'the root file system is read-only: no file can be created' },
  { detail: /\[Errno 38\] Function not implemented/, why: 'no processes: fork/execve are refused (subprocess)' },
  {
    id: /\.test_unclosed_server_resource_warnings$/,
    detail: /^AssertionError: Lists differ: .*'exception': AssertionError\('[0-9]+ != 1'\)/,
    why:
      'counts the ResourceWarnings of one gc.collect(), which also collects the sockets that the ' +
      'thread-less tests before it left open (it passes when run alone)',
  },
];

interface Outcome {
  status: string;
  detail: string;
}

interface ModuleResult {
  counts: Record<string, number> | null;
  /** Test id → its outcome, for every test that did not pass (a failing one's first line wins). */
  cases: Map<string, Outcome>;
  done: { status: number } | null;
  /** The runner's `regrtest-platform` line: guest, subprocess, threads, stdout encoding, ... */
  platform: Record<string, string>;
}

/** The runner's lines (src/main.py's docstring) for one module, or all of them. */
function parse(stdout: string, module: string): ModuleResult {
  const result: ModuleResult = { counts: null, cases: new Map(), done: null, platform: {} };
  for (const line of stdout.split('\n')) {
    const caseLine = /^regrtest-case: (\S+) (\S+) (\S+) :: (.*)$/.exec(line);
    if (caseLine !== null && caseLine[1] === module) {
      if (!result.cases.has(caseLine[3]!)) result.cases.set(caseLine[3]!, { status: caseLine[2]!, detail: caseLine[4]! });
      continue;
    }
    const counts = /^regrtest: (\S+) (.*)$/.exec(line);
    if (counts !== null && counts[1] === module) {
      result.counts = Object.fromEntries(
        counts[2]!.split(' ').map((pair) => {
          const [key, value] = pair.split('=');
          return [key!, Number(value)];
        }),
      );
      continue;
    }
    if (line.startsWith('regrtest-platform: ')) {
      result.platform = Object.fromEntries(
        line
          .slice('regrtest-platform: '.length)
          .split(' ')
          .map((p) => p.split('=')),
      );
      continue;
    }
    const done = /^regrtest-done: .* status=([0-9]+)$/.exec(line);
    if (done !== null) result.done = { status: Number(done[1]) };
  }
  return result;
}

function explain(id: string, detail: string): string | null {
  return EXPLAINED.find((e) => e.detail.test(detail) && (e.id === undefined || e.id.test(id)))?.why ?? null;
}

const chain = existsSync(join(root, 'adapters/python/build.sh')) && existsSync(join(root, 'adapters/python/link.sh'));
const accel = kvmUsable() ? 'kvm' : 'tcg';

describe.skipIf(!chain)(`CPython's regression tests in the guest (${accel}) and on the host`, () => {
  let work: ReturnType<typeof tempDir>;
  let project: string;
  let host: string;
  const table: string[] = [];

  beforeAll(async () => {
    requireBuilt();
    work = tempDir();
    ({ project } = await buildProjectCopy('python-regrtest', work.path, BUILD_MS));
    const hostLib = join(work.path, 'host-lib');
    mkdirSync(hostLib);
    const untar = spawnSync('tar', ['-xzf', join(project, 'build/bundle.tgz'), '-C', hostLib, 'lib/python3.13'], {
      encoding: 'utf8',
    });
    expect(untar.status, untar.stderr).toBe(0);
    const record = JSON.parse(readFileSync(join(project, 'build/adapter/python-3.13/runtime.json'), 'utf8')) as {
      runtime: { dir: string };
    };
    const python = join(record.runtime.dir, 'host/bin/python3.13');
    const cwd = join(work.path, 'host-cwd');
    mkdirSync(cwd);
    const args = ['-I', '-X', 'utf8', join(project, 'src/main.py'), '--path', join(hostLib, 'lib/python3.13'), ...MODULES];
    const ran = await run(python, args, { cwd, timeoutMs: HOST_MS });
    expect(ran.stdout, ran.stderr).toMatch(/^regrtest-done: /m);
    host = ran.stdout;
  }, BUILD_MS + HOST_MS);

  afterAll(() => {
    if (table.length > 0) console.log(['python-regrtest: module  host passed/run  guest passed/run', ...table].join('\n'));
    work?.remove();
  });

  it.each(MODULES)(
    '%s: the guest passes what the host passes, but for explained differences',
    async (module) => {
      const ran = await run(
        process.execPath,
        [join(root, 'cli/bin/ukernel.mjs'), 'run', '--accel', accel, '--timeout', String(MODULE_S[accel]), '--', module],
        { cwd: project, timeoutMs: (MODULE_S[accel] + 60) * 1000 },
      );
      const guest = parse(ran.stdout, module);
      const hostResult = parse(host, module);
      // The VM ends with the runner's status: the module ran to its end, nothing crashed.
      expect(guest.done, `no regrtest-done line:\n${ran.stdout.slice(-4000)}\n${ran.stderr.slice(-2000)}`).not.toBeNull();
      expect(ran.code, ran.stderr.slice(-2000)).toBe(guest.done!.status);
      // The adapter's UTF-8 mode: under musl's C locale stdout would be ASCII, and printing any
      // non-ASCII test detail would raise UnicodeEncodeError. time.tzset: the cross build has it
      // only because config.site answers configure's run test (test_datetime needs it).
      expect(guest.platform).toMatchObject({ guest: 'yes', subprocess: 'no', threads: 'no', stdout: 'utf-8', tzset: 'yes' });
      expect(guest.counts).not.toBeNull();
      expect(hostResult.counts).not.toBeNull();

      const lines: string[] = [];
      const unexplained: string[] = [];
      const ids = new Set([...guest.cases.keys(), ...hostResult.cases.keys()]);
      for (const id of [...ids].sort()) {
        const g = guest.cases.get(id) ?? { status: 'pass', detail: '' };
        const h = hostResult.cases.get(id) ?? { status: 'pass', detail: '' };
        if (g.status === h.status && g.detail === h.detail) continue;
        const why = g.status === 'skip' || g.status === 'pass' ? g.detail || 'passes in the guest' : explain(id, g.detail);
        lines.push(
          `    ${id}: host ${h.status}, guest ${g.status}: ${g.detail || '-'}${why !== null && why !== g.detail ? ` [${why}]` : ''}`,
        );
        if ((g.status === 'fail' || g.status === 'error' || g.status === 'load') && why === null) unexplained.push(id);
      }
      const gc = guest.counts!;
      const hc = hostResult.counts!;
      table.push(`  ${module}  ${hc.passed}/${hc.run}  ${gc.passed}/${gc.run}`, ...lines);
      console.log(
        `python-regrtest: ${module}: host ${hc.passed}/${hc.run} passed, guest ${gc.passed}/${gc.run}\n${lines.join('\n')}`,
      );

      const floor = Math.floor((GUEST_PASS_FLOOR[module] ?? GUEST_PASS_FLOOR_DEFAULT) * hc.passed!);
      expect(gc.passed, `${module}: guest passes ${gc.passed}, floor ${floor}`).toBeGreaterThanOrEqual(floor);
      expect(unexplained, `${module}: guest-only failures without an explanation`).toEqual([]);
    },
    (MODULE_S[accel] + 120) * 1000,
  );
});
