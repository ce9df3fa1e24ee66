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
