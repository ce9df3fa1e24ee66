// The rebuild decision follows symlinks: an edit behind a link (to a file or a directory,
// inside or outside the project) changes the inputs hash; loops, dangling links and too many
// links are bounded.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SOURCE_SYMLINKS_MAX } from '../constants.js';
import { buildInputsHash, digestTree, type BuildInputSpec } from './inputs.js';

const work = mkdtempSync(join(tmpdir(), 'uk-inputs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function project(name: string): { root: string; spec: BuildInputSpec } {
  const root = join(work, name);
  mkdirSync(join(root, 'src'), { recursive: true });
  mkdirSync(join(root, 'sdk'), { recursive: true });
  writeFileSync(join(root, 'src/main.zig'), 'const lib = @import("lib.zig");\n');
  writeFileSync(join(root, 'sdk/ukernel.zig'), 'sdk\n');
  const spec: BuildInputSpec = {
    projectRoot: root,
    entry: 'src/main.zig',
    name,
    adapter: 'native',
    envBase: 'minimal',
    sdkDir: join(root, 'sdk'),
    zigVersion: '0.15.2',
    optimize: 'ReleaseSafe',
    mtime: new Date(0),
    recipe: 'r1',
    env: Buffer.alloc(0),
  };
  return { root, spec };
}

describe('build inputs behind symlinks', () => {
  it('an edit behind a file symlink, inside or outside the project, changes the hash', () => {
    const { root, spec } = project('filelink');
    mkdirSync(join(root, 'shared'));
    writeFileSync(join(root, 'shared/lib.zig'), 'pub const x = 1;\n');
    symlinkSync('../shared/lib.zig', join(root, 'src/lib.zig'));
    const outside = join(work, 'outside.zig');
    writeFileSync(outside, 'pub const y = 1;\n');
    symlinkSync(outside, join(root, 'src/far.zig'));
    const first = buildInputsHash(spec);
    expect(digestTree(root, root, (n) => n.endsWith('.zig')).map((f) => f.path)).toEqual([
      'sdk/ukernel.zig',
      'shared/lib.zig',
      'src/far.zig',
      'src/lib.zig',
      'src/main.zig',
    ]);
    writeFileSync(join(root, 'shared/lib.zig'), 'pub const x = 2;\n');
    const second = buildInputsHash(spec);
    expect(second).not.toBe(first);
    writeFileSync(outside, 'pub const y = 2;\n'); // outside the project: hashed by content too
    expect(buildInputsHash(spec)).not.toBe(second);
  });

  it('follows symlinked directories (the link path is what is recorded) and the SDK through links', () => {
    const { root, spec } = project('dirlink');
    const lib = join(work, 'dirlink-lib');
    mkdirSync(join(lib, 'deep'), { recursive: true });
    writeFileSync(join(lib, 'deep/util.zig'), 'a\n');
    symlinkSync(lib, join(root, 'src/vendor'));
    expect(digestTree(root, join(root, 'src'), () => true).map((f) => f.path)).toEqual([
      'src/main.zig',
      'src/vendor/deep/util.zig',
    ]);
    const first = buildInputsHash(spec);
    writeFileSync(join(lib, 'deep/util.zig'), 'b\n');
    expect(buildInputsHash(spec)).not.toBe(first);
    const sdkReal = join(work, 'dirlink-sdk.zig');
    writeFileSync(sdkReal, 'one\n');
    symlinkSync(sdkReal, join(root, 'sdk/start.zig'));
    const withSdk = buildInputsHash(spec);
    writeFileSync(sdkReal, 'two\n');
    expect(buildInputsHash(spec)).not.toBe(withSdk);
  });

  it('a dangling link counts by its target text; creating the target changes the hash', () => {
    const { root, spec } = project('dangling');
    symlinkSync('../gen/lib.zig', join(root, 'src/lib.zig'));
    const first = buildInputsHash(spec);
    expect(buildInputsHash(spec)).toBe(first);
    mkdirSync(join(root, 'gen'));
    writeFileSync(join(root, 'gen/lib.zig'), 'pub const x = 1;\n');
    expect(buildInputsHash(spec)).not.toBe(first);
  });

  it('loops end: a link to an enclosing directory is not descended, a link chain cycle is unresolved', () => {
    const { root, spec } = project('loops');
    symlinkSync('..', join(root, 'src/up'));
    symlinkSync('.', join(root, 'src/self'));
    symlinkSync('b.zig', join(root, 'src/a.zig'));
    symlinkSync('a.zig', join(root, 'src/b.zig'));
    const paths = digestTree(root, root, (n) => n.endsWith('.zig')).map((f) => f.path);
    expect(paths).toEqual(['sdk/ukernel.zig', 'src/a.zig', 'src/b.zig', 'src/main.zig']);
    expect(buildInputsHash(spec)).toBe(buildInputsHash(spec));
  });

  it('refuses more than SOURCE_SYMLINKS_MAX links with UK118, naming the limit', () => {
    const { root } = project('many');
    const target = join(root, 'src/main.zig');
    for (let i = 0; i <= SOURCE_SYMLINKS_MAX; i++) symlinkSync(target, join(root, `src/l${i}.zig`));
    expect(() => digestTree(root, root, () => true)).toThrow(
      expect.objectContaining({ code: 'UK118', message: expect.stringContaining(`more than ${SOURCE_SYMLINKS_MAX} symlinks`) }),
    );
    unlinkSync(join(root, 'src/l0.zig'));
    expect(digestTree(root, root, () => true)).toHaveLength(SOURCE_SYMLINKS_MAX + 2);
  });

  it('links into each other without a cycle are bounded by the link count, not exponential', () => {
    const { root } = project('fan');
    // d0 holds two links to d1, d1 two to d2, …: 2^12 paths without a limit.
    for (let i = 0; i < 12; i++) mkdirSync(join(root, `d${i}`));
    for (let i = 0; i < 11; i++) {
      symlinkSync(join(root, `d${i + 1}`), join(root, `d${i}/a`));
      symlinkSync(join(root, `d${i + 1}`), join(root, `d${i}/b`));
    }
    writeFileSync(join(root, 'd11/x.zig'), 'x\n');
    expect(() => digestTree(root, root, () => true)).toThrow(expect.objectContaining({ code: 'UK118' }));
  });
});

describe('which directories the rebuild check skips', () => {
  it("skips the project's own build/, dist/ and logs/, but not a package of the same name under src/", () => {
    const { root, spec } = project('outputs');
    for (const dir of ['build', 'dist', 'logs', 'src/build', 'src/logs', 'src/dist', 'src/node_modules']) {
      mkdirSync(join(root, dir), { recursive: true });
      writeFileSync(join(root, dir, 'x.zig'), 'x\n');
    }
    const paths = digestTree(root, root, (n) => n.endsWith('.zig')).map((f) => f.path);
    expect(paths).toEqual(['sdk/ukernel.zig', 'src/build/x.zig', 'src/dist/x.zig', 'src/logs/x.zig', 'src/main.zig']);
    // A Python project's code directory is src/: an edit of src/logs/__init__.py must rebuild.
    const python = { ...spec, entry: 'src/main.py' };
    writeFileSync(join(root, 'src/main.py'), 'import logs\n');
    writeFileSync(join(root, 'src/logs/__init__.py'), 'V = 1\n');
    const first = buildInputsHash(python);
    writeFileSync(join(root, 'src/logs/__init__.py'), 'V = 2\n');
    expect(buildInputsHash(python)).not.toBe(first);
    writeFileSync(join(root, 'logs/run.log'), 'a run\n'); // the project's logs/: not an input
    writeFileSync(join(root, 'src/logs/__init__.py'), 'V = 1\n');
    expect(buildInputsHash(python)).toBe(first);
    // Running the code on the host writes __pycache__/ (which the image never takes from src/).
    mkdirSync(join(root, 'src/logs/__pycache__'));
    writeFileSync(join(root, 'src/logs/__pycache__/__init__.cpython-313.pyc'), 'bytecode');
    expect(buildInputsHash(python)).toBe(first);
  });
});
