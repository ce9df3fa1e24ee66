// Boots the real kernel through `ukernel run` under QEMU microvm, with KVM (when /dev/kvm is
// usable) and with forced TCG, and checks the serial output, the records, the boot summary and
// that the guest's exit status becomes the CLI's exit code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, kernelPath, requireBuilt, tempDir, ukernel } from './helpers.js';

let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work.remove());

describe.each(accels)('ukernel run --accel %s', (accel) => {
  it('boots, prints the banner and the boot summary, exits 0', async () => {
    const result = await ukernel(['run', '--kernel', kernelPath, '--accel', accel], work.path);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ukernel \d+\.\d+\.\d+: pvh boot, \d+ MiB RAM, TSC \d+ MHz \((kvmclock|cpuid|pit)\)$/m);
    // Records are parsed, not echoed.
    expect(result.stdout).not.toContain('@uk:');
    expect(result.stderr).toMatch(new RegExp(`boot .* on qemu/${accel}`));
    expect(result.stderr).toMatch(/entry → ready/);
    // The serial console carries the kernel's text; its records travel on the events device.
    const log = readFileSync(join(work.path, 'logs/console.log'), 'utf8');
    expect(log).toMatch(/^@uk:mark v=1 t_ns=\d+\nukernel /);
    expect(log).not.toContain('@uk:boot');
    const raw = await ukernel(['logs', '--raw'], work.path);
    expect(raw.stdout).toMatch(/^@uk:boot v=1 proto=pvh /m);
    expect(raw.stdout).toMatch(/@uk:exit v=1 status=0 reason=return events_dropped=0 events_failed=0 interrupts_unexpected=0\n$/);
  });

  it('reports boot phases in --json, in boot order', async () => {
    const result = await ukernel(['run', '--kernel', kernelPath, '--accel', accel, '--json'], work.path);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.status).toBe(0);
    expect(report.accel).toBe(accel);
    expect(report.boot.proto).toBe('pvh');
    expect(report.boot.clock).toBe(accel === 'kvm' ? 'kvmclock' : 'pit');
    const phases = Object.values(report.boot.phases_ns) as number[];
    expect(Object.keys(report.boot.phases_ns).at(-1)).toBe('ready');
    for (let i = 1; i < phases.length; i++) expect(phases[i]).toBeGreaterThanOrEqual(phases[i - 1]!);
    expect(report.boot.phases_ns.ready).toBeGreaterThan(0);
    expect(report.host.spawn_to_entry_ns).toBeGreaterThan(0);
    expect(report.host.total_ns).toBeGreaterThan(report.host.spawn_to_entry_ns);
  });

  it.each([0, 7, 42, 127, 200])('carries guest exit status %i to the CLI exit code', async (status) => {
    const result = await ukernel(
      ['run', '--kernel', kernelPath, '--accel', accel, '--cmdline', `uk.test=exit:${status}`],
      work.path,
    );
    expect(result.code, result.stderr).toBe(status);
  });

  it('reports a deliberate page fault with registers and a symbolized backtrace, exits 101', async () => {
    const result = await ukernel(['run', '--kernel', kernelPath, '--accel', accel, '--cmdline', 'uk.test=fault'], work.path);
    expect(result.code).toBe(101);
    // The kernel proper runs in ring 3 (CS 0x23); only the supervisor runs in ring 0.
    expect(result.stdout).toContain('exception: #PF page fault (vector 14) error 0x4 in ring 3');
    expect(result.stdout).toMatch(/page fault at 0x8: read, page not present/);
    expect(result.stdout).toMatch(/^rip [0-9a-f]{16} cs  0023/m);
    expect(result.stdout).toMatch(/#0 +0x[0-9a-f]{16} main\.test_fault_inner\+0x[0-9a-f]+/);
    expect(result.stdout).toMatch(/#1 +0x[0-9a-f]{16} main\.test_fault_outer\+0x[0-9a-f]+/);
    expect(result.stdout).toMatch(/kmain\+0x[0-9a-f]+/);
  });

  it('reports a kernel panic with a backtrace, exits 101', async () => {
    const result = await ukernel(['run', '--kernel', kernelPath, '--accel', accel, '--cmdline', 'uk.test=panic'], work.path);
    expect(result.code).toBe(101);
    expect(result.stdout).toContain('panic: test panic requested by uk.test=panic');
    expect(result.stdout).toMatch(/backtrace:\n\s+#0 +0x[0-9a-f]{16} kmain\+0x/);
  });

  it('lists virtio-mmio devices from Firecracker- and QEMU-style tokens and warns on bad ones', async () => {
    const tokens = 'virtio_mmio.device=4K@0xc0001000:5 virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=junk';
    const result = await ukernel(['run', '--kernel', kernelPath, '--accel', accel, '--cmdline', tokens], work.path);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('virtio-mmio device 0: 0xc0001000 size 4096 irq 5');
    expect(result.stdout).toContain('virtio-mmio device 1: 0xfeb00e00 size 512 irq 12');
    expect(result.stdout).toContain('warning: 1 malformed virtio_mmio.device token(s) ignored');
  });

  it('prints the memory map and command line with uk.verbose', async () => {
    const result = await ukernel(
      ['run', '--kernel', kernelPath, '--accel', accel, '--memory', '256', '--cmdline', 'uk.verbose -- app arg'],
      work.path,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^memory: 0x000000100000-0x000010000000 ram$/m);
    expect(result.stdout).toMatch(/^cmdline: uk\.wall_ns=[0-9]+ uk\.verbose$/m);
    expect(result.stdout).toMatch(/^workload arguments: app arg$/m);
    expect(result.stdout).toMatch(/255 MiB RAM/);
  });
});
