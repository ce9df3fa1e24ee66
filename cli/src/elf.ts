// Cheap sanity check of the kernel image before handing it to a VMM, so that a wrong
// path or a wrong file gives a clear error instead of a VMM error.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { UkernelError } from './errors.js';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EM_X86_64 = 0x3e;
const HEADER_PREFIX_BYTES = 20; // through e_machine

/** Throws a catalog error unless `path` is a readable little-endian x86-64 ELF64 file. */
export function checkKernelElf(path: string, flag = '--kernel'): void {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) {
      throw new UkernelError('KernelUnreadable', `${flag} ${path} is not a regular file`);
    }
    size = stat.size;
  } catch (err) {
    if (err instanceof UkernelError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UkernelError('KernelNotFound', `kernel file not found: ${path} (${flag})`);
    }
    throw new UkernelError('KernelUnreadable', `cannot read kernel ${path} (${flag}): ${code ?? String(err)}`);
  }

  const header = Buffer.alloc(HEADER_PREFIX_BYTES);
  let got = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      got = readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UkernelError('KernelUnreadable', `cannot read kernel ${path} (${flag}): ${code}`);
  }

  const what = describeElfHeader(header.subarray(0, got), size);
  if (what !== null) throw new UkernelError('KernelNotElf64', `${path} (${flag}) ${what}`);
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
