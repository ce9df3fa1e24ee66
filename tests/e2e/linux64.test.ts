// Firecracker's "Linux 64-bit" boot path (used when it does not take the PVH note): entry at
// e_entry in long mode on a 1 GiB identity map, RSI -> zero page with an unsorted e820 table and
// the command line at 0x20000. No Firecracker runs here, so tests/fc_shim reproduces that entry
// state under QEMU: it boots via PVH, loads the kernel ELF like Firecracker's loader, builds
// Firecracker's zero page, GDT, IDT and page tables, and jumps to e_entry.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, kernelPath, requireBuilt, root, run, shimPath, tempDir } from './helpers.js';

const { qemuArgs } = await import(`${root}/cli/dist/lib.js`);
let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work.remove());

function shimArgs(accel: 'kvm' | 'tcg', cmdline: string): string[] {
  const args: string[] = qemuArgs({ kernel: shimPath, accel, memoryMib: 128, vcpus: 1, cmdline });
  return [...args, '-device', `loader,file=${kernelPath},addr=0x4000000,force-raw=on`];
}

describe.each(accels)('Linux 64-bit entry (Firecracker without PVH) under %s', (accel) => {
  it('boots through linux64_entry, reads the zero page and exits with the status', async (context) => {
    if (!existsSync(shimPath)) context.skip(`boot shim not built (${shimPath}); run tests/fc_shim/build.sh`);
    const result = await run('qemu-system-x86_64', shimArgs(accel, 'uk.verbose uk.test=exit:7'), { cwd: work.path });
    expect(result.stdout).toMatch(/^@uk:boot v=1 proto=linux64 /);
    expect(result.stdout).toMatch(/^ukernel .*: linux64 boot, 127 MiB RAM/m);
    expect(result.stdout).toMatch(/^cmdline: uk\.verbose uk\.test=exit:7$/m);
    expect(result.stdout).toMatch(/^memory: 0x000000100000-0x000008000000 ram$/m);
    expect(result.stdout).toContain('@uk:exit v=1 status=7 reason=test');
    expect(result.code).toBe((7 << 1) | 1);
  });

  it('reports faults with a backtrace on this path too', async (context) => {
    if (!existsSync(shimPath)) context.skip(`boot shim not built (${shimPath}); run tests/fc_shim/build.sh`);
    const result = await run('qemu-system-x86_64', shimArgs(accel, 'uk.test=fault'), { cwd: work.path });
    expect(result.stdout).toMatch(/#0 +0x[0-9a-f]{16} main\.test_fault_inner\+0x/);
    expect(result.code).toBe((101 << 1) | 1);
  });
});
