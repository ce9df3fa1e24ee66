// What a build depends on, as one sha256, so `ukernel run` can skip rebuilding when nothing
// changed. Hashes file contents, never mtimes (touching a file does not force a rebuild).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { SOURCE_DIR_DEPTH_MAX, SOURCE_FILES_MAX } from '../constants.js';
import { UkernelError } from '../errors.js';
import { comparePaths } from './bundle.js';

/** Directories under the project that are output or tooling, never workload source. */
const SKIPPED_DIRS = new Set(['build', 'dist', 'logs', 'node_modules', 'zig-out', '.zig-cache', 'zig-cache']);

export interface FileDigest {
  path: string;
  sha256: string;
}

/**
 * Regular files under `dir` accepted by `include`, sorted bytewise by path relative to `base`;
 * skips hidden and output directories; refuses (rather than ignores) more than
 * SOURCE_FILES_MAX files or SOURCE_DIR_DEPTH_MAX levels.
 */
export function digestTree(base: string, dir: string, include: (name: string) => boolean): FileDigest[] {
  const found: FileDigest[] = [];
  const pending: Array<[string, number]> = [[dir, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      continue; // A missing directory contributes nothing.
    }
    for (const entry of entries) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) {
        if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
        if (depth + 1 > SOURCE_DIR_DEPTH_MAX) {
          throw new UkernelError('BuildFailed', `${relative(base, path)} is nested more than ${SOURCE_DIR_DEPTH_MAX} levels deep`, {
            hint: 'Keep workload sources in a shallower tree.',
          });
        }
        pending.push([path, depth + 1]);
      } else if (entry.isFile() && include(entry.name)) {
        if (found.length >= SOURCE_FILES_MAX) {
          throw new UkernelError('BuildFailed', `more than ${SOURCE_FILES_MAX} source files under ${relative(base, dir) || '.'}`, {
            hint: 'Move unrelated files out of the project.',
          });
        }
        found.push({ path: relative(base, path), sha256: createHash('sha256').update(readFileSync(path)).digest('hex') });
      }
    }
  }
  return found.sort((a, b) => comparePaths(a.path, b.path));
}

export interface BuildInputSpec {
  projectRoot: string;
  /** Entry, relative to the project root. */
  entry: string;
  name: string;
  adapter: string;
  envBase: string;
  /** The SDK directory (every file in it is hashed). */
  sdkDir: string;
  zigVersion: string;
  optimize: string;
  /** The tar mtime, which is part of the bundle's bytes. */
  mtime: Date;
  /** Changes when the build recipe (flags, bundle layout) changes. */
  recipe: string;
  /** Contents of env/ukernel.env (empty if absent). */
  env: Buffer;
}

/** sha256 over everything that can change build/bin/main or build/bundle.tgz. */
export function buildInputsHash(spec: BuildInputSpec): string {
  const hash = createHash('sha256');
  const line = (text: string): void => void hash.update(`${text}\n`);
  line('ukernel build inputs v1');
  for (const [key, value] of Object.entries({
    entry: spec.entry,
    name: spec.name,
    adapter: spec.adapter,
    env_base: spec.envBase,
    zig: spec.zigVersion,
    optimize: spec.optimize,
    mtime: spec.mtime.toISOString(),
    recipe: spec.recipe,
  })) {
    line(`${key}=${value}`);
  }
  line(`env=${createHash('sha256').update(spec.env).digest('hex')}`);
  // Everything Zig can @import or @embedFile from the project: .zig/.zon anywhere, and any file
  // next to the entry.
  const entryDir = join(spec.projectRoot, dirname(spec.entry));
  const sources = new Map<string, string>();
  for (const file of digestTree(spec.projectRoot, spec.projectRoot, (name) => name.endsWith('.zig') || name.endsWith('.zon'))) {
    sources.set(file.path, file.sha256);
  }
  for (const file of digestTree(spec.projectRoot, entryDir, () => true)) sources.set(file.path, file.sha256);
  for (const path of [...sources.keys()].sort(comparePaths)) line(`source ${path} ${sources.get(path)}`);
  for (const file of digestTree(spec.sdkDir, spec.sdkDir, () => true)) line(`sdk ${file.path} ${file.sha256}`);
  return hash.digest('hex');
}
