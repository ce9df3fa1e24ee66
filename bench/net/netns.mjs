// A network namespace with a tap device for bench/net (root only): the guest's tap lives in a
// namespace this benchmark creates, and the load generator runs inside it, so load traffic
// never leaves this machine (networking.md §5; /work/.library/env/README.md). Removed on exit
// and on Ctrl-C (procs.onCleanup); namespaces left by a killed earlier run are removed first.
import { existsSync } from 'node:fs';
import { command, onCleanup } from './procs.mjs';

/** Namespace names are PREFIX + the benchmark's pid, so a stale one names a dead process. */
const PREFIX = 'ukbench-';
export const TAP_NAME = 'uktap0';
/** The host end of the tap (inside the namespace) and the guest, a /24 private to the namespace. */
export const TAP_HOST_ADDRESS = '192.168.77.1';
export const TAP_GUEST_ADDRESS = '192.168.77.2';
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
 * Creates namespace ukbench-<pid> holding tap TAP_NAME at TAP_HOST_ADDRESS/24, up, with `lo`
 * up. Returns { ns, tap, hostAddress, guestAddress, prefixBits }. Throws (after removing what
 * it made) when a step fails.
 */
export function createTapNamespace(say) {
  removeStale(say);
  const ns = `${PREFIX}${process.pid}`;
  command('ip', ['netns', 'add', ns]);
  onCleanup(() => command('ip', ['netns', 'del', ns], { check: false }));
  const inNs = (...args) => command('ip', ['netns', 'exec', ns, 'ip', ...args]);
  inNs('link', 'set', 'lo', 'up');
  inNs('tuntap', 'add', 'dev', TAP_NAME, 'mode', 'tap');
  inNs('addr', 'add', `${TAP_HOST_ADDRESS}/${TAP_PREFIX_BITS}`, 'dev', TAP_NAME);
  inNs('link', 'set', TAP_NAME, 'up');
  return { ns, tap: TAP_NAME, hostAddress: TAP_HOST_ADDRESS, guestAddress: TAP_GUEST_ADDRESS, prefixBits: TAP_PREFIX_BITS };
}
