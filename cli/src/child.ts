// Child processes never outlive the CLI, and an interrupted step cleans up before it exits.
//  - withParentDeathSignal: run a program through util-linux `setpriv --pdeathsig SIGKILL`, so
//    the kernel kills it when the CLI dies for any reason, SIGKILL included (prctl
//    PR_SET_PDEATHSIG; setpriv execs, so the pid is the program's). Every spawn of the CLI uses
//    it: the VMM (vmm/process.ts), `zig build-exe` (build/zig.ts), `zig version` (toolchain.ts).
//  - interruptible: SIGINT/SIGTERM during a long step (a build) abort it instead of killing
//    Node on the spot, so the step stops its child, removes its temp files, and the command
//    ends with Interrupted (exit 130/143).
import { EXIT_SIGINT, EXIT_SIGTERM } from './constants.js';
import { Interrupted } from './errors.js';
import { findExecutable } from './vmm/which.js';

/** The `setpriv` path per PATH value, looked up once (a PATH lookup is a few stat calls). */
const setprivPaths = new Map<string, string | null>();
function findSetpriv(env: NodeJS.ProcessEnv): string | null {
  const key = env.PATH ?? '';
  if (!setprivPaths.has(key)) setprivPaths.set(key, findExecutable('setpriv', env));
  return setprivPaths.get(key)!;
}

export interface ChildCommand {
  /** What to spawn: setpriv, or the program itself when setpriv is missing or not wanted. */
  file: string;
  args: string[];
  /** True when the child is tied to our lifetime with PR_SET_PDEATHSIG. */
  parentDeathSignal: boolean;
}

/**
 * The command line that runs `binary args…` with the parent-death signal SIGKILL, when
 * `setpriv` is on PATH (util-linux; everywhere on Debian) and `enabled`; else the plain one.
 */
export function withParentDeathSignal(
  binary: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  enabled = true,
): ChildCommand {
  const setpriv = enabled ? findSetpriv(env) : null;
  if (setpriv === null) return { file: binary, args: [...args], parentDeathSignal: false };
  return { file: setpriv, args: ['--pdeathsig', 'SIGKILL', '--', binary, ...args], parentDeathSignal: true };
}

interface Scope {
  controller: AbortController;
  signal: 'SIGINT' | 'SIGTERM' | null;
  stopped: string;
}

let active: Scope | null = null;

function interruptedBy(scope: Scope): Interrupted {
  const signal = scope.signal!;
  return new Interrupted(signal, signal === 'SIGINT' ? EXIT_SIGINT : EXIT_SIGTERM, scope.stopped);
}

/**
 * Run `body` with SIGINT/SIGTERM caught: the first one aborts `abort` (the body stops its child
 * and cleans up), and once the body has settled the call throws Interrupted(signal) with
 * `stopped` ("build stopped") — whatever the body returned or threw. Nested calls share the
 * outermost scope (its handlers and its `stopped`). Synchronous work in `body` is not cut short:
 * the signal is seen when it yields, so its temp files are renamed or removed, never left.
 */
export async function interruptible<T>(stopped: string, body: (abort: AbortSignal) => Promise<T> | T): Promise<T> {
  if (active !== null) {
    const outer = active;
    const value = await body(outer.controller.signal);
    if (outer.signal !== null) throw interruptedBy(outer);
    return value;
  }
  const scope: Scope = { controller: new AbortController(), signal: null, stopped };
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (scope.signal !== null) return; // A second Ctrl-C: the stop already under way is bounded.
    scope.signal = signal;
    scope.controller.abort(interruptedBy(scope));
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  active = scope;
  try {
    const value = await body(scope.controller.signal);
    if (scope.signal !== null) throw interruptedBy(scope);
    return value;
  } catch (err) {
    if (scope.signal !== null) throw interruptedBy(scope);
    throw err;
  } finally {
    active = null;
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
  }
}
