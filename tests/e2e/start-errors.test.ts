// Workloads the kernel cannot start say why and what to do (kernel/src/main.zig hint_for):
// one too big for the guest's memory (`--memory 16`), one over the kernel's 512 MiB size limit,
// and one with a TLS segment (`threadlocal`). Each exits 102 (workload not started).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, cliPath, requireBuilt, run, tempDir, ukernel } from './helpers.js';

const BUILD_MS = 180_000;
const RUN_MS = 60_000;
const NOT_STARTED = 102;
let work: ReturnType<typeof tempDir>;

const header = 'const ukernel = @import("ukernel");\n';
const workloads: Record<string, string> = {
  // 64 MiB of bss: fits the limits, not a 16 MiB guest.
  memory: `${header}var big: [64 << 20]u8 = undefined;
pub fn main(_: ukernel.Context) u8 {
    const p: *volatile u8 = &big[12345];
    p.* = 1;
    return p.*;
}
`,
  // 600 MiB of bss: over workload_file_bytes_max whatever the guest's memory.
  oversized: `${header}var huge: [600 << 20]u8 = undefined;
pub fn main(_: ukernel.Context) u8 {
    const p: *volatile u8 = &huge[12345];
    p.* = 1;
    return p.*;
}
`,
  tls: `${header}threadlocal var per_thread: u32 = 7;
pub fn main(_: ukernel.Context) u8 {
    const p: *volatile u32 = &per_thread;
    p.* += 1;
    return @truncate(p.*);
}
`,
};

async function expectOk(args: string[], cwd: string) {
  const result = await ukernel(args, cwd, BUILD_MS);
  expect(result.code, `ukernel ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
}

beforeAll(
  async () => {
    requireBuilt();
    work = tempDir();
    for (const [name, source] of Object.entries(workloads)) {
      const project = join(work.path, name);
      mkdirSync(project);
      await expectOk(['init', '--name', name], project);
      writeFileSync(join(project, 'src/main.zig'), source);
      await expectOk(['build'], project);
      await expectOk(['pack'], project);
    }
  },
  3 * 2 * BUILD_MS,
);
afterAll(() => work?.remove());

async function boot(name: string, accel: string, extra: string[] = []) {
  const args = [cliPath, 'run', '--image', `dist/${name}.img`, '--accel', accel, ...extra];
  return run(process.execPath, args, { cwd: join(work.path, name), timeoutMs: RUN_MS });
}

describe.each(accels)('workloads the kernel cannot start carry a hint (%s)', (accel) => {
  it(
    'too big for the guest memory: names --memory',
    async () => {
      const result = await boot('memory', accel, ['--memory', '16']);
      expect(result.code, result.stdout + result.stderr).toBe(NOT_STARTED);
      expect(result.stdout).toMatch(
        /workload not started: workload: OutOfMemory \(the guest's memory is too small .*`ukernel run --memory MIB`.*memory_mb/,
      );
      // With the memory it needs, it runs.
      const enough = await boot('memory', accel, ['--memory', '96']);
      expect(enough.code, enough.stdout + enough.stderr).toBe(1);
    },
    2 * RUN_MS,
  );

  it(
    'over the kernel size limit: names the limit',
    async () => {
      const result = await boot('oversized', accel);
      expect(result.code, result.stdout + result.stderr).toBe(NOT_STARTED);
      expect(result.stdout).toMatch(/workload not started: workload: TooLarge \(over the kernel's limit: .* at most 512 MiB/);
    },
    RUN_MS,
  );

  it(
    'a TLS segment: says threadlocal is not supported',
    async () => {
      const result = await boot('tls', accel);
      expect(result.code, result.stdout + result.stderr).toBe(NOT_STARTED);
      expect(result.stdout).toMatch(
        /workload not started: workload: ThreadLocalStorageUnsupported \(the workload has a TLS segment: `threadlocal` variables are not supported/,
      );
    },
    RUN_MS,
  );
});
