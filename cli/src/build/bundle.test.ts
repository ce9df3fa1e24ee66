// The bundle is deterministic whatever the checkout path, umask, file modes or mtimes, and reads
// back as exactly the files it holds; the inputs hash follows contents, not mtimes.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PackSync } from 'tar';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../hash.js';
import { createBundle, readBundle } from './bundle.js';
import { buildInputsHash, digestTree, type BuildInputSpec } from './inputs.js';

const dir = mkdtempSync(join(tmpdir(), 'uk-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const MTIME = new Date('1985-10-26T08:15:00.000Z');

function bundleFrom(sub: string, options: { umask: number; fileMode: number; mtime: Date }): Buffer {
  const work = join(dir, sub);
  mkdirSync(work, { recursive: true });
  const workload = join(work, 'main');
  writeFileSync(workload, Buffer.from('\x7fELF workload bytes'));
  chmodSync(workload, options.fileMode);
  utimesSync(workload, options.mtime, options.mtime);
  const previous = process.umask(options.umask);
  try {
    return createBundle({ workloadPath: workload, env: Buffer.from('A=1\n'), mtime: MTIME, stagingDir: join(work, 'stage') });
  } finally {
    process.umask(previous);
  }
}

describe('createBundle', () => {
  it('gives identical bytes across paths, umasks, source modes and mtimes', () => {
    const a = bundleFrom('a', { umask: 0o022, fileMode: 0o755, mtime: new Date('2020-01-01') });
    const b = bundleFrom('b/deeper/path', { umask: 0o077, fileMode: 0o700, mtime: new Date('2001-09-09') });
    expect(sha256Hex(a)).toBe(sha256Hex(b));
    expect(a[0]).toBe(0x1f); // gzip
  });

  it('holds bin/, bin/main 0755, etc/, etc/ukernel.env 0644, sorted, with the fixed mtime and no owner', () => {
    const files = readBundle(bundleFrom('c', { umask: 0o022, fileMode: 0o600, mtime: new Date() }), 'bundle.tgz');
    expect(files.map((f) => [f.path, f.kind, f.mode.toString(8), f.data.toString()])).toEqual([
      ['bin', 'directory', '755', ''],
      ['bin/main', 'file', '755', '\x7fELF workload bytes'],
      ['etc', 'directory', '755', ''],
      ['etc/ukernel.env', 'file', '644', 'A=1\n'],
    ]);
  });

  it('leaves no staging directory behind', () => {
    bundleFrom('d', { umask: 0o022, fileMode: 0o755, mtime: new Date() });
    expect(existsSync(join(dir, 'd/stage'))).toBe(false);
  });

  it('a staging failure is a catalog error naming its cause, not an internal error', () => {
    writeFileSync(join(dir, 'plain'), '');
    writeFileSync(join(dir, 'main'), '\x7fELF');
    expect(() =>
      createBundle({ workloadPath: join(dir, 'main'), env: Buffer.alloc(0), mtime: MTIME, stagingDir: join(dir, 'plain/stage') }),
    ).toThrow(expect.objectContaining({ code: 'UK151', message: expect.stringContaining('(ENOTDIR)') }));
  });
});

describe('readBundle', () => {
  it("refuses what is not a gzip'd tar", () => {
    expect(() => readBundle(Buffer.from('not gzip'), 'x.tgz')).toThrow(
      expect.objectContaining({ code: 'UK120', message: expect.stringMatching(/^x\.tgz is not a gzip'd tar/) }),
    );
    expect(() => readBundle(gzipSync(Buffer.alloc(1024)), 'zeros.tgz')).toThrow(/^zeros\.tgz: .*Unrecognized archive format/);
  });

  it('refuses symlinks and other entry types, naming them', () => {
    const work = join(dir, 'links');
    mkdirSync(join(work, 'bin'), { recursive: true });
    writeFileSync(join(work, 'bin/real'), 'x');
    symlinkSync('real', join(work, 'bin/main'));
    const chunks: Buffer[] = [];
    const pack = new PackSync({ cwd: work, portable: true, noDirRecurse: true });
    pack.on('data', (c: Buffer) => chunks.push(c));
    for (const p of ['bin', 'bin/main']) pack.add(p);
    pack.end();
    expect(() => readBundle(gzipSync(Buffer.concat(chunks)), 'b.tgz')).toThrow(
      /bin\/main is a SymbolicLink; a bundle holds only files and directories/,
    );
  });
});

describe('build inputs hash', () => {
  const project = join(dir, 'project');
  mkdirSync(join(project, 'src'), { recursive: true });
  mkdirSync(join(project, 'build/.zig-cache'), { recursive: true });
  mkdirSync(join(project, 'sdk'), { recursive: true });
  writeFileSync(join(project, 'src/main.zig'), 'pub fn main() u8 { return 0; }\n');
  writeFileSync(join(project, 'sdk/ukernel.zig'), '// sdk\n');
  const spec: BuildInputSpec = {
    projectRoot: project,
    entry: 'src/main.zig',
    name: 'demo',
    adapter: 'native',
    envBase: 'zig-0.15.2',
    sdkDir: join(project, 'sdk'),
    zigVersion: '0.15.2',
    optimize: 'ReleaseSafe',
    mtime: MTIME,
    recipe: 'r1',
    env: Buffer.from(''),
  };

  it('changes with sources, SDK, env, optimize and recipe; not with mtimes or build output', () => {
    const first = buildInputsHash(spec);
    utimesSync(join(project, 'src/main.zig'), new Date('2000-01-01'), new Date('2000-01-01'));
    writeFileSync(join(project, 'build/bundle.tgz'), 'output');
    writeFileSync(join(project, 'build/.zig-cache/x.zig'), 'cache');
    expect(buildInputsHash(spec)).toBe(first);
    expect(buildInputsHash({ ...spec, optimize: 'ReleaseFast' })).not.toBe(first);
    expect(buildInputsHash({ ...spec, recipe: 'r2' })).not.toBe(first);
    expect(buildInputsHash({ ...spec, env: Buffer.from('A=1\n') })).not.toBe(first);
    writeFileSync(join(project, 'sdk/ukernel.zig'), '// sdk v2\n');
    const sdkChanged = buildInputsHash(spec);
    expect(sdkChanged).not.toBe(first);
    writeFileSync(join(project, 'src/helper.zig'), 'pub const x = 1;\n');
    expect(buildInputsHash(spec)).not.toBe(sdkChanged);
  });

  it('lists files sorted bytewise, skipping hidden and output directories', () => {
    expect(digestTree(project, project, () => true).map((f) => f.path)).toEqual([
      'sdk/ukernel.zig',
      'src/helper.zig',
      'src/main.zig',
    ]);
  });
});
