// Running a build tool (bash build.sh, link.sh, the host python3.13) as a child of the CLI: a
// bound on its time, SIGINT/SIGTERM stop it and its children (its own process group), its
// stderr arrives line by line (progress lines, the tail kept for the error), its stdout whole.
import { spawn } from 'node:child_process';
import { withParentDeathSignal } from '../child.js';
import { CHILD_STOP_GRACE_MS } from '../constants.js';
import { UkernelError, type ErrorCatalog } from '../errors.js';
import { formatDuration } from '../format.js';

/** Lines of a failing tool's stderr kept for the error's details. */
const STDERR_TAIL_LINES_MAX = 30;
/** A tool's stdout beyond this is cut (the tools answer a path or one JSON object). */
const STDOUT_BYTES_MAX = 16 << 20;

export interface ToolRun {
  file: string;
  args: readonly string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** How messages name the tool ("adapters/python/build.sh"). */
  what: string;
  /** The catalog error for a failure (non-zero exit, timeout, cannot start). */
  code: keyof typeof ErrorCatalog;
  hint?: string;
  /** Each complete stderr line, as it comes. */
  onStderrLine?: (line: string) => void;
  abort: AbortSignal;
}

export interface ToolResult {
  stdout: string;
  /** The last STDERR_TAIL_LINES_MAX lines of stderr. */
  stderrTail: string[];
}

/** Run it; resolves when it exits 0, else throws `code` naming why, with the stderr tail. */
export function runTool(run: ToolRun): Promise<ToolResult> {
  return new Promise((resolvePromise, reject) => {
    const command = withParentDeathSignal(run.file, run.args, run.env ?? process.env);
    const child = spawn(command.file, command.args, {
      cwd: run.cwd,
      env: run.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: a stop reaches make, zig and the compilers too
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    const tail: string[] = [];
    let partial = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdoutBytes < STDOUT_BYTES_MAX) stdout.push(chunk);
      stdoutBytes += chunk.length;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        if (tail.length > STDERR_TAIL_LINES_MAX) tail.shift();
        run.onStderrLine?.(line);
      }
    });
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, signal);
      } catch {
        child.kill(signal); // the group is gone already
      }
    };
    const stop = (): void => {
      killGroup('SIGTERM');
      timers.push(setTimeout(() => killGroup('SIGKILL'), CHILD_STOP_GRACE_MS));
    };
    timers.push(
      setTimeout(() => {
        timedOut = true;
        stop();
      }, run.timeoutMs),
    );
    if (run.abort.aborted) stop();
    run.abort.addEventListener('abort', stop, { once: true });
    const done = (): void => {
      for (const timer of timers) clearTimeout(timer);
      run.abort.removeEventListener('abort', stop);
    };
    const fail = (why: string): UkernelError =>
      new UkernelError(run.code, `${run.what} ${why}`, {
        ...(run.hint !== undefined ? { hint: run.hint } : {}),
        details: partial !== '' ? [...tail, partial] : tail,
      });
    child.on('error', (err) => {
      done();
      reject(fail(`could not start: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    child.on('close', (code, signal) => {
      done();
      if (run.abort.aborted) return reject(run.abort.reason);
      if (timedOut) return reject(fail(`did not finish within ${formatDuration(run.timeoutMs * 1e6)} and was stopped`));
      if (code !== 0) return reject(fail(code !== null ? `failed (exit status ${code})` : `was killed by ${signal}`));
      resolvePromise({ stdout: Buffer.concat(stdout).toString('utf8'), stderrTail: tail });
    });
  });
}
