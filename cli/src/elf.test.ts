import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkKernelElf, describeElfHeader, hasPhys32EntryNote } from './elf.js';

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

/** One note record: namesz, descsz, type, name (padded to 4), desc (padded to 4). */
function note(owner: string, type: number, desc: Uint8Array): Buffer {
  const name = Buffer.from(`${owner}\0`, 'latin1');
  const pad = (n: number): number => Math.ceil(n / 4) * 4;
  const out = Buffer.alloc(12 + pad(name.length) + pad(desc.length));
  out.writeUInt32LE(name.length, 0);
  out.writeUInt32LE(desc.length, 4);
  out.writeUInt32LE(type, 8);
  name.copy(out, 12);
  out.set(desc, 12 + pad(name.length));
  return out;
}

/** A minimal x86-64 ELF64: header, one PT_NOTE program header, the notes. */
function elfWithNotes(notes: Buffer): Buffer {
  const out = Buffer.alloc(64 + 56 + notes.length);
  out.set(header(2, 1, 0x3e), 0);
  out.writeUInt16LE(2, 16); // ET_EXEC
  out.writeBigUInt64LE(64n, 32); // e_phoff
  out.writeUInt16LE(56, 54); // e_phentsize
  out.writeUInt16LE(1, 56); // e_phnum
  out.writeUInt32LE(4, 64); // PT_NOTE
  out.writeBigUInt64LE(120n, 64 + 8); // p_offset
  out.writeBigUInt64LE(BigInt(notes.length), 64 + 32); // p_filesz
  notes.copy(out, 120);
  return out;
}

const PVH = note('Xen', 18, Uint8Array.from([0x00, 0x00, 0x10, 0x00]));

describe('hasPhys32EntryNote', () => {
  it('finds the Xen PVH entry note among others, and only that one', () => {
    expect(hasPhys32EntryNote(PVH)).toBe(true);
    expect(hasPhys32EntryNote(Buffer.concat([note('GNU', 3, new Uint8Array(20)), PVH]))).toBe(true);
    expect(hasPhys32EntryNote(note('Xen', 17, new Uint8Array(4)))).toBe(false); // another Xen note
    expect(hasPhys32EntryNote(note('Xem', 18, new Uint8Array(4)))).toBe(false);
    expect(hasPhys32EntryNote(note('GNU', 3, new Uint8Array(20)))).toBe(false);
    expect(hasPhys32EntryNote(PVH.subarray(0, 18))).toBe(false); // cut short
  });

  it('ends on absurd sizes (u32 name/desc sizes near 2^32) without looping', () => {
    const bad = Buffer.alloc(24);
    bad.writeUInt32LE(0xfffffffd, 0);
    bad.writeUInt32LE(0xfffffffd, 4);
    expect(hasPhys32EntryNote(Buffer.concat([bad, PVH]))).toBe(false);
  });
});

describe('checkKernelElf', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uk-elf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts an x86-64 ELF64 with the PVH note and maps file problems to catalog codes', () => {
    const pvh = join(dir, 'pvh.elf');
    writeFileSync(pvh, elfWithNotes(Buffer.concat([note('GNU', 3, new Uint8Array(8)), PVH])));
    expect(() => checkKernelElf(pvh)).not.toThrow();
    expect(() => checkKernelElf(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'UK102', exitCode: 2 }));
    expect(() => checkKernelElf(dir)).toThrow(
      expect.objectContaining({ code: 'UK150', message: expect.stringContaining('it is a directory (EISDIR)') }),
    );
    const text = join(dir, 'text');
    writeFileSync(text, 'hello, this is not a kernel\n');
    expect(() => checkKernelElf(text)).toThrow(expect.objectContaining({ code: 'UK104' }));
  });

  it('refuses an ELF64 without the PVH entry note (a Linux vmlinux, any program) before a VMM starts', () => {
    const plain = join(dir, 'plain.elf');
    writeFileSync(plain, elfWithNotes(note('GNU', 3, new Uint8Array(8))));
    expect(() => checkKernelElf(plain)).toThrow(
      expect.objectContaining({ code: 'UK158', message: expect.stringContaining('no PVH entry point') }),
    );
    // A real x86-64 program: node itself.
    expect(() => checkKernelElf(process.execPath)).toThrow(expect.objectContaining({ code: 'UK158', exitCode: 2 }));
    const noTable = join(dir, 'no-phdrs.elf');
    writeFileSync(noTable, header(2, 1, 0x3e));
    expect(() => checkKernelElf(noTable)).toThrow(
      expect.objectContaining({ code: 'UK158', message: expect.stringContaining('no usable program header table') }),
    );
  });

  it.skipIf(!existsSync(join(__dirname, '../../kernel/zig-out/bin/ukernel.elf')))('accepts the kernel the build makes', () => {
    expect(() => checkKernelElf(join(__dirname, '../../kernel/zig-out/bin/ukernel.elf'))).not.toThrow();
  });

  it.skipIf(process.getuid?.() === 0)('reports unreadable files', () => {
    const locked = join(dir, 'locked');
    writeFileSync(locked, header(2, 1, 0x3e));
    chmodSync(locked, 0);
    expect(() => checkKernelElf(locked)).toThrow(expect.objectContaining({ code: 'UK152' }));
  });
});
