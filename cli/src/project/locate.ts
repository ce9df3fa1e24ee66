// Finding the project: the nearest ancestor directory holding ukernel.toml. Kept apart from
// config.ts so that commands which only need the location (logs, run --kernel) do not load the
// TOML parser and the schema.
import { statSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_FILE, PROJECT_SEARCH_DEPTH_MAX } from '../constants.js';
import { errnoError, fileError, UkernelError } from '../errors.js';
import { displayPath } from '../fsutil.js';

/**
 * The nearest ancestor of `cwd` (itself included) holding ukernel.toml, or null. A ukernel.toml
 * that is not a regular file (a directory, a FIFO) is an error, not a reason to look further
 * up: the project would otherwise silently be the parent's.
 */
export function findProjectRoot(cwd: string): string | null {
  let dir = cwd;
  for (let depth = 0; depth < PROJECT_SEARCH_DEPTH_MAX; depth++) {
    const path = join(dir, PROJECT_FILE);
    let stat: Stats | null;
    try {
      stat = statSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Not here (or not searchable: EACCES on a parent is the user's business); go up.
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EACCES')
        throw fileError(err, { op: 'read', display: displayPath(cwd, path) });
      stat = null;
    }
    if (stat !== null) {
      if (stat.isFile()) return dir;
      if (stat.isDirectory()) throw fileError(errnoError('EISDIR'), { op: 'read', display: displayPath(cwd, path) });
      throw new UkernelError('ConfigInvalid', `${displayPath(cwd, path)} is not a regular file (a FIFO, socket or device)`, {
        hint: `Replace it with the project's ukernel.toml.`,
      });
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
  return null;
}
