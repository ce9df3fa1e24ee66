import { describe, expect, it } from 'vitest';
import { qemuArgs } from './qemu.js';
import { kernelCmdline } from './cmdline.js';

const base = { kernel: '/k.elf', memoryMib: 128, vcpus: 1, cmdline: '' };

describe('qemuArgs', () => {
  it('KVM: microvm without PIT/PIC, host CPU minus arch-capabilities', () => {
    expect(qemuArgs({ ...base, accel: 'kvm' })).toEqual([
      '-M',
      'microvm,acpi=off,x-option-roms=off,rtc=off,pit=off,pic=off',
      '-accel',
      'kvm',
      '-cpu',
      'host,-arch-capabilities',
      '-m',
      '128',
      '-smp',
      '1',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-serial',
      'stdio',
      '-no-reboot',
      '-global',
      'virtio-mmio.force-legacy=off',
      '-device',
      'isa-debug-exit,iobase=0xf4,iosize=0x04',
      '-kernel',
      '/k.elf',
      '-append',
      '',
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

  it("legacyInterrupts: PIC and PIT on, in KVM's irqchip (Firecracker's wiring, for tests)", () => {
    const kvm = qemuArgs({ ...base, accel: 'kvm', legacyInterrupts: true });
    expect(kvm.slice(0, 4)).toEqual([
      '-M',
      'microvm,acpi=off,x-option-roms=off,rtc=off,pit=on,pic=on',
      '-accel',
      'kvm,kernel-irqchip=on',
    ]);
    const tcg = qemuArgs({ ...base, accel: 'tcg', legacyInterrupts: true });
    expect(tcg.slice(0, 4)).toEqual(['-M', 'microvm,acpi=off,x-option-roms=off,rtc=off,pit=on,pic=on', '-accel', 'tcg']);
  });
});

describe('kernelCmdline', () => {
  it('joins CLI tokens before the user arguments and trims', () => {
    expect(kernelCmdline({ extra: '' })).toBe('');
    expect(kernelCmdline({ extra: '  x=1  ' })).toBe('x=1');
    expect(kernelCmdline({ extra: 'x=1', tokens: ['uk.test=1'] })).toBe('uk.test=1 x=1');
  });
});

describe('qemuArgs with an image', () => {
  it('attaches the image as a virtio-blk disk after the kernel, always read-only', () => {
    const args = qemuArgs({ ...base, accel: 'tcg', image: { path: '/p/dist/demo.img' } });
    expect(args.slice(-4)).toEqual([
      '-drive',
      'id=image,file=/p/dist/demo.img,format=raw,if=none,readonly=on',
      '-device',
      'virtio-blk-device,drive=image',
    ]);
    expect(qemuArgs({ ...base, accel: 'tcg', image: { path: '/a,b/x.img' } })).toContain(
      'id=image,file=/a,,b/x.img,format=raw,if=none,readonly=on',
    );
  });
});

describe('kernelCmdline with workload arguments', () => {
  it('puts them after a lone --, after the user tokens', () => {
    // uk.argc first: the line never starts with `--` (Firecracker splits only at " -- "), and the
    // kernel takes exactly that many tokens, whatever a VMM appends after them.
    expect(kernelCmdline({ extra: '', workload: ['a', 'b'] })).toBe('uk.argc=2 -- a b');
    expect(kernelCmdline({ extra: 'uk.verbose', workload: ['x'] })).toBe('uk.verbose uk.argc=1 -- x');
    expect(kernelCmdline({ extra: 'uk.verbose', workload: [] })).toBe('uk.verbose');
  });
});

describe('qemuArgs with the events device', () => {
  it('attaches it as a second virtio-blk disk after the image, writable, errors reported to the guest', () => {
    const args = qemuArgs({ ...base, accel: 'tcg', image: { path: '/p/demo.img' }, events: '/p/logs/runs/r,1.events' });
    expect(args.slice(-8)).toEqual([
      '-drive',
      'id=image,file=/p/demo.img,format=raw,if=none,readonly=on',
      '-device',
      'virtio-blk-device,drive=image',
      '-drive',
      'id=events,file=/p/logs/runs/r,,1.events,format=raw,if=none,werror=report,rerror=report',
      '-device',
      'virtio-blk-device,drive=events',
    ]);
  });

  it('is the only disk of a bare kernel run', () => {
    const args = qemuArgs({ ...base, accel: 'kvm', events: '/e.events' });
    expect(args.slice(-6)).toEqual([
      '-append',
      '',
      '-drive',
      'id=events,file=/e.events,format=raw,if=none,werror=report,rerror=report',
      '-device',
      'virtio-blk-device,drive=events',
    ]);
  });
});
