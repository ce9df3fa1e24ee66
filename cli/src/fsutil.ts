// File helpers shared by every command: atomic writes (temp file + rename, so readers never
// see half a file and a failed command leaves nothing half-written), bounded reads of project
// files, directory creation that reports the real cause, temp-file hygiene, display paths.
// Every failure becomes a catalog error through fileError (errors.ts): errno → code in one place.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { STALE_TEMP_AGE_MS } from './constants.js';
import { sanitizeLine } from './console/sanitize.js';
import { errnoError, fileError, UkernelError, type ErrorName } from './errors.js';
import { readAt, writeAll } from './io.js';

export interface AtomicWriteOptions {
  /** Permission bits, applied with fchmod semantics (not subject to the umask). */
  mode?: number;
  /** How to name the file in messages. */
  display?: string;
  /** Create missing parent directories (default true). When false, a missing one is UK156. */
  createParent?: boolean;
  /** Appended to the hint of an error (e.g. which option chose the path). */
  hint?: string;
}

/** A temp path next to `path` (same directory, so the rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/**
 * Write via a temp file in the same directory + rename; throws a catalog error naming the cause
 * (fileError) on failure and leaves no temp file. No fsync: the rename makes the write atomic
 * for readers; durability across a power cut is not worth the wait for build outputs that can
 * be remade. Temp files of this path left by processes that died (SIGKILL) are removed first.
 */
export function writeFileAtomic(path: string, contents: string | Uint8Array, options: AtomicWriteOptions | string = {}): void {
  const {
    mode = 0o644,
    display = path,
    createParent = true,
    hint,
  } = typeof options === 'string' ? { display: options } : options;
  const temp = tempPathFor(path);
  if (createParent) makeDirectory(dirname(path), dirname(display), hint);
  else requireDirectory(dirname(path), display, hint);
  removeStaleTemps(dirname(path), basename(path));
  try {
    const fd = openSync(temp, 'w', mode);
    try {
      writeAll(fd, typeof contents === 'string' ? Buffer.from(contents) : contents);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    removeQuietly(temp);
    throw fileError(err, { op: 'write', display, ...(hint !== undefined ? { hint } : {}) });
  }
}

/**
 * mkdir -p that reports the real cause: Node's recursive mkdir says ENOENT when the parent is on
 * a read-only file system; creating one level at a time gives EROFS (or EACCES, ENOTDIR, ENOSPC).
 */
export function makeDirectory(dir: string, display: string = dir, hint?: string): void {
  const missing: string[] = [];
  // Bounded by the path's depth: dirname() reaches "/" (or ".") in at most that many steps.
  for (let at = dir, depth = 0; depth <= dir.length; at = dirname(at), depth++) {
    try {
      if (statSync(at).isDirectory()) break;
      throw errnoError('ENOTDIR');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) {
        throw fileError(err, { op: 'create', display: `${display}/`, ...(hint !== undefined ? { hint } : {}) });
      }
      missing.push(at);
    }
  }
  for (const at of missing.reverse()) {
    try {
      mkdirSync(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // another process made it meanwhile
      throw fileError(err, { op: 'create', display: `${display}/`, ...(hint !== undefined ? { hint } : {}) });
    }
  }
}

/** Throws UK156 (or the cause) unless `dir` is an existing directory; `display` names the file to go there. */
export function requireDirectory(dir: string, display: string, hint?: string): void {
  let isDirectory = false;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw fileError(err, { op: 'write', display, ...(hint !== undefined ? { hint } : {}) });
    const where = dirname(display);
    throw new UkernelError('DirectoryNotFound', `cannot write ${display}: the directory ${where} does not exist`, {
      hint: `Create it first (mkdir -p ${where}), or choose a path in an existing directory.${hint !== undefined ? ` ${hint}` : ''}`,
    });
  }
  if (!isDirectory) {
    throw fileError(errnoError('ENOTDIR'), { op: 'write', display, ...(hint !== undefined ? { hint } : {}) });
  }
}

export interface ReadFileOptions {
  /** How to name the file in messages. */
  display: string;
  /** Larger files are refused (their size is checked before anything is read). */
  maxBytes: number;
  /** Error for a file that is too large or not a regular file (default FileUnreadable). */
  invalid?: ErrorName;
  /** Hint for a file that is too large. */
  tooLargeHint?: string;
}

/**
 * A small project file (ukernel.toml, env/ukernel.env, env/ukernel.lock), or null when it does
 * not exist. Refuses directories, FIFOs and devices (opened non-blocking, so a FIFO cannot hang
 * the CLI) and files over `maxBytes`; every other failure is a catalog error naming the cause.
 */
export function readProjectFile(path: string, options: ReadFileOptions): Buffer | null {
  const { display, maxBytes } = options;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileError(err, { op: 'read', display });
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw fileError(errnoError('EISDIR'), { op: 'read', display });
    if (!stat.isFile()) {
      throw new UkernelError(
        options.invalid ?? 'FileUnreadable',
        `cannot read ${display}: it is not a regular file (a FIFO, socket or device)`,
        {
          hint: `Replace ${display} with a regular file.`,
        },
      );
    }
    if (stat.size > maxBytes) {
      throw new UkernelError(options.invalid ?? 'FileUnreadable', `${display} is larger than ${maxBytes} bytes (${stat.size})`, {
        ...(options.tooLargeHint !== undefined ? { hint: options.tooLargeHint } : {}),
      });
    }
    // A file that grows while we read is read up to the size it had: one bounded pass.
    return readAt(fd, 0, stat.size);
  } catch (err) {
    throw fileError(err, { op: 'read', display });
  } finally {
    closeSync(fd);
  }
}

/** True if `pid` names no process (kill(0) says ESRCH); a live or unknown one counts as alive. */
function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Remove the temp files `.NAME.PID.tmp` in `dir` (NAME = `name`, or any name when omitted) left
 * by ukernel processes that died before they could clean up (SIGKILL, a power cut): those whose
 * PID is gone, or that are older than STALE_TEMP_AGE_MS (a reused PID). A live build's are kept.
 */
export function removeStaleTemps(dir: string, name?: string, nowMs: number = Date.now()): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return; // Nothing to clean, or the real problem is reported by the caller's own access.
  }
  const prefix = name === undefined ? null : `.${name}.`;
  for (const entry of entries) {
    const match = /^\..+\.(\d+)\.tmp$/.exec(entry);
    if (match === null || (prefix !== null && !entry.startsWith(prefix))) continue;
    const pid = Number(match[1]);
    if (pid === process.pid) continue;
    let old = false;
    try {
      old = nowMs - statSync(join(dir, entry)).mtimeMs > STALE_TEMP_AGE_MS;
    } catch {
      continue; // Gone meanwhile.
    }
    if (old || processGone(pid)) removeQuietly(join(dir, entry));
  }
}

/**
 * Remove the entries of `dir` (Zig's cache tmp/) last changed within [fromMs, toMs] (epoch ms):
 * `(dir, 0, now - STALE_TEMP_AGE_MS)` clears what killed builds left long ago, `(dir, start,
 * Infinity)` what an interrupted build made since it started.
 */
export function removeEntriesChanged(dir: string, fromMs: number, toMs: number): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    try {
      const mtimeMs = statSync(join(dir, entry)).mtimeMs;
      if (mtimeMs >= fromMs && mtimeMs <= toMs) removeQuietly(join(dir, entry));
    } catch {
      // Gone meanwhile.
    }
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

/** Echo user input in messages without letting it carry terminal escapes (sanitizeLine). */
export function printable(value: string, max = 40): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return sanitizeLine(Buffer.from(cut, 'utf8'));
}

export function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}
