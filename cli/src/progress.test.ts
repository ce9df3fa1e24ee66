// Progress on long steps: plain lines off a terminal, a live line on one (a fake TTY stream).
import { Writable } from 'node:stream';
import { describe, expect, it, onTestFinished } from 'vitest';
import { formatElapsed, isInteractive, noProgress, streamProgress } from './progress.js';

/** A writable that records what is written; `tty` makes it look like a terminal to the spinner. */
function fakeStream(tty: boolean): Writable & { isTTY?: boolean; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  }) as Writable & {
    isTTY?: boolean;
    columns?: number;
    text(): string;
    cursorTo(x: number): boolean;
    moveCursor(dx: number, dy: number): boolean;
    clearLine(dir: number): boolean;
  };
  if (tty) {
    stream.isTTY = true;
    stream.columns = 80;
    const note = (chunk: string): true => {
      chunks.push(chunk);
      return true;
    };
    stream.cursorTo = (x) => note(`<col ${x}>`);
    stream.moveCursor = (dx, dy) => note(`<move ${dx},${dy}>`);
    stream.clearLine = () => note('<clear>');
  }
  stream.text = () => chunks.join('');
  return stream;
}

describe('streamProgress', () => {
  it('off a terminal: one plain line per step, nothing else', () => {
    const stream = fakeStream(false);
    const progress = streamProgress(stream, {});
    const step = progress.begin('Compiling src/main.zig with zig 0.15.2 (ReleaseSafe)');
    step.done();
    progress.begin('Packing image dist/demo.img').done();
    expect(stream.text()).toBe('Compiling src/main.zig with zig 0.15.2 (ReleaseSafe) …\nPacking image dist/demo.img …\n');
  });

  it('on a terminal: a live line with a spinner and the elapsed time, cleared when done', async () => {
    // yocto-spinner reads CI from process.env itself: the test must not depend on where it runs.
    const ci = process.env.CI;
    delete process.env.CI;
    onTestFinished(() => {
      if (ci !== undefined) process.env.CI = ci;
    });
    const stream = fakeStream(true);
    const progress = streamProgress(stream, { TERM: 'xterm' });
    const step = progress.begin('Compiling src/main.zig');
    await new Promise((resolve) => setTimeout(resolve, 350));
    step.done();
    step.done(); // idempotent
    const text = stream.text();
    expect(text).toContain('\x1b[?25l'); // cursor hidden while it spins…
    expect(text).toMatch(/Compiling src\/main\.zig … 0\.[1-9]s/); // …with the elapsed time
    expect(text).toContain('<clear>'); // the line is cleared when done
    expect(text.lastIndexOf('\x1b[?25h')).toBeGreaterThan(text.lastIndexOf('Compiling')); // cursor back after the last frame
    expect(text.split('Compiling').length).toBeGreaterThan(2); // redrawn, not printed once
    expect(text).not.toContain('\n'); // a status line, not a log
  });

  it('TERM=dumb and CI count as no terminal; noProgress says nothing', () => {
    expect(isInteractive({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(isInteractive({ isTTY: true }, { CI: 'true' })).toBe(false);
    expect(isInteractive({ isTTY: true }, {})).toBe(true);
    expect(isInteractive({}, {})).toBe(false);
    noProgress.begin('x').done();
    expect(formatElapsed(400)).toBe('0.4s');
    expect(formatElapsed(125_000)).toBe('2m05s');
  });
});
