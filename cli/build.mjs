// Bundle cli/src → cli/dist with esbuild. Each command is its own lazily loaded chunk,
// so `ukernel run` only parses what it needs.
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const outdir = `${root}cli/dist`;

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'cli/src/cli.ts', lib: 'cli/src/lib.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  define: { __UKERNEL_VERSION__: JSON.stringify(pkg.version) },
  // commander is CJS; give the ESM bundle a `require` for its node: built-ins.
  banner: {
    js: "import { createRequire as __ukCreateRequire } from 'node:module'; const require = __ukCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
  metafile: true,
});
const outputs = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.js'));
console.log(`ukernel: built ${outputs.length} files into cli/dist`);
