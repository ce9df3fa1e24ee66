// `ukernel run` rebuilds when a source behind a symlink changed (issue 7, item 6): the project's
// src/lib.zig links to ../shared/lib.zig and src/far.zig to a file outside the project; editing
// either rebuilds and boots the new code, and nothing rebuilds when nothing changed.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, requireBuilt, tempDir, ukernel, type RunResult } from './helpers.js';

const BUILD_MS = 180_000;
let work: ReturnType<typeof tempDir>;
let project: string;
let outside: string;

const MAIN = `const ukernel = @import("ukernel");
const lib = @import("lib.zig");
const far = @import("far.zig");

pub fn main(context: ukernel.Context) u8 {
    _ = context;
    ukernel.print("greeting={s} far={s}\\n", .{ lib.greeting, far.word });
    return 0;
}
`;

const lib = (greeting: string): string => `pub const greeting = "${greeting}";\n`;
const far = (word: string): string => `pub const word = "${word}";\n`;

async function expectOk(args: string[]): Promise<RunResult> {
  const result = await ukernel(args, project, BUILD_MS);
  expect(result.code, `ukernel ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  project = join(work.path, 'linked');
  outside = join(work.path, 'elsewhere');
  mkdirSync(project);
  mkdirSync(outside);
  await expectOk(['init', '--name', 'linked']);
  mkdirSync(join(project, 'shared'));
  writeFileSync(join(project, 'shared/lib.zig'), lib('first'));
  symlinkSync('../shared/lib.zig', join(project, 'src/lib.zig'));
  writeFileSync(join(outside, 'far.zig'), far('one'));
  symlinkSync(join(outside, 'far.zig'), join(project, 'src/far.zig'));
  writeFileSync(join(project, 'src/main.zig'), MAIN);
}, BUILD_MS);
afterAll(() => work.remove());

describe(`rebuild decisions follow symlinks (${accels[0]})`, () => {
  const run = () => expectOk(['run', '--accel', accels[0]!]);

  it(
    'an edit behind a symlink (in the project, or outside it) rebuilds and boots the new code',
    async () => {
      let result = await run();
      expect(result.stdout).toContain('greeting=first far=one');
      expect(result.stderr).toContain('Built workload bundle');

      result = await run();
      expect(result.stdout).toContain('greeting=first far=one');
      expect(result.stderr, 'nothing changed: no rebuild').not.toContain('Built workload bundle');

      writeFileSync(join(project, 'shared/lib.zig'), lib('second'));
      result = await run();
      expect(result.stderr).toContain('Built workload bundle');
      expect(result.stdout).toContain('greeting=second far=one');

      writeFileSync(join(outside, 'far.zig'), far('two'));
      result = await run();
      expect(result.stderr).toContain('Built workload bundle');
      expect(result.stdout).toContain('greeting=second far=two');
    },
    4 * BUILD_MS,
  );
});
