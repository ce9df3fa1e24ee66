// Compiling a native workload with the pinned Zig: the exact command line, in one place.
import { spawn } from 'node:child_process';
import { BUILD_TIMEOUT_MS } from '../constants.js';
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
    '-target', 'x86_64-freestanding-none',
    '-O', opts.optimize,
    '-fPIE',
    '-static',
    '-fstrip',
    // Modules: root = the SDK's start.zig (imports `ukernel` and `workload`), workload = the
    // project's entry (imports `ukernel`), ukernel = the SDK.
    '--dep', 'ukernel',
    '--dep', 'workload',
    `-Mroot=${opts.sdkRoot}`,
    '--dep', 'ukernel',
    `-Mworkload=${opts.entry}`,
    `-Mukernel=${opts.sdkModule}`,
    `-femit-bin=${opts.output}`,
    '--cache-dir', opts.cacheDir,
    '--global-cache-dir', opts.globalCacheDir,
  ];
}

/** Part of the build inputs hash: changes whenever zigBuildArgs or the bundle layout does. */
export const BUILD_RECIPE = 'native-v2:sdk-start-root:x86_64-freestanding-none:pie:static:strip:bundle-v1';

/**
 * Run the compiler in `cwd`. Its output goes to our stderr unchanged (stdout too: `ukernel run`
 * keeps stdout for the guest console). Throws BuildFailed on a non-zero exit or timeout.
 */
export function runZig(zig: string, args: readonly string[], cwd: string, timeoutMs = BUILD_TIMEOUT_MS): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(zig, args, { cwd, stdio: ['ignore', 2, 2] });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    // Ctrl-C reaches zig through the terminal's process group; SIGTERM to us must reach it too.
    const forward = (): void => void child.kill('SIGTERM');
    process.once('SIGTERM', forward);
    const done = (): void => {
      clearTimeout(timer);
      process.off('SIGTERM', forward);
    };
    child.on('error', (err) => {
      done();
      reject(new UkernelError('ToolchainMissing', `cannot run ${zig}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    child.on('close', (code, signal) => {
      done();
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
