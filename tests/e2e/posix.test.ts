// The POSIX layer (adapters/posix, libukposix.a) in the real guest, without musl or CPython:
// adapters/posix/tests/probe.zig links the library, stands in for musl's __libc_start_main and
// drives __uk_syscall as musl would (files and directories of the rootfs, mmap, clocks,
// /tmp in memory, socketpair/pipe/eventfd streams, TCP over loopback, fds, signals, the thread
// pointer through arch_prctl, futex). Each check prints `ok NAME` or `FAIL NAME: detail`; the
// exit status is the number of failures. An unserved call (epoll_create1) must return ENOSYS
// and leave one warning record naming it on the console, however often it is made.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderManifest } from '../../cli/src/image/manifest.js';
import { writeImage } from '../../cli/src/image/writer.js';
import { accels, kernelPath, kvmUsable, onPath, requireBuilt, root, run, tempDir } from './helpers.js';

const BUILD_MS = 180_000;
const RUN_MS = 90_000;
let work: ReturnType<typeof tempDir>;
let image: string;

beforeAll(() => {
  requireBuilt();
  const build = spawnSync(join(root, 'adapters/posix/build.sh'), ['probe'], { encoding: 'utf8', timeout: BUILD_MS });
  if (build.status !== 0) throw new Error(`adapters/posix/build.sh probe failed:\n${build.stderr}`);
  work = tempDir();
  image = join(work.path, 'posix-probe.img');
  const probe = readFileSync(join(root, 'adapters/posix/zig-out/bin/posix-probe'));
  const bytes = writeImage({
    kernel: readFileSync(kernelPath),
    files: [
      { path: 'bin/probe', kind: 'file', mode: 0o755, data: probe },
      { path: 'etc/ukernel.env', kind: 'file', mode: 0o644, data: Buffer.from('PROBE=1\n') },
    ],
    manifest: renderManifest({
      abi: '0.3.0',
      adapter: 'native',
      build: { optimize: 'ReleaseSafe', zig: '0.15.2' },
      created: '1970-01-01T00:00:00Z',
      entry: 'bin/probe',
      lock: null,
      name: 'posix-probe',
      ukernel: '0.1.0',
    }),
    abi: [0, 3, 0],
    readonly: false,
    adapter: 'native',
    entry: 'bin/probe',
    name: 'posix-probe',
  });
  writeFileSync(image, bytes);
}, BUILD_MS);
afterAll(() => work?.remove());

// QEMU under each usable accelerator, and Firecracker when it is on PATH (it needs KVM).
const firecracker = onPath('firecracker') && kvmUsable();
const machines: Array<[string, string[]]> = [
  ...accels.map((accel): [string, string[]] => [`qemu ${accel}`, ['--accel', accel]]),
  ['firecracker', ['--vmm', 'firecracker']],
];

describe.each(machines)('POSIX layer probe (%s)', (machine, options) => {
  it(
    'serves files, memory, time, streams, sockets, fds, signals, TLS and futex; reports an unserved call once',
    async (context) => {
      if (machine === 'firecracker' && !firecracker) context.skip('firecracker not on PATH, or /dev/kvm not usable');
      const result = await run(process.execPath, [join(root, 'cli/bin/ukernel.mjs'), 'run', '--image', image, ...options], {
        cwd: work.path,
        timeoutMs: RUN_MS,
      });
      const lines = result.stdout.split('\n');
      const failures = lines.filter((line) => line.startsWith('FAIL '));
      const explain = [`exit ${result.code}`, ...failures, '--- console:', ...lines.slice(-30), result.stderr].join('\n');
      expect(failures, explain).toEqual([]);
      expect(result.stdout, explain).toContain('probe done: 0 failed');
      expect(lines.filter((line) => line.startsWith('ok ')).length, explain).toBeGreaterThan(180);
      expect(result.code, explain).toBe(0);
      // The record is a log record: `ukernel logs` shows it (once, though the call came twice).
      const logs = await run(process.execPath, [join(root, 'cli/bin/ukernel.mjs'), 'logs', '--level', 'warn'], {
        cwd: work.path,
      });
      expect(logs.code, logs.stderr).toBe(0);
      const unserved = logs.stdout.split('\n').filter((line) => line.includes('posix: unserved system call'));
      expect(unserved, logs.stdout).toHaveLength(1);
      expect(unserved[0]).toMatch(/warn .*syscall=epoll_create1 number=291$/);
    },
    RUN_MS * 2,
  );
});
