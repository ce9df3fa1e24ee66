// File helpers shared by every command: atomic writes (temp file + rename, so readers never
// see half a file and a failed command leaves nothing half-written), hashing, display paths.
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { UkernelError } from './errors.js';

export interface AtomicWriteOptions {
  /** Permission bits, applied with fchmod semantics (not subject to the umask). */
  mode?: number;
  /** How to name the file in messages. */
  display?: string;
}

/** A temp path next to `path` (same directory, so the rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/**
 * Write via a temp file in the same directory + rename; throws UK109 on failure. No fsync: the
 * rename makes the write atomic for readers; durability across a power cut is not worth the
 * wait for build outputs that can be remade.
 */
export function writeFileAtomic(path: string, contents: string | Uint8Array, options: AtomicWriteOptions | string = {}): void {
  const { mode = 0o644, display = path } = typeof options === 'string' ? { display: options } : options;
  const temp = tempPathFor(path);
  try {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(temp, 'w', mode);
    try {
      const bytes = typeof contents === 'string' ? Buffer.from(contents) : contents;
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    removeQuietly(temp);
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UkernelError('OutputUnwritable', `cannot write ${display}: ${code}`, { cause: err });
  }
}

export function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true, recursive: true });
  } catch {
    // Best effort: the path may not even be creatable.
  }
}

/** `path` relative to `cwd` when it is below it, else absolute. */
export function displayPath(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel === '' ? '.' : rel.startsWith('..') ? path : rel;
}

/** Echo user input in messages without letting it carry terminal escapes. */
export function printable(value: string, max = 40): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return cut.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}
