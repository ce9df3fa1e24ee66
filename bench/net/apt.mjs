// Debian packages for bench/net, through apt-get (as scripts/bootstrap.sh installs QEMU): wrk,
// and the Linux guest's kernel and busybox (downloaded, never installed). Needs root, or sudo
// without a password, for update and install.
import { existsSync } from 'node:fs';
import { command } from './procs.mjs';

/** apt-get update or install may take this long, in ms. */
export const APT_TIMEOUT_MS = 300_000;
/** Shared with scripts/bootstrap.sh: the package lists are refreshed once per boot. */
const UPDATED_STAMP = '/tmp/.ukernel-apt-updated';

/** Whether `name` is on PATH. */
export function onPath(name) {
  return command('sh', ['-c', 'command -v "$0"', name], { check: false }).code === 0;
}

function asRoot(args) {
  if (process.getuid?.() === 0) return command(args[0], args.slice(1), { timeoutMs: APT_TIMEOUT_MS, env: aptEnv() });
  if (!onPath('sudo')) throw new Error(`needs root: run \`${args.join(' ')}\` as root, then run the benchmark again`);
  return command('sudo', ['-n', ...args], { timeoutMs: APT_TIMEOUT_MS, env: aptEnv() });
}

function aptEnv() {
  return { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
}

/** `apt-get update`, once per boot (the stamp), or now when `force`. */
export function aptUpdate(say, force = false) {
  if (existsSync(UPDATED_STAMP) && !force) return;
  say('refreshing the Debian package lists (apt-get update)');
  asRoot(['apt-get', 'update', '-qq']);
  command('touch', [UPDATED_STAMP], { check: false });
}

/** Installs Debian `packages`; `say` reports what is being installed. */
export function aptInstall(packages, say) {
  aptUpdate(say);
  say(`installing ${packages.join(' ')} from Debian (apt-get install)`);
  asRoot(['apt-get', 'install', '-y', '-qq', ...packages]);
}
