import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkKernelElf, describeElfHeader } from './elf.js';

const header = (cls: number, data: number, machine: number): Uint8Array => {
  const h = new Uint8Array(64);
  h.set([0x7f, 0x45, 0x4c, 0x46, cls, data], 0);
  h[18] = machine & 0xff;
  h[19] = machine >> 8;
  return h;
};

describe('describeElfHeader', () => {
  it('accepts x86-64 ELF64 and names what anything else is', () => {
    expect(describeElfHeader(header(2, 1, 0x3e), 64)).toBeNull();
    expect(describeElfHeader(header(1, 1, 0x03), 64)).toMatch(/32-bit/);
    expect(describeElfHeader(header(2, 2, 0x3e), 64)).toMatch(/big-endian/);
    expect(describeElfHeader(header(2, 1, 0xb7), 64)).toMatch(/machine 0xb7/);
    expect(describeElfHeader(Buffer.from('MZ\x90\x00 not an elf file at all'), 30)).toMatch(/bad magic/);
    expect(describeElfHeader(new Uint8Array(3), 3)).toMatch(/too small/);
  });
});

describe('checkKernelElf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uk-elf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts a real ELF64 and maps file problems to catalog codes', () => {
    expect(() => checkKernelElf(process.execPath)).not.toThrow();
    expect(() => checkKernelElf(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'UK102', exitCode: 2 }));
    expect(() => checkKernelElf(dir)).toThrow(expect.objectContaining({ code: 'UK103' }));
    const text = join(dir, 'text');
    writeFileSync(text, 'hello, this is not a kernel\n');
    expect(() => checkKernelElf(text)).toThrow(expect.objectContaining({ code: 'UK104' }));
  });

  it.skipIf(process.getuid?.() === 0)('reports unreadable files', () => {
    const locked = join(dir, 'locked');
    writeFileSync(locked, header(2, 1, 0x3e));
    chmodSync(locked, 0);
    expect(() => checkKernelElf(locked)).toThrow(expect.objectContaining({ code: 'UK103' }));
  });
});
