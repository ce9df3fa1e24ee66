// No qemu process outlives the CLI: Ctrl-C (SIGINT), SIGTERM and even SIGKILL of `ukernel run`
// stop the VM. The guest halts for good after booting (uk.test=hang), so only the host can end
// the run; every wait here is bounded.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accels,
  kernelPath,
  processAlive,
  qemuDescendants,
  requireBuilt,
  spawnUkernel,
  tempDir,
  ukernel,
  waitFor,
} from './helpers.js';

let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work.remove());

async function startHangingVm(accel: string): Promise<{ cli: ChildProcess; qemu: number; exited: Promise<number | null> }> {
  const cli = spawnUkernel(['run', '--kernel', kernelPath, '--accel', accel, '--cmdline', 'uk.test=hang'], work.path);
  let stdout = '';
  cli.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  cli.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => cli.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  await waitFor('the guest to boot and halt', () => stdout.includes('uk.test=hang: halting'), 20_000);
  const qemus = qemuDescendants(cli.pid!);
  expect(qemus).toHaveLength(1);
  return { cli, qemu: qemus[0]!, exited };
}

describe.each(accels)('VM lifetime under %s', (accel) => {
  it('SIGINT (Ctrl-C) stops the VM and exits 130', async () => {
    const vm = await startHangingVm(accel);
    vm.cli.kill('SIGINT');
    expect(await vm.exited).toBe(130);
    await waitFor('qemu to exit', () => !processAlive(vm.qemu), 5_000);
  });

  it('SIGTERM stops the VM and exits 143', async () => {
    const vm = await startHangingVm(accel);
    vm.cli.kill('SIGTERM');
    expect(await vm.exited).toBe(143);
    await waitFor('qemu to exit', () => !processAlive(vm.qemu), 5_000);
  });

  it('SIGKILL of the CLI still takes qemu down (parent-death signal)', async () => {
    const vm = await startHangingVm(accel);
    vm.cli.kill('SIGKILL');
    await vm.exited;
    await waitFor('qemu to exit after its parent was killed', () => !processAlive(vm.qemu), 5_000);
  });
});

describe('bounded waits', () => {
  it('--timeout stops a guest that never exits, with a message and a non-zero exit', async () => {
    const result = await ukernel(
      ['run', '--kernel', kernelPath, '--accel', 'tcg', '--cmdline', 'uk.test=hang', '--timeout', '2'],
      work.path,
      20_000,
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/error UK\d+: .*2 ?s/);
  });
});
