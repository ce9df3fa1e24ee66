import { describe, expect, it } from 'vitest';
import { CMDLINE_BYTES_MAX_FIRECRACKER, CMDLINE_BYTES_MAX_KERNEL } from '../constants.js';
import { checkCmdlineBudget, cmdlineBudget, kernelCmdline, wallClockToken } from './cmdline.js';

describe('the command-line budget', () => {
  it('counts what each VMM appends: Firecracker pci=off and a token per device', () => {
    // The longest token either VMM writes for a device, and Firecracker's own pci=off.
    const fcToken = ' virtio_mmio.device=4K@0xc0001000:5';
    const qemuToken = ' virtio_mmio.device=512@0xfeb00e00:12';
    expect(cmdlineBudget('firecracker', 2)).toBeLessThanOrEqual(
      CMDLINE_BYTES_MAX_FIRECRACKER - ' pci=off'.length - 2 * fcToken.length,
    );
    expect(cmdlineBudget('qemu', 2)).toBeLessThanOrEqual(CMDLINE_BYTES_MAX_KERNEL - 2 * qemuToken.length);
    expect(cmdlineBudget('firecracker', 2)).toBeLessThan(cmdlineBudget('qemu', 2));
  });

  it('refuses an over-long line before any VMM starts, naming the limit', () => {
    const args = Array.from({ length: 300 }, (_, i) => `argument-${i}`);
    const line = kernelCmdline({ extra: '', workload: args });
    expect(Buffer.byteLength(line)).toBeGreaterThan(cmdlineBudget('firecracker', 2));
    expect(Buffer.byteLength(line)).toBeLessThan(cmdlineBudget('qemu', 2));
    expect(() => checkCmdlineBudget(line, 'firecracker', 2)).toThrow(
      expect.objectContaining({ code: 'UK140', message: expect.stringMatching(/Firecracker's 2048 bytes with its NUL/) }),
    );
    expect(() => checkCmdlineBudget(line, 'qemu', 2)).not.toThrow();
    const longer = kernelCmdline({ extra: '', workload: [...args, ...args] });
    expect(() => checkCmdlineBudget(longer, 'qemu', 2)).toThrow(expect.objectContaining({ code: 'UK140', exitCode: 2 }));
  });
});

describe('wallClockToken', () => {
  it('is the time in nanoseconds since the epoch, digits only (the kernel takes nothing else)', () => {
    expect(wallClockToken(1764450000123.9)).toBe('uk.wall_ns=1764450000123000000');
    expect(wallClockToken()).toMatch(/^uk\.wall_ns=[0-9]{19}$/);
  });
});
