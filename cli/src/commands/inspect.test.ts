// `ukernel inspect` of a Python image: the adapter (python-3.13), its runtime and source
// packages, in the text and in --json. The image is written by the real writer and read back by
// the real reader (the bytes of bin/python do not matter to inspect).
import { describe, expect, it } from 'vitest';
import { renderManifest } from '../image/manifest.js';
import { TEST_ABI, tinyWorkloadElf } from '../image/fixtures.js';
import { bufferSource, verifyImage } from '../image/reader.js';
import { writeImage } from '../image/writer.js';
import { formatInspect, inspectJson, lockLines } from './inspect.js';

const runtime = {
  name: 'python',
  version: '3.13.5',
  key: 'python-3.13.5-0123456789abcdef',
  manifest_sha256: 'a'.repeat(64),
  sources: [
    { name: 'python3.13', debian_version: '3.13.5-2', tarball: 'python3.13_3.13.5.orig.tar.xz', sha256: 'b'.repeat(64) },
    { name: 'musl', debian_version: '1.2.5-3', tarball: 'musl_1.2.5.orig.tar.gz', sha256: 'c'.repeat(64) },
    { name: 'zlib', debian_version: '1:1.3.dfsg+really1.3.1-1', tarball: 'zlib_1.3.1.orig.tar.gz', sha256: 'd'.repeat(64) },
  ],
};

function pythonImage(withRuntime: boolean) {
  const file = (path: string, data: string | Buffer, mode = 0o644) =>
    ({ path, kind: 'file', mode, data: typeof data === 'string' ? Buffer.from(data) : data }) as const;
  const image = writeImage({
    kernel: Buffer.from('\x7fELF fake kernel '.repeat(300)),
    files: [
      file('bin/python', tinyWorkloadElf(), 0o755),
      file('lib/python313.zip', 'PK\x05\x06'.padEnd(22, '\0')),
      file('src/main.py', 'print("hi")\n'),
      file('etc/ukernel/python-entry', 'src/main.py'),
      file('etc/ukernel.env', ''),
    ],
    manifest: renderManifest({
      abi: '0.1.0',
      adapter: 'python-3.13',
      build: { optimize: 'ReleaseSafe', zig: '0.15.2' },
      created: '1970-01-01T00:00:00Z',
      entry: 'bin/python',
      lock: null,
      name: 'pyw',
      ...(withRuntime ? { runtime } : {}),
      ukernel: '0.1.0',
    }),
    abi: TEST_ABI,
    readonly: false,
    adapter: 'python-3.13',
    entry: 'bin/python',
    name: 'pyw',
  });
  return verifyImage(bufferSource(image), 'dist/pyw.img', TEST_ABI);
}

describe('ukernel inspect (Python image)', () => {
  it('shows the adapter, its runtime and each source package with its sha256', () => {
    const lines = formatInspect(pythonImage(true));
    const at = lines.indexOf('Adapter: python-3.13');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at, at + 6)).toEqual([
      'Adapter: python-3.13',
      'Adapter runtime: python 3.13.5 (python-3.13.5-0123456789abcdef)',
      `  source python3.13 3.13.5-2  sha256 ${'b'.repeat(64)}`,
      `  source musl 1.2.5-3  sha256 ${'c'.repeat(64)}`,
      `  source zlib 1:1.3.dfsg+really1.3.1-1  sha256 ${'d'.repeat(64)}`,
      'Entry: bin/python',
    ]);
    expect(lines.some((l) => /^ {2}-rw-r--r-- +11 {2}etc\/ukernel\/python-entry {2}sha256 [0-9a-f]{64}$/.test(l))).toBe(true);
  });

  it('--json carries the adapter and its runtime', () => {
    const json = inspectJson(pythonImage(true));
    expect(json.adapter).toBe('python-3.13');
    expect(json.entry).toBe('bin/python');
    expect(json.adapter_runtime).toEqual(runtime);
  });

  it('an image without a runtime (native, or packed before runtimes were recorded) shows none', () => {
    const info = pythonImage(false);
    expect(formatInspect(info).filter((l) => l.startsWith('Adapter runtime'))).toEqual([]);
    expect(inspectJson(info).adapter_runtime).toBeNull();
  });
});

describe('the lock an image was built from', () => {
  const lock = {
    format: 1,
    ukernel: { version: '0.1.0' },
    abi: { version: '0.3.0' },
    kernel: { version: '0.1.0', sha256: 'e'.repeat(64) },
    toolchain: { zig: '0.15.2', zig_wheel: 'ziglang.whl', zig_wheel_sha256: 'f'.repeat(64) },
    env: { language: 'python', base: 'python-3.13', adapter: 'python', packages: [] },
    adapter: {
      name: 'python',
      version: '3.13.5',
      runtime: 'python-3.13.5-0123456789abcdef',
      sources: [{ name: 'musl', version: '1.2.5-3', tarball: 'musl.tar.gz', sha256: 'c'.repeat(64) }],
    },
    dependencies: [
      { name: 'idna', version: '3.10', artifact: 'idna-3.10-py3-none-any.whl', sha256: '1'.repeat(64), url: 'https://x/' },
    ],
    system: [],
  };

  it('one pinned input per line; none without a lock', () => {
    expect(lockLines(null)).toEqual(['Lock: none (no env/ukernel.lock when packed)']);
    expect(lockLines(lock)).toEqual([
      'Lock: format 1 (env/ukernel.lock when packed)',
      '  ukernel 0.1.0  abi 0.3.0',
      `  kernel 0.1.0  sha256 ${'e'.repeat(64)}`,
      `  toolchain zig 0.15.2  ziglang.whl  sha256 ${'f'.repeat(64)}`,
      '  adapter python 3.13.5 (runtime python-3.13.5-0123456789abcdef)',
      `    source musl 1.2.5-3  sha256 ${'c'.repeat(64)}`,
      '  dependencies:',
      `    idna 3.10  idna-3.10-py3-none-any.whl  sha256 ${'1'.repeat(64)}`,
      '  system libraries: none',
    ]);
  });

  it("another ukernel's shape shows as ?, and hostile text is escaped and cut (an image is untrusted)", () => {
    const lines = lockLines({ 'lock-version': 1, kernel: { version: `\x1b]0;pwned\x07${'x'.repeat(5000)}` }, adapter: 'native' });
    expect(lines[0]).toBe('Lock: format ? (env/ukernel.lock when packed)');
    expect(lines[2]).toMatch(/^ {2}kernel \\x1b\]0;pwned\\x07x+… \(cut: 5010 characters in all\) {2}sha256 \?$/);
    expect(lines[2]!.length).toBeLessThan(400);
    expect(lines.join('\n')).not.toMatch(/\x1b/);
    expect(lines).toContain('  adapter ?');
  });
});
