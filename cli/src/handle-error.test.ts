// The one top-level error handler: what reaches the terminal (or stdout with --json) is the
// catalog error, sanitized and cut; a file error no command caught is its cause, not UK900.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handleError } from './cli.js';
import { Interrupted, UkernelError } from './errors.js';

let stderr: string;
let stdout: string;
beforeEach(() => {
  stderr = '';
  stdout = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/;

describe('handleError', () => {
  it('an uncaught EISDIR from a file operation is UK150 naming the path, not an internal error', () => {
    const err = Object.assign(new Error('EISDIR: illegal operation on a directory, read'), {
      code: 'EISDIR',
      syscall: 'read',
      path: 'logs/console.log',
    });
    expect(handleError(err, false)).toBe(2);
    expect(stderr).toMatch(
      /^error UK150: cannot read logs\/console\.log: it is a directory \(EISDIR\)\nhint: logs\/console\.log is a directory/,
    );
    expect(stderr).not.toMatch(/UK900|\n\s+at /);
  });

  it('an uncaught ENOSPC while writing is UK154; with --json it is one JSON object on stdout', () => {
    const err = Object.assign(new Error('ENOSPC: no space left on device, write'), {
      code: 'ENOSPC',
      syscall: 'write',
      path: 'dist/x.img',
    });
    expect(handleError(err, true)).toBe(2);
    expect(JSON.parse(stdout)).toEqual({
      error: {
        code: 'UK154',
        message: 'cannot write dist/x.img: no space left on the device (ENOSPC)',
        hint: expect.stringContaining('df -h dist'),
      },
    });
  });

  it('messages, details and hints from files are sanitized and cut before they are printed', () => {
    const err = new UkernelError('ConfigSyntax', `ukernel.toml:1:1: \x1b]0;pwned\x07${'x'.repeat(100_000)}`, {
      details: ['\x1b[2J', '\u202e'],
    });
    handleError(err, false);
    expect(stderr).not.toMatch(UNSAFE);
    expect(stderr.length).toBeLessThan(3000);
    expect(stderr).toContain('\\x1b]0;pwned\\x07');
  });

  it('an internal error prints its stack sanitized; an interrupted build says what stopped', () => {
    expect(handleError(new Error('bad \x1b[31m state'), false)).toBe(125);
    expect(stderr).toMatch(/^Error: bad \\x1b\[31m state\n/);
    expect(stderr).toMatch(/internal error, please report \(UK900\)/);
    stderr = '';
    expect(handleError(new Interrupted('SIGINT', 130, 'build stopped'), false)).toBe(130);
    expect(stderr).toBe('ukernel: interrupted by SIGINT; build stopped\n');
  });
});
