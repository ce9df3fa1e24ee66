// QEMU microvm backend: argv construction (pure, shared with the benchmark).
import type { Accel } from './accel.js';
import { type NetworkSettings, qemuNetworkArgs } from './network.js';

export interface QemuOptions {
  kernel: string;
  accel: Accel;
  memoryMib: number;
  vcpus: number;
  cmdline: string;
  /** The ukernel image, attached read-only as a virtio-blk disk on virtio-mmio. */
  image?: { path: string };
  /** The run's events device (docs/observability.md): a second virtio-blk disk, after the image. */
  events?: string;
  /**
   * Keep the i8259 PIC and i8254 PIT under KVM too (TCG always has them), in KVM's irqchip. For
   * tests that reproduce Firecracker's interrupt wiring (tests/fc_shim): a live legacy PIC whose
   * IRQs reach the CPU through LINT0.
   */
  legacyInterrupts?: boolean;
  /** The NIC (virtio-net on virtio-mmio, after the disks), when the run has a network. */
  network?: NetworkSettings;
}

export function qemuArgs(opts: QemuOptions): string[] {
  const machine = ['microvm', 'acpi=off', 'x-option-roms=off', 'rtc=off'];
  // Under KVM the PIT/PIC are not needed (the kernel uses the TSC/kvmclock and LAPIC);
  // TCG keeps them.
  if (opts.accel === 'kvm' && opts.legacyInterrupts !== true) machine.push('pit=off', 'pic=off');
  if (opts.legacyInterrupts === true) machine.push('pit=on', 'pic=on');
  // legacyInterrupts under KVM: the PIC, PIT and IOAPIC in KVM's irqchip, as Firecracker has them
  // (microvm's default, split, keeps them in QEMU).
  const kvm = opts.legacyInterrupts === true ? 'kvm,kernel-irqchip=on' : 'kvm';
  const accel =
    opts.accel === 'kvm'
      ? ['-accel', kvm, '-cpu', 'host,-arch-capabilities'] // plain `host` aborts on nested PVM KVM
      : ['-accel', 'tcg'];
  return [
    '-M',
    machine.join(','),
    ...accel,
    '-m',
    String(opts.memoryMib),
    '-smp',
    String(opts.vcpus),
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
    opts.kernel,
    '-append',
    opts.cmdline,
    ...(opts.image === undefined ? [] : imageArgs(opts.image)),
    ...(opts.events === undefined ? [] : eventsArgs(opts.events)),
    ...(opts.network === undefined ? [] : qemuNetworkArgs(opts.network)),
  ];
}

/** In -drive, a comma separates options; a literal comma in the path is written twice. */
function driveFile(path: string): string {
  return path.replaceAll(',', ',,');
}

/** Write and read errors (the host's disk full) are reported to the guest, which counts what it
 *  could not write, instead of QEMU's default of pausing the VM, which would hang the run. */
function eventsArgs(path: string): string[] {
  return [
    '-drive',
    `id=events,file=${driveFile(path)},format=raw,if=none,werror=report,rerror=report`,
    '-device',
    'virtio-blk-device,drive=events',
  ];
}

/** Always read-only: the guest never writes the image, so concurrent runs of one image work (no
 *  write lock) and an image on read-only storage boots. */
function imageArgs(image: { path: string }): string[] {
  return [
    '-drive',
    `id=image,file=${driveFile(image.path)},format=raw,if=none,readonly=on`,
    '-device',
    'virtio-blk-device,drive=image',
  ];
}
