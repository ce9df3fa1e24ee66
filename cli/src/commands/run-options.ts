// `ukernel run` options. Commander parses and validates each flag through the parsers below
// (each throws InvalidOption, UK101, with the message the tests pin); resolveRunSettings then
// applies one precedence for every setting: flag > environment > ukernel.toml [run] > default.
// Pure apart from path resolution against cwd; kernel file checks happen in run.ts.
import { resolve } from 'node:path';
import {
  MEMORY_MIB_DEFAULT,
  MEMORY_MIB_MAX,
  MEMORY_MIB_MIN,
  PUBLISH_MAX,
  RUN_TIMEOUT_S_MAX,
  VCPU_DEFAULT,
  VCPU_MAX,
  VCPU_MIN,
  WORKLOAD_ARGS_MAX,
} from '../constants.js';
import { UkernelError } from '../errors.js';
import type { ProjectConfig } from '../project/config.js';
import { ACCELS, type AccelRequest } from '../vmm/accel.js';
import {
  formatNetMode,
  gatewayProblem,
  guestMac,
  type DnsServer,
  type Ipv4Cidr,
  NetSyntaxError,
  type NetMode,
  type NetworkSettings,
  parseDnsServer,
  parseIpSetting,
  parseIpv4,
  parseNetMode,
  parsePortMapping,
  type PortMapping,
  userNetAddressProblem,
} from '../vmm/network.js';
import type { VmmName } from '../vmm/session.js';

export const VMMS = ['qemu', 'firecracker'] as const satisfies readonly VmmName[];

/** What commander hands the action, each flag already parsed by its parser (absent = undefined). */
export interface RunFlags {
  kernel?: string;
  image?: string;
  accel?: AccelRequest;
  memory?: number;
  vcpu?: number;
  vmm?: VmmName;
  cmdline?: string;
  /** --timeout in milliseconds. */
  timeout?: number;
  json?: boolean;
  verbose?: boolean;
  net?: NetMode;
  /** -p/--publish, repeatable, in order. */
  publish?: PortMapping[];
  ip?: Ipv4Cidr | 'dhcp';
  gateway?: string;
  dns?: DnsServer;
  release?: boolean;
  /** Workload arguments: what came after `--` on the command line (checked by checkWorkloadArgs). */
  args?: string[];
}

/**
 * What to boot: a bare kernel ELF (`--kernel`), a packed image (`--image`), or the project in
 * the current directory (built and packed first when its inputs changed).
 */
export type BootSource = { type: 'kernel'; path: string } | { type: 'image'; path: string } | { type: 'project' };

/** Every setting of one run, resolved: flag > environment > ukernel.toml [run] > default. */
export interface RunSettings {
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
  /** The network, resolved and checked for consistency (host checks: vmm/net-host.ts). */
  network: NetworkSettings;
  release: boolean;
  workloadArgs: string[];
}

/** The `[run]` table of ukernel.toml, when there is a project. */
export type RunDefaults = ProjectConfig['run'] | null;

export function bootSource(flags: RunFlags, cwd: string = process.cwd()): BootSource {
  if (flags.kernel !== undefined) return { type: 'kernel', path: resolve(cwd, flags.kernel) };
  if (flags.image !== undefined) return { type: 'image', path: resolve(cwd, flags.image) };
  return { type: 'project' };
}

/** The one place where flags, UKERNEL_ACCEL and ukernel.toml's [run] meet (see the test table). */
export function resolveRunSettings(flags: RunFlags, env: NodeJS.ProcessEnv, toml: RunDefaults): RunSettings {
  const envAccel = env.UKERNEL_ACCEL !== undefined && env.UKERNEL_ACCEL !== '' ? env.UKERNEL_ACCEL : undefined;
  const [accel, accelFrom]: [AccelRequest, RunSettings['accelFrom']] =
    flags.accel !== undefined
      ? [flags.accel, '--accel']
      : envAccel !== undefined
        ? [parseOneOf(ACCELS, 'UKERNEL_ACCEL')(envAccel), 'UKERNEL_ACCEL']
        : ['auto', 'default'];
  return {
    accel,
    accelFrom,
    memoryMib: flags.memory ?? toml?.memory_mb ?? MEMORY_MIB_DEFAULT,
    vcpus: flags.vcpu ?? toml?.vcpu ?? VCPU_DEFAULT,
    vmm: flags.vmm ?? 'qemu',
    cmdline: flags.cmdline ?? '',
    timeoutMs: flags.timeout ?? null,
    json: flags.json === true,
    verbose: flags.verbose === true,
    network: resolveNetwork(flags, toml),
    release: flags.release === true,
    workloadArgs: flags.args ?? [],
  };
}

// Commander argument parsers: each returns the parsed value or throws InvalidOption (UK101).

export function parsePath(flag: string): (value: string) => string {
  return (value) => {
    if (value === '') throw new UkernelError('Usage', `empty ${flag} path`);
    return value;
  };
}

export function parseOneOf<T extends string>(allowed: readonly T[], from: string): (value: string) => T {
  return (value) => {
    if ((allowed as readonly string[]).includes(value)) return value as T;
    throw new UkernelError('InvalidOption', `${from} must be one of ${allowed.join(', ')} (got "${printable(value)}")`);
  };
}

export function parseIntegerIn(flag: string, min: number, max: number, unit: string): (value: string) => number {
  return (value) => {
    const n = /^[0-9]{1,9}$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new UkernelError('InvalidOption', `${flag} must be an integer in ${min}..${max}${unit} (got "${printable(value)}")`);
    }
    return n;
  };
}

export const parseMemory = parseIntegerIn('--memory', MEMORY_MIB_MIN, MEMORY_MIB_MAX, ' MiB');
export const parseVcpu = parseIntegerIn('--vcpu', VCPU_MIN, VCPU_MAX, '');

/** --timeout SECONDS → milliseconds. */
export function parseTimeout(value: string): number {
  const seconds = /^[0-9]+(\.[0-9]+)?$/.test(value) ? Number(value) : NaN;
  if (!(seconds > 0) || seconds > RUN_TIMEOUT_S_MAX) {
    throw new UkernelError(
      'InvalidOption',
      `--timeout must be a number of seconds in (0, ${RUN_TIMEOUT_S_MAX}] (got "${printable(value)}")`,
    );
  }
  return Math.ceil(seconds * 1000);
}

export function parseCmdline(value: string): string {
  // Control characters would end up in QEMU's -append or the Firecracker JSON verbatim.
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new UkernelError('InvalidOption', '--cmdline must not contain control characters or newlines');
  }
  return value;
}

/** The network of a run: flags over ukernel.toml [run]; `--publish` implies `--net user`. */
export function resolveNetwork(flags: RunFlags, toml: RunDefaults): NetworkSettings {
  const fromFlags = (flags.publish ?? []).length > 0;
  const tomlPublish = (toml?.publish ?? []).map((text) => parsePortMapping(text)); // validated on load
  const tomlNet = toml?.net !== undefined ? parseNetMode(toml.net) : undefined;
  const [mode, from]: [NetMode, string] =
    flags.net !== undefined
      ? [flags.net, '--net']
      : tomlNet !== undefined && (!fromFlags || tomlNet.kind !== 'none')
        ? [tomlNet, 'ukernel.toml [run] net']
        : fromFlags
          ? [{ kind: 'user' }, '--publish']
          : tomlPublish.length > 0
            ? [{ kind: 'user' }, 'ukernel.toml [run] publish']
            : [{ kind: 'none' }, 'default'];
  let publish = fromFlags ? flags.publish! : tomlPublish;
  const publishFrom = publish.length === 0 ? null : fromFlags ? '--publish' : 'ukernel.toml [run] publish';
  if (mode.kind !== 'user' && publish.length > 0) {
    // The project's ports do not apply to a run given --net none or tap:… (the file itself
    // cannot say both: config.ts refuses that).
    if (!fromFlags) publish = [];
    else {
      throw new UkernelError('PublishNeedsUserNet', `--publish needs user networking, but ${from} = ${formatNetMode(mode)}`, {
        hint:
          mode.kind === 'tap'
            ? 'On a tap the guest has its own address: reach it there and drop --publish, or add `--net user` to publish ports.'
            : 'Drop `--net none` (--publish then implies --net user), or drop --publish.',
      });
    }
  }
  return networkFor(mode, from, publish, publishFrom, flags, toml);
}

/** The address settings for `mode`, each from its flag or else the file, checked together. */
function networkFor(
  mode: NetMode,
  from: string,
  publish: PortMapping[],
  publishFrom: string | null,
  flags: RunFlags,
  toml: RunDefaults,
): NetworkSettings {
  const flagged = (['ip', 'gateway', 'dns'] as const).filter((k) => flags[k] !== undefined);
  if (mode.kind === 'none') {
    if (flagged.length > 0) {
      throw new UkernelError('InvalidOption', `--${flagged[0]} has no effect without a network (${from} = none)`, {
        hint: 'Add `--net user` or `--net tap:IFACE`, or drop it.',
      });
    }
    return { mode, from, publish: [], publishFrom: null, ip: null, gateway: null, dns: null, mac: null };
  }
  // The file's addresses belong to the file's network: a tap address kept for `--net tap:` runs
  // must not follow a `--net user` or `--publish` run into slirp's network.
  const file = fileNetKind(toml) === mode.kind ? toml : undefined;
  const ip = flags.ip ?? (file?.ip !== undefined ? parseIpSetting(file.ip) : null);
  const gateway = flags.gateway ?? file?.gateway ?? null;
  const dns = flags.dns ?? (file?.dns !== undefined ? parseDnsServer(file.dns) : null);
  const ipFrom = flags.ip !== undefined ? '--ip' : 'ukernel.toml [run] ip';
  const gatewayFrom = flags.gateway !== undefined ? '--gateway' : 'ukernel.toml [run] gateway';
  if (mode.kind === 'tap' && ip === null) {
    throw new UkernelError(
      'AddressMissing',
      `${from} = ${formatNetMode(mode)}, but the guest has no address (no --ip, no [run] ip)`,
    );
  }
  if (gateway !== null) {
    if (ip === null || ip === 'dhcp') {
      throw new UkernelError('AddressInvalid', `${gatewayFrom} = ${gateway} needs a static guest address (--ip A.B.C.D/PREFIX)`);
    }
    const problem = gatewayProblem(ip, gateway);
    if (problem !== null) throw new UkernelError('AddressInvalid', `${gatewayFrom} with ${ipFrom}: ${problem}`);
  }
  if (mode.kind === 'user' && ip !== null && ip !== 'dhcp') {
    const problem = userNetAddressProblem(ip, gateway);
    if (problem !== null) throw new UkernelError('AddressInvalid', `${ipFrom} with ${from} = user: ${problem}`);
  }
  const mac = mode.kind === 'tap' ? guestMac(ip, mode.iface) : null;
  return { mode, from, publish, publishFrom, ip, gateway, dns, mac };
}

/** The kind of network ukernel.toml itself asks for: its `net`, else user when it publishes. */
function fileNetKind(toml: RunDefaults): NetMode['kind'] {
  if (toml?.net !== undefined) return parseNetMode(toml.net).kind;
  return toml?.publish !== undefined && toml.publish.length > 0 ? 'user' : 'none';
}

/** A network value from a flag: parsed, or refused with `code` naming the flag and the value. */
function netFlag<T>(flag: string, parse: (value: string) => T, code: 'InvalidOption' | 'PublishInvalid' | 'AddressInvalid') {
  return (value: string): T => {
    try {
      return parse(value);
    } catch (err) {
      if (!(err instanceof NetSyntaxError)) throw err;
      throw new UkernelError(code, `${flag} "${printable(value)}": ${err.reason}`);
    }
  };
}

export const parseNet = netFlag('--net', parseNetMode, 'InvalidOption');
export const parseIpFlag = netFlag('--ip', parseIpSetting, 'AddressInvalid');
export const parseGatewayFlag = netFlag('--gateway', (v) => parseIpv4(v, 'gateway'), 'AddressInvalid');
export const parseDnsFlag = netFlag('--dns', parseDnsServer, 'AddressInvalid');
const parseOnePublish = netFlag('--publish', parsePortMapping, 'PublishInvalid');

/** -p/--publish, repeatable: each value is appended to the ones before. */
export function parsePublish(value: string, previous: PortMapping[] | undefined): PortMapping[] {
  const list = [...(previous ?? []), parseOnePublish(value)];
  if (list.length > PUBLISH_MAX) {
    throw new UkernelError('PublishInvalid', `${list.length} --publish mappings; at most ${PUBLISH_MAX} fit`);
  }
  return list;
}

/** Workload arguments travel on the kernel command line, which splits on spaces. */
export function checkWorkloadArgs(args: string[], cmdline: string): string[] {
  if (args.length > WORKLOAD_ARGS_MAX - 1) {
    throw new UkernelError('InvalidOption', `${args.length} workload arguments; at most ${WORKLOAD_ARGS_MAX - 1} fit`);
  }
  for (const arg of args) {
    if (arg === '' || /[\s\x00-\x1f\x7f]/.test(arg)) {
      throw new UkernelError(
        'InvalidOption',
        `workload argument "${printable(arg)}" is empty or contains spaces or control characters`,
        {
          hint: 'The kernel command line carries workload arguments and splits on spaces; pass data through env/ukernel.env or files instead.',
        },
      );
    }
  }
  if (args.length > 0 && cmdline.split(/\s+/).includes('--')) {
    throw new UkernelError(
      'InvalidOption',
      '--cmdline already has a "--"; put workload arguments either there or after --, not both',
    );
  }
  // Its length, with what the VMM appends, is checked once the VMM and devices are known.
  return args;
}

/** Echo user input in messages without letting it carry terminal escapes. */
function printable(value: string): string {
  const cut = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return cut.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
