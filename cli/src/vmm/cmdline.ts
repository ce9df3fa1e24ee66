// The guest kernel command line. One place to add tokens the CLI itself wants to pass; user
// tokens from --cmdline come next so they can override; workload arguments go last, after a lone
// `--` (the kernel hands them to the workload as argv[1..]), announced by `uk.argc=N`.
//
// VMMs add tokens of their own: Firecracker inserts ` pci=off` and a `virtio_mmio.device=` per
// device before the first ` -- ` (or appends them when there is none), QEMU microvm appends its
// device tokens at the end. `uk.argc` tells the kernel which tokens after `--` are the
// workload's, so argv is the same on every VMM; and since `uk.argc` comes first, the line never
// starts with `--`, which Firecracker would not recognise as the separator.
import { CMDLINE_KEY_ARGC, CMDLINE_KEY_WALL_NS } from '../abi/contracts.js';
import {
  CMDLINE_BYTES_MAX_FIRECRACKER,
  CMDLINE_BYTES_MAX_KERNEL,
  CMDLINE_DEVICE_TOKEN_BYTES_MAX,
  CMDLINE_FIRECRACKER_EXTRA,
} from '../constants.js';
import { UkernelError } from '../errors.js';

export interface CmdlineOptions {
  /** `--cmdline` as given; may be empty. */
  extra: string;
  /** Tokens added by the CLI, before the user's (the network's `uk.ip=` …: vmm/network.ts). */
  tokens?: readonly string[];
  /** Workload arguments (already checked: no spaces or control characters). */
  workload?: readonly string[];
}

export function kernelCmdline({ extra, tokens = [], workload = [] }: CmdlineOptions): string {
  const parts = [...tokens, extra.trim()];
  if (workload.length > 0) parts.push(`${CMDLINE_KEY_ARGC}=${workload.length}`, '--', ...workload);
  return parts.filter((t) => t !== '').join(' ');
}

/**
 * `uk.wall_ns=N`: the host's wall-clock time now (nanoseconds since the Unix epoch), taken just
 * before the VMM starts. The kernel's wall clock (ABI clock.wall_ns) uses it when the hypervisor
 * gives none (TCG); under KVM kvmclock's wall clock wins.
 */
export function wallClockToken(nowMs: number = Date.now()): string {
  return `${CMDLINE_KEY_WALL_NS}=${BigInt(Math.trunc(nowMs)) * 1_000_000n}`;
}

/** Bytes left for our part of the command line on `vmm` with `devices` virtio-mmio devices. */
export function cmdlineBudget(vmm: 'qemu' | 'firecracker', devices: number): number {
  const appended = devices * CMDLINE_DEVICE_TOKEN_BYTES_MAX;
  return vmm === 'firecracker'
    ? CMDLINE_BYTES_MAX_FIRECRACKER - CMDLINE_FIRECRACKER_EXTRA.length - appended
    : CMDLINE_BYTES_MAX_KERNEL - appended;
}

/** Refuses, before any VMM starts, a command line that would not fit once the VMM added its tokens. */
export function checkCmdlineBudget(cmdline: string, vmm: 'qemu' | 'firecracker', devices: number): void {
  const bytes = Buffer.byteLength(cmdline);
  const budget = cmdlineBudget(vmm, devices);
  if (bytes > budget) {
    const limit =
      vmm === 'firecracker'
        ? `Firecracker's ${CMDLINE_BYTES_MAX_FIRECRACKER + 1} bytes with its NUL`
        : `the kernel's ${CMDLINE_BYTES_MAX_KERNEL + 1} bytes with its NUL`;
    throw new UkernelError(
      'CmdlineTooLong',
      `the kernel command line is ${bytes} bytes; with the ${devices} device token(s) ${vmm} adds, at most ${budget} fit (${limit})`,
    );
  }
}
