// The TypeScript tidy gate (scripts/test.sh runs `biome ci --error-on-warnings`, biome.jsonc):
// it refuses a mis-formatted file, an over-long line and a lint finding, and accepts the style
// the code base is written in.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const biome = join(root, 'node_modules/.bin/biome');
const dir = mkdtempSync(join(tmpdir(), 'ukernel-tidy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Exit status of the gate's Biome check on one file holding `source`. */
function gate(name: string, source: string): number | null {
  const file = join(dir, name);
  writeFileSync(file, source);
  const args = ['ci', '--error-on-warnings', `--config-path=${join(root, 'biome.jsonc')}`, '--vcs-enabled=false', file];
  return spawnSync(biome, args, { cwd: root, stdio: 'ignore', timeout: 30_000 }).status;
}

const longCall = `export const s = [${Array.from({ length: 30 }, (_, i) => `'item${i}'`).join(', ')}];\n`;

describe('TypeScript tidy gate (Biome)', () => {
  it.each<[string, string, number]>([
    ['house style passes', "import { join } from 'node:path';\n\nexport const p = join('a', 'b');\n", 0],
    ['double quotes fail', 'export const s = "x";\n', 1],
    ['a missing semicolon fails', "export const s = 'x'\n", 1],
    ['4-space indentation fails', 'export function f(): number {\n    return 1;\n}\n', 1],
    ['a line over 130 columns fails', longCall, 1],
    ['an unused import fails', "import { join } from 'node:path';\n\nexport const n = 1;\n", 1],
    ['an unused variable fails', 'export function f(): number {\n  const unused = 2;\n  return 1;\n}\n', 1],
  ])('%s', (name, source, status) => {
    expect(gate(`${name.replace(/\W+/g, '-')}.ts`, source)).toBe(status);
  });
});
