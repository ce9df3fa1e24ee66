// The guest's wall clock (ABI clock.wall_ns, docs/abi.md): kvmclock's wall clock under KVM, the
// host's time at launch (uk.wall_ns, which `ukernel run` writes) under TCG. Seen the way a user
// sees it: Python's time.time() and datetime.now() in the guest (the POSIX layer's
// CLOCK_REALTIME) agree with the host's clock, where they used to read 1970.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, requireBuilt, tempDir, ukernelOk } from './helpers.js';

/** The first Python build may build the CPython runtime (minutes); later ones reuse it. */
const BUILD_MS = 3_600_000;
const RUN_MS = 300_000;
/** How far the guest's clock may be from the host's: TCG's is early by the VMM's start-up. */
const SKEW_MS_MAX = 2_000;

const main = `import datetime, time
print(f"wall {time.time_ns()}")
print(f"year {datetime.datetime.now(datetime.timezone.utc).year}")
`;

describe('the guest wall clock', () => {
  const work = tempDir();
  const project = join(work.path, 'clock');

  beforeAll(async () => {
    requireBuilt();
    mkdirSync(project);
    await ukernelOk(['init', '--name', 'clock', '--lang', 'python', '--template', 'worker'], project);
    writeFileSync(join(project, 'src/main.py'), main);
    await ukernelOk(['build'], project, BUILD_MS);
  }, BUILD_MS);
  afterAll(() => work.remove());

  it.each(accels)(
    '%s: time.time() is the host time, not 1970',
    async (accel) => {
      const before = Date.now();
      const run = await ukernelOk(['run', '--accel', accel], project, RUN_MS);
      const after = Date.now();
      const wall = /^wall ([0-9]+)$/m.exec(run.stdout);
      expect(wall, run.stdout).not.toBeNull();
      const guestMs = Number(BigInt(wall?.[1] ?? '0') / 1_000_000n);
      expect(guestMs).toBeGreaterThanOrEqual(before - SKEW_MS_MAX);
      expect(guestMs).toBeLessThanOrEqual(after + SKEW_MS_MAX);
      expect(run.stdout).toMatch(new RegExp(`^year ${new Date(guestMs).getUTCFullYear()}$`, 'm'));
    },
    RUN_MS,
  );
});
