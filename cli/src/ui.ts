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
