// Faults in a Python workload end cleanly, with the right status (issue 10, Deliver 7), and a
// system call the POSIX layer does not serve is reported once: tests/workloads/python-faults
// (src/main.py says what each mode does) under QEMU, as a user runs it.
//
// - MemoryError at a small --memory (48 MiB): 1 MiB blocks and small objects until MemoryError,
//   caught (exit 0, and memory can be allocated again) and not caught (a traceback, exit 1, not a
//   kernel fault).
// - Recursion: Python recursion and C recursion over a 100,000-deep list (json.dumps, repr,
//   pickle, ==, json.loads) and a __repr__ calling repr under a raised recursion limit, each a
//   RecursionError, caught (exit 0) and not caught (exit 1). C recursion runs on the first task's
//   stack: the adapter asks for 8 MiB in PT_GNU_STACK (adapters/python/link.sh); with 1 MiB the
//   __repr__ case overflowed the stack (a kernel fault, status 101) instead.
// - The missing-syscall report: os.getpriority (getpriority, which the layer does not serve)
//   raises OSError ENOSYS twice, and `ukernel logs` holds exactly one record naming the call.
// sys.exit(n) and an uncaught exception's status and traceback are in python-ukernel.test.ts.
//
// Runs under QEMU with each accelerator the host has (KVM and TCG here), and again under
// Firecracker when `firecracker` is on PATH and /dev/kvm is usable (skipped, saying so,
// otherwise). Skipped, saying so, until the adapter's build (adapters/python/build.sh, link.sh)
// is in the checkout.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, buildProjectCopy, kvmUsable, onPath, requireBuilt, root, tempDir, ukernel, ukernelOk } from './helpers.js';

const BUILD_MS = 3_600_000;
const RUN_MS = 180_000;
/** Small enough that the allocations run out quickly, big enough for the adapter to start
 * (the 8 MiB first-task stack included). */
const SMALL_MEMORY_MIB = '48';

const chain = existsSync(join(root, 'adapters/python/build.sh')) && existsSync(join(root, 'adapters/python/link.sh'));
const firecracker = onPath('firecracker') && kvmUsable();
/** Each VMM's `ukernel run` arguments, and why it is skipped (null: it runs). */
const vmms: Array<[string, string[], string | null]> = [
  ...accels.map((accel): [string, string[], null] => [`qemu/${accel}`, ['--accel', accel], null]),
  ['firecracker', ['--vmm', 'firecracker'], firecracker ? null : 'firecracker not on PATH or /dev/kvm not usable'],
];

describe.skipIf(!chain).each(vmms)('faults in a Python workload (%s)', (_name, vmmArgs, skipWhy) => {
  let work: ReturnType<typeof tempDir>;
  let project: string;

  beforeAll(async () => {
    if (skipWhy !== null) return;
    requireBuilt();
    work = tempDir();
    project = (await buildProjectCopy('python-faults', work.path, BUILD_MS)).project;
  }, BUILD_MS);

  afterAll(() => work?.remove());

  const runMode = (mode: string, extra: string[] = []) => ukernel(['run', ...vmmArgs, ...extra, '--', mode], project, RUN_MS);

  it(
    `MemoryError at --memory ${SMALL_MEMORY_MIB}: caught, the program goes on and exits 0`,
    async (context) => {
      if (skipWhy !== null) return context.skip(skipWhy);
      const result = await runMode('memory', ['--memory', SMALL_MEMORY_MIB]);
      const output = result.stdout + result.stderr;
      expect(result.stdout).toMatch(/^memory: 1 MiB blocks: MemoryError caught$/m);
      expect(result.stdout).toMatch(/^memory: small objects: MemoryError caught$/m);
      expect(result.stdout).toMatch(/^memory: allocated 8 MiB again after it$/m);
      expect(result.code, output).toBe(0);
    },
    RUN_MS,
  );

  it(
    `MemoryError at --memory ${SMALL_MEMORY_MIB}, not caught: a traceback naming src/main.py and exit 1, not a kernel fault`,
    async (context) => {
      if (skipWhy !== null) return context.skip(skipWhy);
      const result = await runMode('memory-uncaught', ['--memory', SMALL_MEMORY_MIB]);
      const output = result.stdout + result.stderr;
      expect(output).toMatch(/File "\/src\/main\.py", line \d+, in allocate_until_exhausted/);
      expect(output).toMatch(/^MemoryError$/m);
      expect(output).not.toMatch(/status 10[0-9] \(|panic/);
      expect(result.code, output).toBe(1);
    },
    RUN_MS,
  );

  it(
    'RecursionError from Python and from C recursion (json, repr, pickle, ==, __repr__), caught: exit 0',
    async (context) => {
      if (skipWhy !== null) return context.skip(skipWhy);
      const result = await runMode('recursion');
      const output = result.stdout + result.stderr;
      const caught = result.stdout.split('\n').filter((line) => / RecursionError caught /.test(line));
      expect(
        caught.map((line) => line.split(':')[1]!.trim()),
        output,
      ).toEqual(['python', 'json.dumps', 'repr', 'pickle.dumps', '==', 'json.loads', '__repr__']);
      expect(result.stdout).not.toContain('no error');
      expect(result.code, output).toBe(0);
    },
    RUN_MS,
  );

  it(
    'RecursionError not caught, from Python and from json.dumps: a traceback and exit 1',
    async (context) => {
      if (skipWhy !== null) return context.skip(skipWhy);
      const python = await runMode('recursion-uncaught');
      const pythonOutput = python.stdout + python.stderr;
      expect(pythonOutput).toMatch(/File "\/src\/main\.py", line \d+, in recurse/);
      expect(pythonOutput).toMatch(/^RecursionError: maximum recursion depth exceeded$/m);
      expect(python.code, pythonOutput).toBe(1);
      const json = await runMode('c-recursion-uncaught');
      const jsonOutput = json.stdout + json.stderr;
      expect(jsonOutput).toMatch(/File "\/src\/main\.py", line \d+, in main\n\s+json\.dumps\(deep_list\(100_000\)\)/);
      expect(jsonOutput).toMatch(/^RecursionError: maximum recursion depth exceeded while encoding a JSON object$/m);
      expect(json.code, jsonOutput).toBe(1);
    },
    RUN_MS,
  );

  it(
    'asyncio.to_thread and run_in_executor raise RuntimeError, caught; asyncio.run still returns 0',
    async (context) => {
      if (skipWhy !== null) return context.skip(skipWhy);
      const result = await runMode('executor');
      const output = result.stdout + result.stderr;
      expect(result.stdout).toMatch(/^executor: to_thread: RuntimeError caught \(can't start new thread\)$/m);
      expect(result.stdout).toMatch(/^executor: run_in_executor: RuntimeError caught \(can't start new thread\)$/m);
      expect(result.stdout).toMatch(/^executor: asyncio\.run returned 0$/m);
      expect(output).not.toContain('Traceback');
      expect(result.code, output).toBe(0);
    },
    RUN_MS,
  );

  it(
    'a call the POSIX layer does not serve (getpriority): OSError ENOSYS each time, one log record naming it',
    async (context) => {
      if (skipWhy !== null) return context.skip(skipWhy);
      const result = await runMode('unserved');
      const output = result.stdout + result.stderr;
      expect(result.stdout).toMatch(/^unserved: getpriority 1: OSError ENOSYS$/m);
      expect(result.stdout).toMatch(/^unserved: getpriority 2: OSError ENOSYS$/m);
      expect(result.code, output).toBe(0);
      const text = (await ukernelOk(['logs'], project)).stdout;
      const unserved = text.split('\n').filter((line) => line.includes('posix: unserved system call'));
      expect(unserved, text).toHaveLength(1);
      expect(unserved[0]).toMatch(/ warn +\[task 0\] posix: unserved system call syscall=getpriority number=140$/);
      const records = (await ukernelOk(['logs', '--json', '--level', 'warn'], project)).stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; message?: string; fields?: Record<string, string> })
        .filter((line) => line.type === 'log' && line.message === 'posix: unserved system call');
      expect(records.map((record) => record.fields)).toEqual([{ syscall: 'getpriority', number: '140' }]);
    },
    RUN_MS,
  );
});
