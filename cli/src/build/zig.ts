// Compiling a native workload with the pinned Zig: the exact command line, in one place.
import { spawn } from 'node:child_process';
import { WORKLOAD_STACK_BYTES_DEFAULT } from '../abi/contracts.js';
import { interruptible, withParentDeathSignal } from '../child.js';
import { BUILD_TIMEOUT_MS, CHILD_STOP_GRACE_MS } from '../constants.js';
import { UkernelError } from '../errors.js';
import { formatDuration } from '../format.js';

export type Optimize = 'ReleaseSafe' | 'ReleaseFast';

export interface ZigBuildOptions {
  /** Entry source, relative to the working directory (the project root). */
  entry: string;
  /** The SDK's root module, start.zig (absolute): the ELF entry point, calls workload.main. */
  sdkRoot: string;
  /** The SDK's `ukernel` module, ukernel.zig (absolute). */
  sdkModule: string;
  optimize: Optimize;
  /** Output file, relative to the project root. */
  output: string;
  cacheDir: string;
  globalCacheDir: string;
}

/**
 * `zig build-exe` for a workload: a static x86-64 PIE for a freestanding target.
 *
 * Reproducibility: `-fstrip` drops the debug info, which is the only place Zig records
 * absolute paths (DW_AT_comp_dir, file names), so the same sources give the same bytes in any
 * checkout path; sources are passed relative to the project root (diagnostics read
 * `src/main.zig:5:3`); both caches live in the project, so nothing depends on $HOME.
 * Bump BUILD_RECIPE when this changes.
 */
export function zigBuildArgs(opts: ZigBuildOptions): string[] {
  return [
    'build-exe',
    '-target',
    'x86_64-freestanding-none',
    '-O',
    opts.optimize,
    '-fPIE',
    '-static',
    '-fstrip',
    // PT_GNU_STACK's size is the first task's stack (the kernel honours it up to
    // WORKLOAD_STACK_BYTES_MAX); Zig would ask for 16 MiB.
    '--stack',
    String(WORKLOAD_STACK_BYTES_DEFAULT),
    // Modules: root = the SDK's start.zig (imports `ukernel` and `workload`), workload = the
    // project's entry (imports `ukernel`), ukernel = the SDK.
    '--dep',
    'ukernel',
    '--dep',
    'workload',
    `-Mroot=${opts.sdkRoot}`,
    '--dep',
    'ukernel',
    `-Mworkload=${opts.entry}`,
    `-Mukernel=${opts.sdkModule}`,
    `-femit-bin=${opts.output}`,
    '--cache-dir',
    opts.cacheDir,
    '--global-cache-dir',
    opts.globalCacheDir,
  ];
}

/** Part of the build inputs hash: changes whenever zigBuildArgs or the bundle layout does. */
export const BUILD_RECIPE = 'native-v3:sdk-start-root:x86_64-freestanding-none:pie:static:strip:stack-1m:bundle-v1';

/**
 * Run the compiler in `cwd`, tied to our lifetime (parent-death signal, child.ts). Its output
 * (stdout too: `ukernel run` keeps stdout for the guest console) is passed on to `output`
 * (our stderr) as it comes, through a pipe, so that a live progress line can step aside for it.
 * SIGINT/SIGTERM to us stop it (SIGTERM, SIGKILL after CHILD_STOP_GRACE_MS) and end in
 * Interrupted once it is gone. Throws BuildFailed on a non-zero exit or past `timeoutMs`.
 */
export function runZig(
  zig: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = BUILD_TIMEOUT_MS,
  output: (chunk: Buffer) => void = (chunk) => void process.stderr.write(chunk),
): Promise<void> {
  return interruptible('build stopped', (abort) => compile(zig, args, cwd, timeoutMs, output, abort));
}

function compile(
  zig: string,
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
  output: (chunk: Buffer) => void,
  abort: AbortSignal,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const command = withParentDeathSignal(zig, args);
    const child = spawn(command.file, command.args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', output);
    child.stderr.on('data', output);
    let timedOut = false;
    const timers: NodeJS.Timeout[] = [];
    const stop = (): void => {
      child.kill('SIGTERM');
      timers.push(setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_GRACE_MS));
    };
    timers.push(
      setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs),
    );
    if (abort.aborted) stop();
    abort.addEventListener('abort', stop, { once: true });
    const done = (): void => {
      for (const timer of timers) clearTimeout(timer);
      abort.removeEventListener('abort', stop);
    };
    child.on('error', (err) => {
      done();
      reject(new UkernelError('ToolchainMissing', `cannot run ${zig}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    child.on('close', (code, signal) => {
      done();
      if (abort.aborted) return reject(abort.reason);
      if (code === 0) return resolvePromise();
      const why = timedOut
        ? `zig did not finish within ${formatDuration(timeoutMs * 1e6)} and was stopped`
        : code !== null
          ? `zig exited with status ${code}`
          : `zig was killed by ${signal}`;
      reject(new UkernelError('BuildFailed', `build failed: ${why}`));
    });
  });
}
