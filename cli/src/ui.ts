// Terminal output helpers. Colour follows picocolors' rules but is decided per stream.
import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

function colorFor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if ('NO_COLOR' in env || process.argv.includes('--no-color')) return false;
  if ('FORCE_COLOR' in env || process.argv.includes('--color')) return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

let stderrColors: Colors | undefined;
export function errColors(): Colors {
  stderrColors ??= pc.createColors(colorFor(process.stderr));
  return stderrColors;
}

export function writeErr(line: string): void {
  process.stderr.write(`${line}\n`);
}

let stdoutClosed = false;
let stdoutGuarded = false;

/** Write to stdout; if the reader went away (EPIPE, e.g. `| head`), drop output quietly. */
export function writeOut(line: string): void {
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    process.stdout.on('error', () => {
      stdoutClosed = true;
    });
  }
  if (!stdoutClosed) process.stdout.write(`${line}\n`);
}

// Progress on long steps: the interface and the silent one here (run.ts passes it for --json
// without loading the spinner); the terminal one is in progress.ts.

/** One step under way; done() once it is over, whether it worked or not. */
export interface ProgressStep {
  done(): void;
}

/** Says what a long step is doing while it does it. */
export interface Progress {
  begin(text: string): ProgressStep;
}

/** No progress at all (`--json`, tests). */
export const noProgress: Progress = { begin: () => ({ done: () => {} }) };
