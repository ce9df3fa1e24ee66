// Image writer ↔ reader: a round trip, determinism, and refusal of every kind of damage with
// the failing part named: a bit flipped in every section, the header and the padding;
// truncation at several points; foreign files; oversized header fields; ABI mismatches.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IMAGE_BYTES_MAX } from '../constants.js';
import { describeWorkloadElf } from '../elf.js';
import { createHash } from 'node:crypto';
import {
  alignUp,
  E,
  H,
  HEADER_BYTES,
  R,
  ROOTFS_BLOCK_BYTES,
  ROOTFS_ENTRY_BYTES,
  ROOTFS_HEADER_BYTES,
  S,
  SECTION_ENTRY_BYTES,
} from './format.js';
import { reseal, TEST_ABI, testImage, testManifest, tinyWorkloadElf } from './fixtures.js';
import { bufferSource, ImageError, readImageFile, verifyImage, type ImagePart } from './reader.js';
import { rootfsBlockHashes, writeImage } from './writer.js';

const verify = (image: Buffer, abi = TEST_ABI) => verifyImage(bufferSource(image), 'x.img', abi);

function refusal(image: Buffer, abi = TEST_ABI): ImageError {
  try {
    verify(image, abi);
  } catch (err) {
    if (err instanceof ImageError) return err;
    throw err;
  }
  throw new Error('the image was accepted');
}

const good = testImage();
const info = verify(good);
const section = (name: 'kernel' | 'rootfs' | 'manifest') => info.sections.find((s) => s.name === name)!;

describe('round trip', () => {
  it('reads back what was written: header, sections, rootfs (sorted, parents added, modes fixed), manifest', () => {
    expect(info).toMatchObject({
      abi: '0.1.0',
      adapter: 'native',
      entry: 'bin/main',
      name: 'demo',
      readonly: false,
      imageBytes: good.length,
    });
    expect(good.length % 4096).toBe(0);
    expect(info.sections.map((s) => [s.name, s.offset % 4096])).toEqual([
      ['kernel', 0],
      ['rootfs', 0],
      ['manifest', 0],
    ]);
    expect(info.sections[0]!.offset).toBe(HEADER_BYTES);
    expect(info.files.map((f) => [f.path, f.kind, f.mode.toString(8), f.size])).toEqual([
      ['bin', 'directory', '755', 0],
      ['bin/main', 'file', '755', tinyWorkloadElf().length],
      ['etc', 'directory', '755', 0],
      ['etc/ukernel.env', 'file', '644', 4],
      ['share', 'directory', '755', 0],
      ['share/data', 'directory', '755', 0],
      ['share/data/empty', 'file', '644', 0],
    ]);
    for (const file of info.files.filter((f) => f.kind === 'file')) expect(file.dataOffset % 512).toBe(0);
    expect(info.manifest).toMatchObject({ name: 'demo', lock: null, build: { optimize: 'ReleaseSafe', zig: '0.15.2' } });
    expect(verify(testImage({ readonly: true })).readonly).toBe(true);
    expect(verify(testImage({ lock: { b: 1, a: [2] } })).manifest.lock).toEqual({ a: [2], b: 1 });
  });

  it('is deterministic: the same inputs give the same bytes', () => {
    expect(testImage().equals(good)).toBe(true);
    expect(testImage({ readonly: true }).equals(good)).toBe(false);
  });

  it('the manifest has sorted keys, two-space indent and a trailing newline', () => {
    const { offset, size } = section('manifest');
    const text = good.subarray(offset, offset + size).toString('utf8');
    expect(text.endsWith('}\n')).toBe(true);
    expect([...text.matchAll(/^ {2}"(\w+)"/gm)].map((m) => m[1])).toEqual([
      'abi',
      'adapter',
      'build',
      'created',
      'entry',
      'lock',
      'name',
      'ukernel',
    ]);
  });
});

describe('corruption: a flipped bit anywhere is refused, naming the part', () => {
  /** Offsets spread over [start, end): both ends and a stride between. */
  const offsets = (start: number, end: number, count = 24): number[] => {
    const out = new Set([start, end - 1]);
    for (let i = 1; i < count; i++) out.add(start + Math.floor(((end - start) * i) / count));
    return [...out].filter((o) => o >= start && o < end);
  };
  const flipped = (offset: number, bit = 0): Buffer => {
    const copy = Buffer.from(good);
    copy[offset]! ^= 1 << bit;
    return copy;
  };

  it.each(['kernel', 'rootfs', 'manifest'] as const)('in the %s section', (name) => {
    const { offset, size } = section(name);
    for (const at of offsets(offset, offset + size)) {
      const err = refusal(flipped(at, at % 8));
      expect(err.part).toBe(name);
      expect(err.code).toBe('UK125');
      // Inside the rootfs, the damaged part is named: the index, a file's block or its
      // block-hash list, or else (padding) the section.
      const what =
        name === 'rootfs'
          ? '(rootfs section|rootfs index|rootfs file \\S+ (block \\d+ \\(bytes \\d+\\.\\.\\d+\\)|block-hash list))'
          : `${name} section`;
      expect(err.message).toMatch(
        new RegExp(
          `^image x\\.img: ${what} sha256 mismatch \\(expected [0-9a-f]{64}, got [0-9a-f]{64}\\); the image is corrupt$`,
        ),
      );
    }
  });

  it('in every byte of the header', () => {
    for (let at = 0; at < HEADER_BYTES; at++) {
      const err = refusal(flipped(at, at % 8));
      expect(err.part, `offset ${at}`).toBe('header');
      expect(err.message).toMatch(/header (magic|sha256 mismatch)|format version|header_bytes/);
    }
  });

  it('in the zero padding between and after sections', () => {
    const kernel = section('kernel');
    expect(refusal(flipped(kernel.offset + kernel.size)).part).toBe('padding');
    expect(refusal(flipped(good.length - 1)).message).toContain('padding after the last section is not zero');
  });

  it('in a file or the index, with the section hashes resealed: the rootfs checks still catch it', () => {
    const rootfs = section('rootfs');
    const main = info.files.find((f) => f.path === 'bin/main')!;
    expect(refusal(reseal(flipped(rootfs.offset + main.dataOffset + 3))).message).toMatch(
      /rootfs file bin\/main block 0 \(bytes 0\.\.\d+\) sha256 mismatch/,
    );
    const index = reseal(flipped(rootfs.offset + ROOTFS_HEADER_BYTES + E.mode), { index: false });
    expect(refusal(index).message).toMatch(/rootfs index sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/);
  });
});

describe('UKFS 2 block hashes', () => {
  const BLOCK = ROOTFS_BLOCK_BYTES;
  // 2.5 blocks of bytes that differ from block to block: the last block is short.
  const data = Buffer.alloc(BLOCK * 2 + BLOCK / 2);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 14)) & 0xff;
  const image = writeImage({
    kernel: Buffer.alloc(16),
    files: [{ path: 'bin/main', kind: 'file', mode: 0o755, data }],
    manifest: testManifest('x'),
    abi: TEST_ABI,
    readonly: false,
    adapter: 'native',
    entry: 'bin/main',
    name: 'x',
  });
  const read = verify(image);
  const rootfs = read.sections.find((s) => s.name === 'rootfs')!;
  const main = read.files.find((f) => f.path === 'bin/main')!;
  const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

  it('puts the list of block sha256s after the data, sector aligned; the entry holds its sha256', () => {
    const expected = Buffer.concat([0, 1, 2].map((b) => sha(data.subarray(b * BLOCK, Math.min((b + 1) * BLOCK, data.length)))));
    const listAt = rootfs.offset + main.dataOffset + alignUp(data.length, 512);
    expect(image.subarray(listAt, listAt + 96).equals(expected)).toBe(true);
    expect(main.sha256).toBe(sha(expected).toString('hex'));
    expect(rootfsBlockHashes(data).equals(expected)).toBe(true);
    expect(rootfsBlockHashes(Buffer.alloc(0)).length).toBe(0);
    expect(rootfs.size).toBe(alignUp(main.dataOffset + alignUp(data.length, 512) + 96, 512));
  });

  it('names the file and the block that does not match, even with every other hash fixed', () => {
    for (const block of [0, 1, 2]) {
      const copy = Buffer.from(image);
      copy[rootfs.offset + main.dataOffset + block * BLOCK + 100]! ^= 0x04;
      expect(refusal(copy).message).toMatch(
        new RegExp(`rootfs file bin/main block ${block} \\(bytes ${block * BLOCK}\\.\\.\\d+\\) sha256 mismatch`),
      );
      expect(refusal(reseal(copy)).message).toMatch(new RegExp(`rootfs file bin/main block ${block} `));
    }
    const list = Buffer.from(image);
    list[rootfs.offset + main.dataOffset + alignUp(data.length, 512) + 40]! ^= 0x01;
    expect(refusal(list).message).toMatch(/rootfs file bin\/main block-hash list sha256 mismatch \(expected [0-9a-f]{64}, got/);
  });
});

describe('truncated, foreign and oversized', () => {
  it('refuses an image cut at several points, naming where', () => {
    const rootfs = section('rootfs');
    expect(refusal(good.subarray(0, 0)).code).toBe('UK124');
    expect(refusal(good.subarray(0, 100)).message).toMatch(/header truncated: 100 of 4096 bytes; the image is truncated/);
    expect(refusal(good.subarray(0, HEADER_BYTES)).message).toMatch(/cut inside the kernel section/);
    expect(refusal(good.subarray(0, rootfs.offset + 10)).part).toBe('rootfs');
    expect(refusal(good.subarray(0, good.length - 4096)).part).toBe('manifest');
    expect(refusal(good.subarray(0, good.length - 1)).message).toMatch(/file is \d+ bytes but the header says \d+/);
    expect(refusal(Buffer.concat([good, Buffer.alloc(1)])).message).toMatch(/trailing data/);
  });

  it('refuses foreign files', () => {
    for (const foreign of [tinyWorkloadElf(), Buffer.from('hello'), Buffer.alloc(8192)]) {
      const err = refusal(foreign);
      expect(err.code).toBe('UK124');
      expect(err.message).toMatch(/header magic is ".*", not "UKIMAGE\\0"; it is not a ukernel image/);
    }
  });

  const edited = (edit: (image: Buffer) => void): Buffer => {
    const copy = Buffer.from(good);
    edit(copy);
    return reseal(copy);
  };
  const rootfsAt = section('rootfs').offset;

  it.each<[string, (image: Buffer) => void, string, ImagePart, RegExp]>([
    [
      'image_bytes over 1 GiB',
      (b) => b.writeBigUInt64LE(BigInt(IMAGE_BYTES_MAX) + 1n, H.imageBytes),
      'UK122',
      'header',
      /image_bytes is 1073741825, over/,
    ],
    [
      'image_bytes 2^64-1',
      (b) => b.writeBigUInt64LE(2n ** 64n - 1n, H.imageBytes),
      'UK122',
      'header',
      /over the 1073741824-byte/,
    ],
    [
      'a section size of 2^63',
      (b) => b.writeBigUInt64LE(2n ** 63n, H.sectionTable + SECTION_ENTRY_BYTES * 2 + S.size),
      'UK125',
      'manifest',
      /extends past the end of the image/,
    ],
    [
      'a section offset past the end',
      (b) => b.writeBigUInt64LE(2n ** 40n, H.sectionTable + S.offset),
      'UK125',
      'kernel',
      /extends past the end/,
    ],
    [
      'overlapping sections',
      (b) => b.writeBigUInt64LE(4096n, H.sectionTable + SECTION_ENTRY_BYTES + S.offset),
      'UK125',
      'rootfs',
      /overlaps/,
    ],
    [
      'a misaligned section',
      (b) => b.writeBigUInt64LE(BigInt(rootfsAt + 512), H.sectionTable + SECTION_ENTRY_BYTES + S.offset),
      'UK125',
      'rootfs',
      /not a multiple of 4096/,
    ],
    [
      'sections out of order',
      (b) => b.writeUInt32LE(3, H.sectionTable + S.kind),
      'UK125',
      'section table',
      /has kind 3, expected 1/,
    ],
    ['section_count 9', (b) => b.writeUInt32LE(9, H.sectionCount), 'UK125', 'section table', /section_count is 9/],
    [
      'rootfs entry_count over 65536',
      (b) => b.writeUInt32LE(65537, rootfsAt + R.entryCount),
      'UK122',
      'rootfs',
      /entry_count 65537 is over the limit/,
    ],
    [
      'rootfs index_bytes 4 GiB',
      (b) => b.writeUInt32LE(0xfffffe00, rootfsAt + R.indexBytes),
      'UK122',
      'rootfs',
      /index_bytes 4294966784 is over the kernel's limit of 16777216/,
    ],
    [
      'rootfs index_bytes not a multiple of 512',
      (b) => b.writeUInt32LE(1000, rootfsAt + R.indexBytes),
      'UK125',
      'rootfs',
      /index_bytes 1000 is not a multiple of 512/,
    ],
    [
      'a path length over 255',
      (b) => b.writeUInt16LE(0xffff, rootfsAt + ROOTFS_HEADER_BYTES + E.pathBytes),
      'UK125',
      'rootfs',
      /path out of bounds/,
    ],
    [
      'a file past the rootfs',
      (b) => b.writeBigUInt64LE(2n ** 62n, rootfsAt + ROOTFS_HEADER_BYTES + ROOTFS_ENTRY_BYTES + E.size),
      'UK125',
      'rootfs',
      /outside the rootfs/,
    ],
    [
      'a path with ..',
      (b) => b.write('../', rootfsAt + b.readUInt32LE(rootfsAt + ROOTFS_HEADER_BYTES), 'latin1'),
      'UK125',
      'rootfs',
      /"\.\." segment/,
    ],
    ['unknown flags', (b) => b.writeUInt32LE(6, H.flags), 'UK126', 'header', /unknown flags 0x6/],
    [
      'a UKFS version 1 rootfs',
      (b) => b.writeUInt32LE(1, rootfsAt + R.version),
      'UK126',
      'rootfs',
      /rootfs version 1 \(version 1 images, without block hashes, were packed by an older ukernel\); this ukernel reads version 2; repack it with this ukernel/,
    ],
    [
      'a newer format version',
      (b) => b.writeUInt32LE(2, H.formatVersion),
      'UK126',
      'header',
      /format version 2; this ukernel reads version 1/,
    ],
    [
      'an entry that is not in the rootfs',
      (b) => b.write('bin/nope', H.entry, 'latin1'),
      'UK125',
      'rootfs',
      /entry bin\/nope is not a file/,
    ],
    [
      'a manifest that disagrees with the header',
      (b) => b.write('demx', H.name, 'latin1'),
      'UK125',
      'manifest',
      /manifest name "demo" differs from the header's "demx"/,
    ],
  ])('%s', (_what, edit, code, part, message) => {
    const err = refusal(edited(edit));
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(2);
    expect(err.part).toBe(part);
    expect(err.message).toMatch(message);
  });

  it('checks ABI compatibility: same major, minor not newer than this ukernel', () => {
    expect(verify(good, [0, 2, 0]).abi).toBe('0.1.0');
    expect(refusal(good, [0, 0, 9]).message).toMatch(/built for ABI 0\.1\.0; this ukernel provides ABI 0\.0\.9/);
    expect(refusal(good, [1, 1, 0]).code).toBe('UK126');
  });

  const dir = mkdtempSync(join(tmpdir(), 'uk-image-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('readImageFile: missing file, directory, and a file over 1 GiB refused before reading', () => {
    expect(() => readImageFile(join(dir, 'none.img'), 'none.img', TEST_ABI)).toThrow(expect.objectContaining({ code: 'UK123' }));
    expect(() => readImageFile(dir, 'dir', TEST_ABI)).toThrow(expect.objectContaining({ code: 'UK124' }));
    const huge = join(dir, 'huge.img');
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, IMAGE_BYTES_MAX + 1); // sparse: costs no disk
    closeSync(fd);
    expect(() => readImageFile(huge, 'huge.img', TEST_ABI)).toThrow(
      expect.objectContaining({ code: 'UK122', message: expect.stringMatching(/over the 1073741824-byte \(1 GiB\) limit/) }),
    );
    writeFileSync(join(dir, 'good.img'), good);
    expect(readImageFile(join(dir, 'good.img'), 'good.img', TEST_ABI).headerSha256).toBe(info.headerSha256);
  });
});

describe('writer limits', () => {
  it('refuses an image over 1 GiB before allocating it', () => {
    const kernel = Buffer.alloc(16);
    const big = { length: IMAGE_BYTES_MAX } as unknown as Buffer; // only the length is read before the check
    expect(() =>
      writeImage({
        kernel,
        files: [{ path: 'bin/main', kind: 'file', mode: 0o755, data: big }],
        manifest: Buffer.from('{}\n'),
        abi: TEST_ABI,
        readonly: false,
        adapter: 'native',
        entry: 'bin/main',
        name: 'x',
      }),
    ).toThrow(expect.objectContaining({ code: 'UK122' }));
  });

  it('refuses bad paths, duplicates and a missing entry', () => {
    const base = {
      kernel: Buffer.alloc(16),
      manifest: Buffer.from('{}\n'),
      abi: TEST_ABI,
      readonly: false,
      adapter: 'native',
      entry: 'bin/main',
      name: 'x',
    };
    const file = (path: string) => ({ path, kind: 'file' as const, mode: 0o644, data: Buffer.from('x') });
    expect(() => writeImage({ ...base, files: [file('../etc')] })).toThrow(/"\.\." segment/);
    expect(() => writeImage({ ...base, files: [file('/abs')] })).toThrow(/is absolute/);
    expect(() => writeImage({ ...base, files: [file('a\\b')] })).toThrow(/backslash/);
    expect(() => writeImage({ ...base, files: [file('a'), file('a')] })).toThrow(/twice/);
    expect(() => writeImage({ ...base, files: [file('bin'), file('bin/main')] })).toThrow(/as a file and as a directory/);
    expect(() => writeImage({ ...base, files: [file('etc/x')] })).toThrow(/no file "bin\/main"/);
  });
});

describe('describeWorkloadElf', () => {
  it('accepts a static PIE and names what is wrong otherwise', () => {
    expect(describeWorkloadElf(tinyWorkloadElf())).toBeNull();
    expect(describeWorkloadElf(tinyWorkloadElf({ type: 2 }))).toMatch(/ELF type 2, not ET_DYN/);
    expect(describeWorkloadElf(tinyWorkloadElf({ entry: 0n }))).toMatch(/no entry point/);
    expect(describeWorkloadElf(tinyWorkloadElf({ interp: true }))).toMatch(/PT_INTERP/);
    expect(describeWorkloadElf(Buffer.from('#!/bin/sh\n'.repeat(10)))).toMatch(/bad magic/);
  });
});
