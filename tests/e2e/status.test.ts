// A workload's exit status is never a wrong one: main returning a value outside 0–255 (256 used
// to exit 0 once cut to its low 8 bits under --release; a negative i32 hung) exits with
// exit_status_out_of_range (104, docs/abi.md) in ReleaseSafe and ReleaseFast (`--release`)
// alike, and says why; values inside the range are the status. The raw ABI path (task.exit with
// a u32 from the first task) is covered by the ABI suite (tests/e2e/abi.test.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, cliPath, requireBuilt, run, tempDir, ukernel } from './helpers.js';

const BUILD_MS = 180_000;
const RUN_MS = 60_000;
const OUT_OF_RANGE = 104;
let work: ReturnType<typeof tempDir>;
let project: string;

// main returns an i32 taken from argv, so the value is not known when compiling.
const MAIN = `const std = @import("std");
const ukernel = @import("ukernel");

pub fn main(context: ukernel.Context) i32 {
    if (context.args.len < 2) return 2;
    return std.fmt.parseInt(i32, std.mem.span(context.args[1]), 10) catch 3;
}
`;

async function expectOk(args: string[]) {
  const result = await ukernel(args, project, BUILD_MS);
  expect(result.code, `ukernel ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
}

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  project = join(work.path, 'status');
  mkdirSync(project);
  await expectOk(['init', '--name', 'status']);
  writeFileSync(join(project, 'src/main.zig'), MAIN);
  await expectOk(['build']);
  await expectOk(['pack', '--image', 'dist/safe.img']);
  await expectOk(['build', '--release']);
  await expectOk(['pack', '--image', 'dist/fast.img']);
}, 4 * BUILD_MS);
afterAll(() => work?.remove());

const cases: Array<[string, number]> = [
  ['0', 0],
  ['255', 255],
  ['256', OUT_OF_RANGE],
  ['-1', OUT_OF_RANGE],
  ['2147483647', OUT_OF_RANGE],
  ['-2147483648', OUT_OF_RANGE],
];

describe.each(accels)('main out-of-range return values (%s)', (accel) => {
  const builds: Array<[string, string]> = [
    ['safe.img', 'ReleaseSafe'],
    ['fast.img', 'ReleaseFast (--release)'],
  ];
  for (const [image, mode] of builds) {
    it.each(cases)(
      `${mode}: main returning %s exits %d`,
      async (value, status) => {
        const result = await run(
          process.execPath,
          [cliPath, 'run', '--image', join('dist', image), '--accel', accel, '--', value],
          { cwd: project, timeoutMs: RUN_MS },
        );
        const output = `${result.stdout}\n${result.stderr}`;
        expect(result.code, output).toBe(status);
        if (status === OUT_OF_RANGE) {
          expect(result.stdout).toContain(`error: main returned ${value}, outside the exit status range 0-255`);
        } else {
          expect(result.stdout).not.toContain('outside the exit status range');
        }
      },
      RUN_MS,
    );
  }
});
