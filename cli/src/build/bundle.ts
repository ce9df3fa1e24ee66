// The workload bundle (build/bundle.tgz): a deterministic gzip'd tar, and the one source of
// the image's root filesystem (`ukernel pack` reads it back).
//
// Determinism: the files are staged with explicit modes (chmod, so the umask does not matter);
// node-tar gets an explicit, sorted entry list (noDirRecurse: it would otherwise follow readdir
// order), `portable` (no uid/gid/uname/atime/ctime/dev/ino) and a fixed mtime; the tar is then
// gzip'd in one call at a fixed level, so the stream's chunking cannot change the output.
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PackSync, Parser, type ReadEntry } from 'tar';
import { BUNDLE_BYTES_MAX, BUNDLE_ENTRY_PATH, BUNDLE_ENV_PATH, BUNDLE_GZIP_LEVEL } from '../constants.js';
import { fileError, UkernelError } from '../errors.js';
import { removeQuietly } from '../fsutil.js';

export interface BundleFile {
  /** Relative path, no trailing slash (`bin`, `bin/main`). */
  path: string;
  kind: 'file' | 'directory';
  mode: number;
  data: Buffer;
}

export const MODE_DIRECTORY = 0o755;
export const MODE_EXECUTABLE = 0o755;
export const MODE_FILE = 0o644;

/** Stage the workload and its env file under `stagingDir` (removed afterwards) and tar them. */
export function createBundle(opts: { workloadPath: string; env: Buffer; mtime: Date; stagingDir: string }): Buffer {
  removeQuietly(opts.stagingDir);
  try {
    const layout: Array<[string, 'directory' | 'file', number, () => void]> = [
      [dirOf(BUNDLE_ENTRY_PATH), 'directory', MODE_DIRECTORY, () => mkdirSync(join(opts.stagingDir, dirOf(BUNDLE_ENTRY_PATH)))],
      [
        BUNDLE_ENTRY_PATH,
        'file',
        MODE_EXECUTABLE,
        () => copyFileSync(opts.workloadPath, join(opts.stagingDir, BUNDLE_ENTRY_PATH)),
      ],
      [dirOf(BUNDLE_ENV_PATH), 'directory', MODE_DIRECTORY, () => mkdirSync(join(opts.stagingDir, dirOf(BUNDLE_ENV_PATH)))],
      [BUNDLE_ENV_PATH, 'file', MODE_FILE, () => writeFileSync(join(opts.stagingDir, BUNDLE_ENV_PATH), opts.env)],
    ];
    mkdirSync(opts.stagingDir, { recursive: true });
    for (const [path, , mode, create] of layout) {
      create();
      chmodSync(join(opts.stagingDir, path), mode);
    }
    const paths = layout.map(([path]) => path).sort(comparePaths);
    return gzipSync(tarSync(opts.stagingDir, paths, opts.mtime), { level: BUNDLE_GZIP_LEVEL });
  } catch (err) {
    throw fileError(err, { op: 'write', display: `the bundle's staging directory ${opts.stagingDir}` });
  } finally {
    removeQuietly(opts.stagingDir);
  }
}

/** One entry of a bundle to create: a directory, or a file copied from `from` or holding `data`. */
export type BundleInput =
  | { path: string; kind: 'directory' }
  | { path: string; kind: 'file'; mode: number; from: string }
  | { path: string; kind: 'file'; mode: number; data: Buffer };

/**
 * A bundle of `entries` (files; the directories they sit in are added), staged under
 * `stagingDir` (removed afterwards) with the same determinism as createBundle. Paths are
 * rootfs paths (relative, "/"-separated).
 */
export function createBundleFrom(opts: {
  entries: readonly BundleInput[];
  mtime: Date;
  stagingDir: string;
  gzipLevel: number;
}): Buffer {
  removeQuietly(opts.stagingDir);
  const dirs = new Set<string>();
  for (const entry of opts.entries) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
    if (entry.kind === 'directory') dirs.add(entry.path);
  }
  try {
    mkdirSync(opts.stagingDir, { recursive: true });
    const sortedDirs = [...dirs].sort(comparePaths);
    for (const dir of sortedDirs) {
      mkdirSync(join(opts.stagingDir, dir), { recursive: true });
      chmodSync(join(opts.stagingDir, dir), MODE_DIRECTORY);
    }
    for (const entry of opts.entries) {
      if (entry.kind === 'directory') continue;
      const target = join(opts.stagingDir, entry.path);
      if ('from' in entry) copyFileSync(entry.from, target);
      else writeFileSync(target, entry.data);
      chmodSync(target, entry.mode);
    }
    const files = opts.entries.filter((e) => e.kind === 'file').map((e) => e.path);
    const paths = [...sortedDirs, ...files].sort(comparePaths);
    return gzipSync(tarSync(opts.stagingDir, paths, opts.mtime), { level: opts.gzipLevel });
  } catch (err) {
    throw fileError(err, { op: 'write', display: `the bundle's staging directory ${opts.stagingDir}` });
  } finally {
    removeQuietly(opts.stagingDir);
  }
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/'));
}

/** Bytewise order of UTF-8 paths (what the rootfs index uses too). */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function tarSync(cwd: string, paths: readonly string[], mtime: Date): Buffer {
  const chunks: Buffer[] = [];
  const pack = new PackSync({ cwd, portable: true, mtime, noDirRecurse: true, follow: false, strict: true });
  pack.on('data', (chunk: Buffer) => chunks.push(chunk));
  for (const path of paths) pack.add(path);
  pack.end();
  return Buffer.concat(chunks);
}

/** The entries of a bundle, in archive order; throws BundleInvalid naming what is wrong. */
export function readBundle(gz: Uint8Array, display: string): BundleFile[] {
  let tarBytes: Buffer;
  try {
    tarBytes = gunzipSync(gz, { maxOutputLength: BUNDLE_BYTES_MAX });
  } catch (err) {
    throw new UkernelError('BundleInvalid', `${display} is not a gzip'd tar (${(err as Error).message})`);
  }
  const files: BundleFile[] = [];
  const problems: string[] = [];
  const parser = new Parser({
    strict: true,
    onwarn: (_code, message) => problems.push(String(message)),
    onReadEntry: (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => {
        const path = entry.path.replace(/^\.\//, '').replace(/\/+$/, '');
        if (entry.type === 'Directory') files.push({ path, kind: 'directory', mode: MODE_DIRECTORY, data: Buffer.alloc(0) });
        else if (entry.type === 'File' || entry.type === 'OldFile') {
          const mode = (entry.mode ?? 0) & 0o111 ? MODE_EXECUTABLE : MODE_FILE;
          files.push({ path, kind: 'file', mode, data: Buffer.concat(chunks) });
        } else problems.push(`${path} is a ${entry.type}; a bundle holds only files and directories`);
      });
    },
  });
  parser.on('error', (err: Error) => problems.push(err.message));
  parser.end(tarBytes);
  if (problems.length > 0) throw new UkernelError('BundleInvalid', `${display}: ${problems[0]}`, { details: problems.slice(1) });
  if (files.length === 0) throw new UkernelError('BundleInvalid', `${display} is empty`);
  return files;
}
