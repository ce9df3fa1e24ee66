// `ukernel run` options: raw strings from commander (+ env) → validated RunOptions.
// Pure apart from path resolution against cwd; kernel file checks happen in run.ts.
import { resolve } from 'node:path';
import {
  MEMORY_MIB_DEFAULT,
  MEMORY_MIB_MAX,
  MEMORY_MIB_MIN,
  RUN_TIMEOUT_S_MAX,
  VCPU_DEFAULT,
  VCPU_MAX,
  VCPU_MIN,
} from '../constants.js';
import { UkernelError } from '../errors.js';
import { ACCELS, type AccelRequest } from '../vmm/accel.js';
import type { VmmName } from '../vmm/session.js';

export const VMMS = ['qemu', 'firecracker'] as const satisfies readonly VmmName[];

/** Exactly what commander hands the action (all strings; absent = undefined). */
export interface RawRunOptions {
  kernel?: string;
  accel?: string;
  memory?: string;
  vcpu?: string;
  vmm?: string;
  cmdline?: string;
  timeout?: string;
  json?: boolean;
  verbose?: boolean;
}

/** What to boot. Only a kernel ELF for now; `{ type: 'image' }` comes with images. */
export type BootSource = { type: 'kernel'; path: string };

export interface RunOptions {
  source: BootSource;
  accel: AccelRequest;
  /** Where `accel` came from, for messages. */
  accelFrom: '--accel' | 'UKERNEL_ACCEL' | 'default';
  memoryMib: number;
  vcpus: number;
  vmm: VmmName;
  cmdline: string;
  timeoutMs: number | null;
  json: boolean;
  verbose: boolean;
}

export function normalizeRunOptions(
  raw: RawRunOptions,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): RunOptions {
  if (raw.kernel === undefined || raw.kernel === '') {
    throw new UkernelError('Usage', 'missing --kernel <elf>: which kernel should run?', {
      hint: 'Example: ukernel run --kernel kernel/zig-out/bin/ukernel',
    });
  }

  let accelText: string;
  let accelFrom: RunOptions['accelFrom'];
  if (raw.accel !== undefined) [accelText, accelFrom] = [raw.accel, '--accel'];
  else if (env.UKERNEL_ACCEL !== undefined && env.UKERNEL_ACCEL !== '') [accelText, accelFrom] = [env.UKERNEL_ACCEL, 'UKERNEL_ACCEL'];
  else [accelText, accelFrom] = ['auto', 'default'];

  return {
    source: { type: 'kernel', path: resolve(cwd, raw.kernel) },
    accel: oneOf(accelText, ACCELS, accelFrom),
    accelFrom,
    memoryMib: integerIn(raw.memory, '--memory', MEMORY_MIB_MIN, MEMORY_MIB_MAX, MEMORY_MIB_DEFAULT, ' MiB'),
    vcpus: integerIn(raw.vcpu, '--vcpu', VCPU_MIN, VCPU_MAX, VCPU_DEFAULT, ''),
    vmm: oneOf(raw.vmm ?? 'qemu', VMMS, '--vmm'),
    cmdline: checkCmdline(raw.cmdline ?? ''),
    timeoutMs: timeoutMs(raw.timeout),
    json: raw.json === true,
    verbose: raw.verbose === true,
  };
}

function oneOf<T extends string>(value: string, allowed: readonly T[], from: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UkernelError('InvalidOption', `${from} must be one of ${allowed.join(', ')} (got "${printable(value)}")`);
}

function integerIn(value: string | undefined, flag: string, min: number, max: number, fallback: number, unit: string): number {
  if (value === undefined) return fallback;
  const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new UkernelError('InvalidOption', `${flag} must be an integer in ${min}..${max}${unit} (got "${printable(value)}")`);
  }
  return n;
}

function timeoutMs(value: string | undefined): number | null {
  if (value === undefined) return null;
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds > 0) || seconds > RUN_TIMEOUT_S_MAX) {
    throw new UkernelError(
      'InvalidOption',
      `--timeout must be a number of seconds in (0, ${RUN_TIMEOUT_S_MAX}] (got "${printable(value)}")`,
    );
  }
  return Math.ceil(seconds * 1000);
}

function checkCmdline(value: string): string {
  // Control characters would end up in QEMU's -append or the Firecracker JSON verbatim.
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new UkernelError('InvalidOption', '--cmdline must not contain control characters or newlines');
  }
  return value;
}

/** Echo user input in messages without letting it carry terminal escapes. */
function printable(value: string): string {
  const cut = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return cut.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
