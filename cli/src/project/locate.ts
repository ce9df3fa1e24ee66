// Finding the project: the nearest ancestor directory holding ukernel.toml. Kept apart from
// config.ts so that commands which only need the location (logs, run --kernel) do not load the
// TOML parser and the schema.
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_FILE, PROJECT_SEARCH_DEPTH_MAX } from '../constants.js';

/** The nearest ancestor of `cwd` (itself included) holding ukernel.toml, or null. */
export function findProjectRoot(cwd: string): string | null {
  let dir = cwd;
  for (let depth = 0; depth < PROJECT_SEARCH_DEPTH_MAX; depth++) {
    try {
      if (statSync(join(dir, PROJECT_FILE)).isFile()) return dir;
    } catch {
      // Not here; go up.
    }
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
  return null;
}
