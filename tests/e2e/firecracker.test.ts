// The Firecracker backend. The config it writes is checked here always; booting needs a
// `firecracker` binary, and those tests skip (saying so) when there is none on PATH.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kernelPath, kvmUsable, onPath, requireBuilt, tempDir, ukernel } from './helpers.js';

const firecracker = onPath('firecracker');
let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work.remove());

describe('ukernel run --vmm firecracker', () => {
  it('writes a config per Firecracker\'s schema; without the binary exits 2 saying so', async (context) => {
    if (firecracker) context.skip('firecracker is on PATH: the boot test below covers it');
    const result = await ukernel(['run', '--vmm', 'firecracker', '--kernel', kernelPath, '--memory', '256', '--vcpu', '2', '--cmdline', 'uk.verbose'], work.path);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/firecracker/i);
    const config = JSON.parse(readFileSync(join(work.path, 'build/firecracker/vm-config.json'), 'utf8'));
    expect(config['boot-source'].kernel_image_path).toBe(kernelPath);
    expect(config['boot-source'].boot_args).toContain('uk.verbose');
    // The run's events device (docs/observability.md) is the only drive of a bare kernel run.
    expect(config.drives).toEqual([
      { drive_id: 'events', path_on_host: expect.stringMatching(/\/logs\/runs\/\d{8}T\d{6}Z-\d+\.events$/), is_root_device: false, is_read_only: false },
    ]);
    expect(config['machine-config']).toMatchObject({ vcpu_count: 2, mem_size_mib: 256 });
  });

  it('boots the kernel under Firecracker and exits with the guest status', async (context) => {
    if (!firecracker) context.skip('firecracker not on PATH: cannot boot under Firecracker here');
    if (!kvmUsable()) context.skip('/dev/kvm not usable: Firecracker needs KVM');
    const result = await ukernel(['run', '--vmm', 'firecracker', '--kernel', kernelPath, '--cmdline', 'uk.test=exit:9'], work.path);
    expect(result.code, result.stderr).toBe(9);
    expect(result.stdout).toMatch(/^ukernel .*: pvh boot/m);
  });
});
