// Cheap sanity check of the kernel image before handing it to a VMM, so that a wrong
// path or a wrong file gives a clear error instead of a VMM error.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { KERNEL_NOTES_BYTES_MAX, KERNEL_PHDRS_MAX } from './constants.js';
import { errnoError, fileError, UkernelError } from './errors.js';
import { readAt } from './io.js';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EM_X86_64 = 0x3e;
const HEADER_PREFIX_BYTES = 20; // through e_machine
const PT_NOTE = 4;
/** The PVH entry note: owner "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (xen/include/public/elfnote.h). */
const XEN_NOTE_OWNER = 'Xen';
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/**
 * Throws a catalog error unless `path` is a readable little-endian x86-64 ELF64 file with a PVH
 * entry point (a PT_NOTE holding the Xen note XEN_ELFNOTE_PHYS32_ENTRY): QEMU microvm boots an
 * ELF -kernel only through that note ("Error loading uncompressed kernel without PVH ELF Note").
 * Missing: UK102; a directory: UK150; not readable: UK103 or its errno's code; not x86-64 ELF64:
 * UK104; no PVH note: UK158. `flag` names where the path came from (`--kernel`, UKERNEL_KERNEL).
 */
export function checkKernelElf(path: string, flag = '--kernel'): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UkernelError('KernelNotFound', `kernel file not found: ${path} (${flag})`);
    }
    throw fileError(err, { op: 'read', display: `kernel ${path} (${flag})`, fallback: 'KernelUnreadable' });
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) {
      throw fileError(errnoError('EISDIR'), { op: 'read', display: `${path} (${flag})` });
    }
    if (!stat.isFile()) throw new UkernelError('KernelUnreadable', `${flag} ${path} is not a regular file`);
    const what =
      stat.size < ELF64_HEADER_BYTES
        ? `is too small for an ELF64 header (${stat.size} bytes)`
        : describeElfHeader(readAt(fd, 0, HEADER_PREFIX_BYTES), stat.size);
    if (what !== null) throw new UkernelError('KernelNotElf64', `${path} (${flag}) ${what}`);
    const pvh = findPvhNote(fd, stat.size);
    if (pvh !== null) throw new UkernelError('KernelNotPvh', `${path} (${flag}) ${pvh}`);
  } catch (err) {
    throw fileError(err, { op: 'read', display: `kernel ${path} (${flag})`, fallback: 'KernelUnreadable' });
  } finally {
    closeSync(fd);
  }
}

/** null when the ELF64 in `fd` has a PVH entry note, else what is wrong (for a message). */
function findPvhNote(fd: number, fileSize: number): string | null {
  const header = readAt(fd, 0, ELF64_HEADER_BYTES);
  const phoff = Number(header.readBigUInt64LE(32));
  const phentsize = header.readUInt16LE(54);
  const phnum = header.readUInt16LE(56);
  if (phentsize !== ELF64_PHDR_BYTES || phnum === 0 || phnum > KERNEL_PHDRS_MAX || phoff + phnum * phentsize > fileSize) {
    return `has no usable program header table (${phnum} entries of ${phentsize} bytes at ${phoff}), so no PVH entry note`;
  }
  const table = readAt(fd, phoff, phnum * phentsize);
  let notesBytes = 0;
  for (let index = 0; index < phnum; index++) {
    const at = index * phentsize;
    if (table.readUInt32LE(at) !== PT_NOTE) continue;
    const offset = Number(table.readBigUInt64LE(at + 8));
    const size = Number(table.readBigUInt64LE(at + 32));
    notesBytes += size;
    if (offset + size > fileSize || notesBytes > KERNEL_NOTES_BYTES_MAX)
      return 'has a PT_NOTE segment past the end of the file or too large';
    if (hasPhys32EntryNote(readAt(fd, offset, size))) return null;
  }
  return 'has no PVH entry point: no Xen ELF note XEN_ELFNOTE_PHYS32_ENTRY in its PT_NOTE segments (a Linux vmlinux or another kernel?)';
}

/** True if the notes in `notes` (Elf64_Nhdr records, 4-byte aligned) hold the PVH entry note. */
export function hasPhys32EntryNote(notes: Uint8Array): boolean {
  const view = Buffer.from(notes.buffer, notes.byteOffset, notes.byteLength);
  const align = (n: number): number => Math.ceil(n / 4) * 4; // not `& ~3`: sizes are u32
  let at = 0;
  // Each note is at least 12 bytes, so this loop ends within notes.length / 12 steps.
  for (let step = 0; at + 12 <= view.length && step <= view.length / 12; step++) {
    const nameBytes = view.readUInt32LE(at);
    const descBytes = view.readUInt32LE(at + 4);
    const type = view.readUInt32LE(at + 8);
    const nameAt = at + 12;
    const descAt = nameAt + align(nameBytes);
    if (descAt + descBytes > view.length) return false;
    const owner = view
      .subarray(nameAt, nameAt + nameBytes)
      .toString('latin1')
      .replace(/\0+$/, '');
    if (owner === XEN_NOTE_OWNER && type === XEN_ELFNOTE_PHYS32_ENTRY && (descBytes === 4 || descBytes === 8)) return true;
    at = descAt + align(descBytes);
  }
  return false;
}

/** null if the header is an x86-64 little-endian ELF64, else what it is instead. */
export function describeElfHeader(header: Uint8Array, fileSize: number): string | null {
  if (header.length < HEADER_PREFIX_BYTES) return `is too small to be an ELF file (${fileSize} bytes)`;
  if (!ELF_MAGIC.every((b, i) => header[i] === b)) return 'is not an ELF file (bad magic)';
  if (header[4] !== ELFCLASS64) return `is a ${header[4] === 1 ? '32-bit (ELFCLASS32)' : 'non-64-bit'} ELF file, not ELF64`;
  if (header[5] !== ELFDATA2LSB) return 'is a big-endian ELF file';
  const machine = header[18]! | (header[19]! << 8);
  if (machine !== EM_X86_64) return `is an ELF64 file for machine 0x${machine.toString(16)}, not x86-64`;
  return null;
}

const ET_DYN = 3;
const PT_LOAD = 1;
const PT_INTERP = 3;
const ELF64_HEADER_BYTES = 64;
const ELF64_PHDR_BYTES = 56;
/** More program headers than this is not a workload we built. */
const WORKLOAD_PHDRS_MAX = 64;

/**
 * null if `bytes` is a workload as `ukernel build` makes it: an x86-64 ELF64 static PIE
 * (ET_DYN, no PT_INTERP, at least one PT_LOAD, a non-zero entry point); else what is wrong.
 */
export function describeWorkloadElf(bytes: Uint8Array): string | null {
  const prefix = describeElfHeader(bytes.subarray(0, HEADER_PREFIX_BYTES), bytes.length);
  if (prefix !== null) return prefix;
  if (bytes.length < ELF64_HEADER_BYTES) return `is too small for an ELF64 header (${bytes.length} bytes)`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  if (type !== ET_DYN) return `is ELF type ${type}, not ET_DYN (a position-independent executable)`;
  if (view.getBigUint64(24, true) === 0n) return 'has no entry point (e_entry = 0): nothing defines _start';
  const phoff = view.getBigUint64(32, true);
  const phentsize = view.getUint16(54, true);
  const phnum = view.getUint16(56, true);
  if (phentsize !== ELF64_PHDR_BYTES || phnum === 0 || phnum > WORKLOAD_PHDRS_MAX) {
    return `has a malformed program header table (${phnum} entries of ${phentsize} bytes)`;
  }
  if (phoff + BigInt(phnum * phentsize) > BigInt(bytes.length)) return 'has a program header table past the end of the file';
  let loads = 0;
  for (let index = 0; index < phnum; index++) {
    const type = view.getUint32(Number(phoff) + index * phentsize, true);
    if (type === PT_INTERP) return 'asks for a dynamic linker (PT_INTERP): it must be linked statically';
    if (type === PT_LOAD) loads++;
  }
  if (loads === 0) return 'has no loadable segment (PT_LOAD)';
  return null;
}
