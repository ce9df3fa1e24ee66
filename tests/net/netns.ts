// Network namespaces with a tap device, for the tap tests (networking.md §5, measured recipe):
// `ip netns add NS`; in it `ip tuntap add dev TAP mode tap`, the host address on the tap, the tap
// and `lo` up. The VMM is then started inside the namespace (`ip netns exec NS …`) and attaches
// the tap by name; clients (curl, the injector) run inside the namespace too, so test traffic
// never leaves it. `ip netns del NS` removes the namespace and its tap.
//
// Names are unique per process (`ukt<PID>x<N>`), and namespaces left by a test process that died
// without cleaning up (its PID no longer alive) are removed by the next `createNetns`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

export interface Netns {
  name: string;
  tap: string;
  /** The host side's address on the tap (the guest's gateway). */
  hostIp: string;
  /** The address the guest is given (`--ip`). */
  guestIp: string;
  prefixLength: number;
  /** Runs `command args` inside the namespace to completion (bounded). */
  exec(command: string, args: string[], timeoutMs?: number): { status: number | null; stdout: string; stderr: string };
  /** `ip netns exec NAME` + argv, for spawning long-running processes inside the namespace. */
  wrap(argv: string[]): string[];
  remove(): void;
}

const prefix = 'ukt';
let counter = 0;

/** Why tap tests cannot run here, or null when they can (root, `ip`, /dev/net/tun, netns works). */
export function tapUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root: creating a network namespace and a tap needs root';
  if (spawnSync('sh', ['-c', 'command -v ip'], { stdio: 'ignore' }).status !== 0) return '`ip` (iproute2) not on PATH';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing: no tap devices here';
  return null;
}

function ip(args: string[], timeoutMs = 10_000): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') };
}

function ipOk(args: string[]): string {
  const result = ip(args);
  if (result.status !== 0) throw new Error(`ip ${args.join(' ')} failed (status ${result.status}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** Deletes namespaces named by this fixture whose creating process is gone. */
function removeStale(): void {
  let names: string[] = [];
  try {
    names = readdirSync('/var/run/netns');
  } catch {
    return; // None created yet.
  }
  for (const name of names) {
    const match = new RegExp(`^${prefix}(\\d+)x\\d+$`).exec(name);
    if (!match || existsSync(`/proc/${match[1]}`)) continue;
    ip(['netns', 'del', name]);
  }
}

/**
 * A namespace with tap `tap0` holding `hostIp/prefixLength`, up, and `lo` up. Subnet
 * 192.168.(100+N).0/24 by default (host .1, guest .2). Throws with `ip`'s message when a step
 * fails, after removing what it made.
 */
export function createNetns(options: { subnet?: string; mtu?: number } = {}): Netns {
  removeStale();
  counter += 1;
  const name = `${prefix}${process.pid}x${counter}`;
  const tap = 'tap0'; // Interface names are per namespace; the namespace name is the unique part.
  const subnet = options.subnet ?? `192.168.${100 + (counter % 100)}`;
  const hostIp = `${subnet}.1`;
  const guestIp = `${subnet}.2`;
  const prefixLength = 24;
  ipOk(['netns', 'add', name]);
  const netns: Netns = {
    name,
    tap,
    hostIp,
    guestIp,
    prefixLength,
    exec(command, args, timeoutMs = 30_000) {
      const result = spawnSync('ip', ['netns', 'exec', name, command, ...args], { encoding: 'utf8', timeout: timeoutMs });
      return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? String(result.error ?? '') };
    },
    wrap: (argv) => ['ip', 'netns', 'exec', name, ...argv],
    remove() {
      ip(['netns', 'del', name]);
    },
  };
  try {
    ipOk(['-n', name, 'link', 'set', 'lo', 'up']);
    ipOk(['-n', name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    if (options.mtu) ipOk(['-n', name, 'link', 'set', tap, 'mtu', String(options.mtu)]);
    ipOk(['-n', name, 'addr', 'add', `${hostIp}/${prefixLength}`, 'dev', tap]);
    ipOk(['-n', name, 'link', 'set', tap, 'up']);
  } catch (error) {
    netns.remove();
    throw error;
  }
  return netns;
}

/** Whether namespace NAME still exists (for the cleanup assertions). */
export function netnsExists(name: string): boolean {
  return ip(['netns', 'list'])
    .stdout.split('\n')
    .some((line) => line.split(' ')[0] === name);
}
