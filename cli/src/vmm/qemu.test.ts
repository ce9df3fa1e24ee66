import { describe, expect, it } from 'vitest';
import { qemuArgs } from './qemu.js';
import { kernelCmdline } from './cmdline.js';

const base = { kernel: '/k.elf', memoryMib: 128, vcpus: 1, cmdline: '' };

describe('qemuArgs', () => {
  it('KVM: microvm without PIT/PIC, host CPU minus arch-capabilities', () => {
    expect(qemuArgs({ ...base, accel: 'kvm' })).toEqual([
      '-M', 'microvm,acpi=off,x-option-roms=off,rtc=off,pit=off,pic=off',
      '-accel', 'kvm', '-cpu', 'host,-arch-capabilities',
      '-m', '128', '-smp', '1',
      '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot',
      '-global', 'virtio-mmio.force-legacy=off',
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
      '-kernel', '/k.elf', '-append', '',
    ]);
  });

  it('TCG: default CPU, PIT/PIC kept, sizes and cmdline passed through', () => {
    const args = qemuArgs({ ...base, accel: 'tcg', memoryMib: 256, vcpus: 4, cmdline: 'a=1 b' });
    expect(args.slice(0, 4)).toEqual(['-M', 'microvm,acpi=off,x-option-roms=off,rtc=off', '-accel', 'tcg']);
    expect(args).not.toContain('-cpu');
    expect(args[args.indexOf('-m') + 1]).toBe('256');
    expect(args[args.indexOf('-smp') + 1]).toBe('4');
    expect(args.slice(-2)).toEqual(['-append', 'a=1 b']);
  });
});

describe('kernelCmdline', () => {
  it('joins CLI tokens before the user arguments and trims', () => {
    expect(kernelCmdline({ extra: '' })).toBe('');
    expect(kernelCmdline({ extra: '  x=1  ' })).toBe('x=1');
    expect(kernelCmdline({ extra: 'x=1', tokens: ['uk.test=1'] })).toBe('uk.test=1 x=1');
  });
});
