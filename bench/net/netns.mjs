// A network namespace with a tap device for bench/net (root only): the guest's tap lives in a
// namespace this benchmark creates, and the load generator runs inside it, so load traffic
// never leaves this machine (networking.md §5; /work/.library/env/README.md). Removed on exit
// and on Ctrl-C (procs.onCleanup); namespaces left by a killed earlier run are removed first.
import { existsSync } from 'node:fs';
import { command, onCleanup } from './procs.mjs';

/** Namespace names are PREFIX + the benchmark's pid, so a stale one names a dead process. */
const PREFIX = 'ukbench-';
/**
 * Two taps, so that two guests can be up at once (QEMU and Firecracker in (b)), each on its own
 * /24 private to the namespace: the host end (inside the namespace) and the guest's address.
 */
export const TAPS = [
  { tap: 'uktap0', hostAddress: '192.168.77.1', guestAddress: '192.168.77.2' },
  { tap: 'uktap1', hostAddress: '192.168.78.1', guestAddress: '192.168.78.2' },
];
export const TAP_PREFIX_BITS = 24;

/** Why a tap namespace cannot be made here, or null when it can. */
export function tapUnavailable() {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and tap devices); run the benchmark as root';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (load the tun module)';
  if (command('ip', ['-V'], { check: false }).code !== 0) return 'the `ip` tool (iproute2) is missing';
  return null;
}

/** Removes namespaces named PREFIX<pid> whose pid is no longer alive (an earlier run was killed). */
function removeStale(say) {
  const list = command('ip', ['netns', 'list'], { check: false }).stdout;
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length));
    if (Number.isInteger(pid) && pid > 0 && !existsSync(`/proc/${pid}`)) {
      say(`removing namespace ${name} left by an earlier run`);
      command('ip', ['netns', 'del', name], { check: false });
    }
  }
}

/**
 * Creates namespace ukbench-<pid> holding the TAPS, each up with its host address, and `lo` up.
 * Returns { ns, taps: TAPS, prefixBits }. Throws when a step fails (the namespace, and with it
 * the taps, is removed at clean-up).
 */
export function createTapNamespace(say) {
  removeStale(say);
  const ns = `${PREFIX}${process.pid}`;
  command('ip', ['netns', 'add', ns]);
  onCleanup(() => command('ip', ['netns', 'del', ns], { check: false }));
  const inNs = (...args) => command('ip', ['netns', 'exec', ns, 'ip', ...args]);
  inNs('link', 'set', 'lo', 'up');
  for (const { tap, hostAddress } of TAPS) {
    inNs('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    inNs('addr', 'add', `${hostAddress}/${TAP_PREFIX_BITS}`, 'dev', tap);
    inNs('link', 'set', tap, 'up');
  }
  return { ns, taps: TAPS, prefixBits: TAP_PREFIX_BITS };
}
