import { describe, expect, it } from 'vitest';
import { ERROR_DETAIL_CHARS_MAX, ERROR_DETAILS_MAX, ERROR_MESSAGE_CHARS_MAX } from './constants.js';
import { ErrorCatalog, fileError, isSystemError, isUkernelError, UkernelError } from './errors.js';

describe('error catalog', () => {
  const entries = Object.entries(ErrorCatalog);

  it('has unique, well-formed codes with a title, a hint and a known exit code', () => {
    const codes = entries.map(([, e]) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const [, e] of entries) {
      expect(e.code).toMatch(/^UK[1-9][0-9]{2}$/);
      expect(e.title.length).toBeGreaterThan(0);
      expect(e.hint.length).toBeGreaterThan(0);
      expect([2, 124, 125]).toContain(e.exitCode);
    }
  });

  it('input errors exit 2, VMM/internal failures exit 125 or 124 (timeouts)', () => {
    for (const [, e] of entries) {
      if (e.code.startsWith('UK1')) expect(e.exitCode).toBe(2);
      else expect([124, 125]).toContain(e.exitCode);
    }
  });

  it('UkernelError carries code, hint override and JSON form', () => {
    const err = new UkernelError('KernelNotFound', 'kernel file not found: /x', { hint: 'do y' });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('UK102');
    expect(err.exitCode).toBe(2);
    expect(err.toJSON()).toEqual({ error: { code: 'UK102', message: 'kernel file not found: /x', hint: 'do y' } });
    expect(new UkernelError('VmmFailed', 'm', { details: ['qemu: boom'] }).toJSON().error.details).toEqual(['qemu: boom']);
  });
});

describe('fileError: errno → catalog, in one place', () => {
  const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: boom`), { code, syscall: 'open' });

  it.each([
    ['EISDIR', 'UK150', /it is a directory/, /build\/bundle\.tgz is a directory: remove or rename it/],
    ['ENOTDIR', 'UK151', /a part of the path is a file/, /remove or rename that file/],
    ['EACCES', 'UK152', /permission denied/, /ls -ld/],
    ['EPERM', 'UK152', /operation not permitted/, /permissions/],
    ['EROFS', 'UK153', /read-only file system/, /build is on a read-only file system/],
    ['ENOSPC', 'UK154', /no space left/, /df -h build/],
    ['EDQUOT', 'UK154', /quota/, /free some space/],
    ['EMFILE', 'UK155', /too many open files/, /ulimit -n/],
    ['ENFILE', 'UK155', /too many open files/, /ulimit -n/],
    ['ENOENT', 'UK156', /its directory does not exist/, /mkdir -p build/],
    ['EIO', 'UK109', /input\/output error/, /writable directory/],
  ])('%s while writing → %s with the cause and a fitting hint', (code, ukCode, cause, hint) => {
    const err = fileError(errno(code), { op: 'write', display: 'build/bundle.tgz' });
    expect(err.code).toBe(ukCode);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(new RegExp(`^cannot write build/bundle\\.tgz: .*\\(${code}\\)$`));
    expect(err.message).toMatch(cause);
    expect(err.hint).toMatch(hint);
  });

  it('reads: ENOENT is the fallback (the caller decides), other causes keep their code; extra hints are appended', () => {
    expect(fileError(errno('ENOENT'), { op: 'read', display: 'k.elf', fallback: 'KernelUnreadable' }).code).toBe('UK103');
    expect(fileError(errno('EISDIR'), { op: 'read', display: 'k.elf', fallback: 'KernelUnreadable' }).code).toBe('UK150');
    expect(fileError(errno('ELOOP'), { op: 'read', display: 'x' })).toMatchObject({
      code: 'UK157',
      message: 'cannot read x: too many levels of symbolic links (ELOOP)',
    });
    expect(fileError(errno('EROFS'), { op: 'write', display: 'out/t.json', hint: 'Give --export another FILE.' }).hint).toMatch(
      /read-write\. Give --export another FILE\.$/,
    );
    const passthrough = new UkernelError('BundleInvalid', 'x');
    expect(fileError(passthrough, { op: 'read', display: 'y' })).toBe(passthrough);
    expect(isSystemError(errno('EISDIR'))).toBe(true);
    expect(isSystemError(new Error('plain'))).toBe(false);
  });
});

describe('UkernelError.shown: text from project files and programs is made safe for the terminal', () => {
  it('escapes control characters and bidi overrides in the message, hint and details, and cuts long text', () => {
    const err = new UkernelError('ConfigSyntax', `ukernel.toml:1:1: bad \x1b[2J${'A'.repeat(5000)}`, {
      hint: 'fix \u202e this',
      details: ['\x1b]0;title\x07', 'B'.repeat(5000), ...Array.from({ length: 100 }, (_, i) => `line ${i}`)],
    });
    const shown = err.shown();
    expect(shown.message).toMatch(/^ukernel\.toml:1:1: bad \\x1b\[2JAAAA/);
    expect(shown.message.length).toBeLessThanOrEqual(ERROR_MESSAGE_CHARS_MAX + 40);
    expect(shown.message).toMatch(/… \(cut: \d+ characters in all\)$/);
    expect(shown.hint).toBe('fix \\u202e this');
    expect(shown.details[0]).toBe('\\x1b]0;title\\x07');
    expect(shown.details[1]!.length).toBeLessThanOrEqual(ERROR_DETAIL_CHARS_MAX + 40);
    expect(shown.details).toHaveLength(ERROR_DETAILS_MAX + 1);
    expect(shown.details.at(-1)).toBe(`… ${102 - ERROR_DETAILS_MAX} more line(s)`);
    const json = JSON.stringify(err.toJSON());
    expect(json).not.toMatch(/\\u001b|\u202e/);
    for (const text of [shown.message, shown.hint, ...shown.details])
      expect(text).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
  });
});

describe('matching errors by catalog symbol', () => {
  it('is() and isUkernelError() compare the catalog code, not the message', () => {
    const err = new UkernelError('ProjectNotFound', 'no ukernel.toml');
    expect(err.is('ProjectNotFound')).toBe(true);
    expect(err.is('KernelNotFound')).toBe(false);
    expect(isUkernelError(err, 'ProjectNotFound')).toBe(true);
    expect(isUkernelError(err, 'ConfigInvalid')).toBe(false);
    expect(isUkernelError(err)).toBe(true);
    expect(isUkernelError(new Error('UK110'), 'ProjectNotFound')).toBe(false);
  });
});
