// Spawning and stopping a VMM process so that it never outlives the CLI.
//  - Through util-linux `setpriv --pdeathsig SIGKILL` (child.ts, shared by every spawn), the
//    kernel kills the VMM when the CLI dies for any reason, SIGKILL included.
//  - stop(): SIGTERM, wait ≤ grace, SIGKILL, wait ≤ KILL_REAP_MS. Every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { KILL_GRACE_MS, KILL_REAP_MS } from '../constants.js';
import { withParentDeathSignal } from '../child.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  atNs: bigint;
}

export interface StopResult {
  /** Already gone, or gone after SIGTERM. */
  graceful: boolean;
  /** Confirmed gone (false only if even SIGKILL was not reaped in time). */
  exited: boolean;
}

export interface VmmProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** process.hrtime.bigint() just before spawn. */
  readonly spawnedAtNs: bigint;
  /** True when the child is tied to our lifetime with PR_SET_PDEATHSIG. */
  readonly parentDeathSignal: boolean;
  readonly exited: Promise<ExitInfo>;
  exitInfo(): ExitInfo | null;
  stop(graceMs?: number): Promise<StopResult>;
}

export interface SpawnVmmOptions {
  /** Wrap in `setpriv --pdeathsig SIGKILL` when setpriv exists (default true). */
  parentDeathSignal?: boolean;
  env?: NodeJS.ProcessEnv;
  /** A file descriptor for the child's stdout (e.g. the run's console log) instead of a pipe:
   *  Firecracker makes its stdout non-blocking and drops serial bytes it cannot write at once,
   *  which a regular file never refuses. `child.stdout` is then null. */
  stdoutFd?: number;
}

/** Spawn `binary args…` with stdin ignored, stderr piped and stdout piped (or sent to
 *  `stdoutFd`). Rejects if exec fails. */
export async function spawnVmm(binary: string, args: readonly string[], options: SpawnVmmOptions = {}): Promise<VmmProcess> {
  const env = options.env ?? process.env;
  const command = withParentDeathSignal(binary, args, env, options.parentDeathSignal !== false);

  const spawnedAtNs = process.hrtime.bigint();
  const child = spawn(command.file, command.args, { stdio: ['ignore', options.stdoutFd ?? 'pipe', 'pipe'], env });
  let exit: ExitInfo | null = null;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal, atNs: process.hrtime.bigint() };
      resolve(exit);
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.on('error', () => {}); // e.g. kill() of a process that just died; exit is tracked above
  const pid = child.pid;
  if (pid === undefined) throw new Error(`spawn of ${binary} reported success without a pid`);

  const stop = async (graceMs: number = KILL_GRACE_MS): Promise<StopResult> => {
    if (exit !== null) return { graceful: true, exited: true };
    child.kill('SIGTERM');
    if (await settlesWithin(exited, graceMs)) return { graceful: true, exited: true };
    child.kill('SIGKILL');
    return { graceful: false, exited: await settlesWithin(exited, KILL_REAP_MS) };
  };

  return {
    pid,
    child,
    spawnedAtNs,
    parentDeathSignal: command.parentDeathSignal,
    exited,
    exitInfo: () => exit,
    stop,
  };
}

/** True if `promise` settles within `ms`; never leaves a timer behind. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
