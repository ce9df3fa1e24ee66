import { describe, expect, it } from 'vitest';
import { ErrorCatalog, UkernelError } from './errors.js';

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
