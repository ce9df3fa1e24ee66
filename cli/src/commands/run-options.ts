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
  WORKLOAD_ARGS_MAX,
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
  image?: string;
  net?: string;
  release?: boolean;
  /** Workload arguments: what came after `--` on the command line. */
  args?: string[];
}

/**
 * What to boot: a bare kernel ELF (`--kernel`), a packed image (`--image`), or the project in
 * the current directory (built and packed first when its inputs changed).
 */
export type BootSource = { type: 'kernel'; path: string } | { type: 'image'; path: string } | { type: 'project' };

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
  /** Whether --memory / --vcpu were given (else ukernel.toml's [run] values apply, if any). */
  explicit: { memory: boolean; vcpu: boolean };
  /** --net, or null (then ukernel.toml's [run] net, default "none"). */
  net: string | null;
  release: boolean;
  workloadArgs: string[];
}

export function normalizeRunOptions(
  raw: RawRunOptions,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): RunOptions {
  if (raw.kernel === '' || raw.image === '') {
    throw new UkernelError('Usage', `empty ${raw.kernel === '' ? '--kernel' : '--image'} path`);
  }
  if (raw.kernel !== undefined && raw.image !== undefined) {
    throw new UkernelError('Usage', '--kernel and --image exclude each other: boot either a bare kernel or an image', {
      hint: 'ukernel run --image dist/NAME.img (the image carries its kernel), or ukernel run --kernel ELF.',
    });
  }
  const source: BootSource =
    raw.kernel !== undefined
      ? { type: 'kernel', path: resolve(cwd, raw.kernel) }
      : raw.image !== undefined
        ? { type: 'image', path: resolve(cwd, raw.image) }
        : { type: 'project' };

  let accelText: string;
  let accelFrom: RunOptions['accelFrom'];
  if (raw.accel !== undefined) [accelText, accelFrom] = [raw.accel, '--accel'];
  else if (env.UKERNEL_ACCEL !== undefined && env.UKERNEL_ACCEL !== '') [accelText, accelFrom] = [env.UKERNEL_ACCEL, 'UKERNEL_ACCEL'];
  else [accelText, accelFrom] = ['auto', 'default'];

  return {
    source,
    accel: oneOf(accelText, ACCELS, accelFrom),
    accelFrom,
    memoryMib: integerIn(raw.memory, '--memory', MEMORY_MIB_MIN, MEMORY_MIB_MAX, MEMORY_MIB_DEFAULT, ' MiB'),
    vcpus: integerIn(raw.vcpu, '--vcpu', VCPU_MIN, VCPU_MAX, VCPU_DEFAULT, ''),
    vmm: oneOf(raw.vmm ?? 'qemu', VMMS, '--vmm'),
    cmdline: checkCmdline(raw.cmdline ?? ''),
    timeoutMs: timeoutMs(raw.timeout),
    json: raw.json === true,
    verbose: raw.verbose === true,
    explicit: { memory: raw.memory !== undefined, vcpu: raw.vcpu !== undefined },
    net: raw.net === undefined ? null : checkNet(raw.net),
    release: raw.release === true,
    workloadArgs: checkWorkloadArgs(raw.args ?? [], raw.cmdline ?? ''),
  };
}

function checkNet(value: string): string {
  if (/^(?:none|tap:[A-Za-z0-9_.-]{1,15})$/.test(value)) return value;
  throw new UkernelError('InvalidOption', `--net must be none or tap:IFACE (got "${printable(value)}")`);
}

/** Workload arguments travel on the kernel command line, which splits on spaces. */
function checkWorkloadArgs(args: string[], cmdline: string): string[] {
  if (args.length > WORKLOAD_ARGS_MAX - 1) {
    throw new UkernelError('InvalidOption', `${args.length} workload arguments; at most ${WORKLOAD_ARGS_MAX - 1} fit`);
  }
  for (const arg of args) {
    if (arg === '' || /[\s\x00-\x1f\x7f]/.test(arg)) {
      throw new UkernelError('InvalidOption', `workload argument "${printable(arg)}" is empty or contains spaces or control characters`, {
        hint: 'The kernel command line carries workload arguments and splits on spaces; pass data through env/ukernel.env or files instead.',
      });
    }
  }
  if (args.length > 0 && cmdline.split(/\s+/).includes('--')) {
    throw new UkernelError('InvalidOption', '--cmdline already has a "--"; put workload arguments either there or after --, not both');
  }
  // Its length, with what the VMM appends, is checked once the VMM and devices are known.
  return args;
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
