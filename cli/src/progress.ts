// Progress on long steps (compile, bundle, pack), as kraft and flox show it: on a terminal a
// live status line, otherwise plain lines; never on `--json`. Apart from ui.ts so that commands
// which never build (`run --kernel`, benchmarked) do not load the spinner.
import type { Writable } from 'node:stream';
import yoctoSpinner from 'yocto-spinner';
import { PROGRESS_INTERVAL_MS } from './constants.js';
import type { Progress } from './ui.js';

export { noProgress, type Progress, type ProgressStep } from './ui.js';

/** yocto-spinner's rule, so that the two agree: a TTY, not TERM=dumb, not under CI. */
export function isInteractive(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && env.TERM !== 'dumb' && !('CI' in env);
}

/** The elapsed time of a step: "0.4s", "12.3s", "2m05s". */
export function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * Progress on `stream` (stderr): on an interactive terminal a live status line (yocto-spinner:
 * a spinner, the step and its elapsed time, redrawn every PROGRESS_INTERVAL_MS; other output
 * to the stream, the compiler's too, steps aside for it), cleared when the step is done;
 * otherwise one plain line per step, "Compiling src/main.zig with zig 0.15.2 (ReleaseSafe) …".
 */
export function streamProgress(
  stream: Writable & { isTTY?: boolean } = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Progress {
  if (!isInteractive(stream, env)) {
    return {
      begin(text) {
        stream.write(`${text} …\n`);
        return { done: () => {} };
      },
    };
  }
  return {
    begin(text) {
      const started = Date.now();
      const spinner = yoctoSpinner({ text: `${text} …`, stream, handleSignals: false }).start();
      const timer = setInterval(() => {
        spinner.text = `${text} … ${formatElapsed(Date.now() - started)}`;
      }, PROGRESS_INTERVAL_MS);
      timer.unref();
      let over = false;
      return {
        done() {
          if (over) return;
          over = true;
          clearInterval(timer);
          spinner.stop();
        },
      };
    },
  };
}
