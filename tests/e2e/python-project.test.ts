// A Python project laid out as users lay them out, under QEMU: the code directory (src/) holds
// packages named like the project's output directories (src/logs/, src/build/), data files the
// code open()s (src/data/greeting.txt, a package's table.csv through importlib.resources), a
// package reached through a symlinked directory, and a hidden file. The image has every one of
// them but the hidden file; an edit of src/logs/__init__.py makes `ukernel run` rebuild (it
// booted the stale image before: the rebuild check skipped every directory named logs/build).
// Skipped, saying so, until the adapter's build (adapters/python/build.sh, link.sh) is in the
// checkout.
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireBuilt, root, tempDir, ukernelOk } from './helpers.js';

const BUILD_MS = 3_600_000;
const RUN_MS = 180_000;
const chain = existsSync(join(root, 'adapters/python/build.sh')) && existsSync(join(root, 'adapters/python/link.sh'));

const MAIN = `import importlib.resources, os
import logs, build, shared
here = os.path.dirname(__file__)
with open(os.path.join(here, "data", "greeting.txt"), encoding="utf-8") as f:
    print("data:", f.read().strip())
print("resource:", importlib.resources.files("shared").joinpath("table.csv").read_text().strip())
print("packages:", logs.VALUE, build.VALUE, shared.VALUE)
print("hidden shipped:", os.path.exists(os.path.join(here, ".secret")))
`;

describe.skipIf(!chain)('a Python project with packages, data files and links (QEMU)', () => {
  let work: ReturnType<typeof tempDir>;
  let dir: string;

  beforeAll(async () => {
    requireBuilt();
    work = tempDir();
    dir = join(work.path, 'pyproj');
    mkdirSync(dir);
    await ukernelOk(['init', '--name', 'pyproj', '--lang', 'python', '--template', 'worker'], dir);
    const files: Record<string, string> = {
      'src/main.py': MAIN,
      'src/logs/__init__.py': 'VALUE = "logs-1"\n',
      'src/build/__init__.py': 'VALUE = "build-1"\n',
      'src/data/greeting.txt': 'héllo from a data file\n',
      'src/.secret': 'not for the image\n',
      'shared/__init__.py': 'VALUE = "shared-1"\n',
      'shared/table.csv': 'a,b\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    symlinkSync('../shared', join(dir, 'src', 'shared'));
  }, BUILD_MS);

  afterAll(() => work?.remove());

  it(
    'the image has the data files and linked packages; an edit in src/logs/ is rebuilt',
    async () => {
      const first = await ukernelOk(['run'], dir, BUILD_MS);
      expect(first.stdout).toMatch(/^data: héllo from a data file$/m);
      expect(first.stdout).toMatch(/^resource: a,b$/m);
      expect(first.stdout).toMatch(/^packages: logs-1 build-1 shared-1$/m);
      expect(first.stdout).toMatch(/^hidden shipped: False$/m);

      writeFileSync(join(dir, 'src/logs/__init__.py'), 'VALUE = "logs-2"\n');
      writeFileSync(join(dir, 'shared/table.csv'), 'c,d\n'); // behind the link
      const second = await ukernelOk(['run'], dir, RUN_MS);
      expect(second.stdout).toMatch(/^packages: logs-2 build-1 shared-1$/m);
      expect(second.stdout).toMatch(/^resource: c,d$/m);
    },
    BUILD_MS,
  );
});
