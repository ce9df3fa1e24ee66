// Locate an executable: an env override (path or bare name) wins, else search PATH.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env, override?: string): string | null {
  const wanted = override !== undefined && override !== '' ? override : name;
  if (wanted.includes('/')) {
    const path = isAbsolute(wanted) ? wanted : resolve(wanted);
    return isExecutableFile(path) ? path : null;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, wanted);
    if (isExecutableFile(path)) return path;
  }
  return null;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
