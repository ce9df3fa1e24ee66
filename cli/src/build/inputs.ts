// What a build depends on, as one sha256, so `ukernel run` can skip rebuilding when nothing
// changed. Hashes file contents, never mtimes (touching a file does not force a rebuild), and
// follows symlinks (an edit behind `src/lib.zig -> ../shared/lib.zig` is a change).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync, type Dirent } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { SOURCE_DIR_DEPTH_MAX, SOURCE_FILES_MAX, SOURCE_SYMLINKS_MAX } from '../constants.js';
import { UkernelError } from '../errors.js';
import { errnoCode } from '../fsutil.js';
import { byName } from '../image/manifest.js';
import { comparePaths } from './bundle.js';

/** Directories under the project that are output or tooling, never workload source. */
// Tool output is skipped wherever it sits (__pycache__: Python's, which an image never takes
// from src/); the project's own outputs (build/, dist/, logs/) only in the project root
// (`base`): a package src/logs/ or src/build/ is source, and is in the image.
const SKIPPED_DIRS = new Set(['node_modules', 'zig-out', '.zig-cache', 'zig-cache', '__pycache__']);
const PROJECT_OUTPUT_DIRS = new Set(['build', 'dist', 'logs']);

export interface FileDigest {
  path: string;
  sha256: string;
}

type EntryKind = 'dir' | 'file' | 'other' | 'unresolved';

function kindOf(entry: { isDirectory(): boolean; isFile(): boolean }): EntryKind {
  return entry.isDirectory() ? 'dir' : entry.isFile() ? 'file' : 'other';
}

/** What a symlink leads to (stat follows the whole chain); 'unresolved' when dangling or a loop. */
function linkKind(path: string): EntryKind {
  try {
    return kindOf(statSync(path));
  } catch {
    return 'unresolved';
  }
}

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Regular files under `dir` accepted by `include`, sorted bytewise by path relative to `base`;
 * skips hidden and output directories. Symlinks are followed, wherever they point (outside the
 * project too), and hashed by the content they lead to, under the link's own path: Zig resolves
 * `@import` paths lexically (src/lib.zig, not its target's path) and reads through the link.
 * A link to a directory that encloses it (a loop) is not descended again; a dangling or looping
 * link counts by its target text (creating the target changes the hash). Refuses, rather than
 * ignores, more than SOURCE_FILES_MAX files, SOURCE_DIR_DEPTH_MAX levels or SOURCE_SYMLINKS_MAX
 * symlinks (UK118).
 */
export function digestTree(base: string, dir: string, include: (name: string) => boolean): FileDigest[] {
  const found: FileDigest[] = [];
  const projectRoot = resolve(base);
  let links = 0;
  // Each directory with the real paths of the directories it sits in (to cut loops).
  const pending: Array<{ path: string; depth: number; within: readonly string[] }> = [{ path: dir, depth: 0, within: [] }];
  while (pending.length > 0) {
    const current = pending.pop()!;
    let real: string;
    let entries: Dirent[];
    try {
      real = realpathSync(current.path);
      entries = readdirSync(current.path, { withFileTypes: true });
    } catch {
      continue; // A missing directory contributes nothing.
    }
    if (current.within.includes(real)) continue; // a symlink back to an enclosing directory
    const within = [...current.within, real];
    entries.sort(byName);
    for (const entry of entries) {
      const path = join(current.path, entry.name);
      let kind = kindOf(entry);
      if (entry.isSymbolicLink()) {
        links++;
        if (links > SOURCE_SYMLINKS_MAX) {
          throw new UkernelError(
            'BuildFailed',
            `more than ${SOURCE_SYMLINKS_MAX} symlinks under ${relative(base, dir) || '.'} (the last: ${relative(base, path)})`,
            {
              hint: 'Symlinks are followed to decide whether to rebuild; link fewer files or directories (or remove a link cycle).',
            },
          );
        }
        kind = linkKind(path);
      }
      if (kind === 'dir') {
        if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name)) continue;
        if (PROJECT_OUTPUT_DIRS.has(entry.name) && resolve(current.path) === projectRoot) continue;
        if (current.depth + 1 > SOURCE_DIR_DEPTH_MAX) {
          throw new UkernelError(
            'BuildFailed',
            `${relative(base, path)} is nested more than ${SOURCE_DIR_DEPTH_MAX} levels deep`,
            {
              hint: 'Keep workload sources in a shallower tree (symlinked directories count as levels).',
            },
          );
        }
        pending.push({ path, depth: current.depth + 1, within });
      } else if ((kind === 'file' || kind === 'unresolved') && include(entry.name)) {
        if (found.length >= SOURCE_FILES_MAX) {
          throw new UkernelError(
            'BuildFailed',
            `more than ${SOURCE_FILES_MAX} source files under ${relative(base, dir) || '.'}`,
            {
              hint: 'Move unrelated files out of the project.',
            },
          );
        }
        found.push({
          path: relative(base, path),
          sha256: kind === 'file' ? fileDigest(path) : sha256(`unresolved symlink -> ${linkText(path)}`),
        });
      }
    }
  }
  return found.sort((a, b) => comparePaths(a.path, b.path));
}

function fileDigest(path: string): string {
  try {
    return sha256(readFileSync(path));
  } catch (err) {
    // Unreadable (or gone meanwhile): the build will say why; here it just counts as changed.
    return sha256(`unreadable ${errnoCode(err)}`);
  }
}

function linkText(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
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
