// Interrupts the VMM raises are never fatal (issue 7, item 1), checked under QEMU with
// Firecracker's interrupt wiring, so that machines without Firecracker catch this class too.
//
// Firecracker runs KVM's 8259 PIC unprogrammed (vector base 0) and sets LINT0 to ExtINT, so a
// device IRQ n reaches the CPU as vector n, where the CPU exceptions live: every workload that
// halted while its disk completed a request crashed with "#BR bound range". QEMU leaves LINT0
// masked and honours VIRTQ_AVAIL_F_NO_INTERRUPT, so tests/fc_shim recreates the wiring: LINT0 =
// ExtINT, LINT1 = NMI, the PIC unprogrammed, and the PIT ticking at 1 kHz (IRQ 0 -> vector 0,
// #DE) as a stand-in for the disk's completions; qemuArgs' legacyInterrupts keeps the PIC and
// PIT (in KVM's irqchip, as Firecracker has them). fc_shim.elf enters through Firecracker's
// Linux 64-bit path, fc_shim_pvh.elf through the PVH note, and fc_shim_ioapic.elf also routes
// the PIT's IOAPIC pins to vector 40: an interrupt no driver claims, which must be counted and
// logged once, not fatal; fc_shim_ioapic17.elf routes them to vector 17 (#AC), where the CPU
// pushes an error code for the exception but none for a device interrupt: the kernel must tell
// the two apart by the frame and return through the shorter one.
//
// The workload is the ABI suite's `timers` mode: hundreds of sleeps, each a halt with
// interrupts enabled, so a pending PIC interrupt is taken on the first one.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, buildProjectCopy, kernelPath, requireBuilt, root, run, shimPath, tempDir } from './helpers.js';

const { qemuArgs } = await import(`${root}/cli/dist/lib.js`);
const BUILD_MS = 180_000;
const shims = {
  linux64: shimPath,
  pvh: join(root, 'tests/fc_shim/zig-out/fc_shim_pvh.elf'),
  ioapic: join(root, 'tests/fc_shim/zig-out/fc_shim_ioapic.elf'),
  ioapic17: join(root, 'tests/fc_shim/zig-out/fc_shim_ioapic17.elf'),
} as const;
type Shim = keyof typeof shims;

let work: ReturnType<typeof tempDir>;
let image: string;

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  ({ image } = await buildProjectCopy('abi-suite', work.path, BUILD_MS));
}, 2 * BUILD_MS);
afterAll(() => work?.remove());

/** QEMU booting the kernel through `shim` with Firecracker's wiring, the image attached. */
function wiredArgs(accel: 'kvm' | 'tcg', shim: Shim, workload: string[]): string[] {
  const args: string[] = qemuArgs({
    kernel: shims[shim],
    accel,
    memoryMib: 128,
    vcpus: 1,
    cmdline: ['--', ...workload].join(' '),
    image: { path: image, readonly: true },
    legacyInterrupts: true,
  });
  // The shims read the raw ELF at 64 MiB; the PVH one enters the kernel that QEMU loads as ELF.
  args.push('-device', `loader,file=${kernelPath},addr=0x4000000,force-raw=on`);
  if (shim === 'pvh') args.push('-device', `loader,file=${kernelPath}`);
  return args;
}

function explain(result: { code: number | null; stdout: string; stderr: string }): string {
  return [`exit ${result.code}`, ...result.stdout.split('\n').slice(-30), '--- stderr:', result.stderr.slice(-2000)].join('\n');
}

describe.each(accels)("Firecracker's interrupt wiring under %s", (accel) => {
  const slow = accel === 'tcg' ? 3 : 1;

  for (const shim of ['linux64', 'pvh'] as const) {
    it(
      `${shim} entry: PIC interrupts never reach the kernel; the workload exits with its status`,
      async (context) => {
        if (!existsSync(shims[shim])) context.skip(`boot shim not built (${shims[shim]}); run tests/fc_shim/build.sh`);
        const result = await run('qemu-system-x86_64', wiredArgs(accel, shim, ['timers']), {
          cwd: work.path,
          timeoutMs: 60_000 * slow,
        });
        expect(result.stdout, explain(result)).not.toMatch(/^exception: /m);
        expect(result.stdout, explain(result)).not.toMatch(/^interrupt: unexpected/m);
        expect(result.stdout).toMatch(/^timers: mark end /m);
        expect(result.stdout).toContain('@uk:exit v=1 status=0 reason=return');
        expect(result.code, explain(result)).toBe((0 << 1) | 1); // isa-debug-exit: (status << 1) | 1
      },
      70_000 * slow,
    );
  }

  for (const [shim, vector] of [
    ['ioapic', 40],
    ['ioapic17', 17],
  ] as const) {
    it(
      `an interrupt no driver claims (IOAPIC -> vector ${vector}, 1 kHz) is counted and logged once, not fatal`,
      async (context) => {
        if (!existsSync(shims[shim])) context.skip(`boot shim not built (${shims[shim]}); run tests/fc_shim/build.sh`);
        const result = await run('qemu-system-x86_64', wiredArgs(accel, shim, ['timers']), {
          cwd: work.path,
          timeoutMs: 60_000 * slow,
        });
        expect(result.stdout, explain(result)).not.toMatch(/^exception: /m);
        const report = new RegExp(`^interrupt: unexpected vector ${vector} at rip 0x[0-9a-f]+ .*counted$`, 'gm');
        expect((result.stdout.match(report) ?? []).length, explain(result)).toBe(1);
        expect(result.stdout).toMatch(/^timers: mark end /m);
        expect(result.stdout).toContain('@uk:exit v=1 status=0 reason=return');
        expect(result.code, explain(result)).toBe((0 << 1) | 1);
      },
      70_000 * slow,
    );
  }
});
