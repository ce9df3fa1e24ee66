// Test fixtures (used by unit tests only): a minimal static-PIE ELF and a small image.
import { createHash } from 'node:crypto';
import { renderManifest } from './manifest.js';
import { H, S, SECTION_ENTRY_BYTES, type AbiVersion } from './format.js';
import { writeImage, type RootfsInput } from './writer.js';

/** ELF64 x86-64 ET_DYN with one PT_LOAD and an entry point: what describeWorkloadElf accepts. */
export function tinyWorkloadElf(options: { type?: number; entry?: bigint; interp?: boolean } = {}): Buffer {
  const elf = Buffer.alloc(64 + 56 * 2 + 16);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  elf.writeUInt16LE(options.type ?? 3, 16);
  elf.writeUInt16LE(0x3e, 18);
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(options.entry ?? 0x1000n, 24);
  elf.writeBigUInt64LE(64n, 32);
  elf.writeUInt16LE(64, 52);
  elf.writeUInt16LE(56, 54);
  elf.writeUInt16LE(2, 56);
  elf.writeUInt32LE(1, 64); // PT_LOAD
  elf.writeUInt32LE(options.interp === true ? 3 : 4, 64 + 56); // PT_INTERP or PT_NOTE
  return elf;
}

export const TEST_ABI: AbiVersion = [0, 1, 0];

export function testFiles(): RootfsInput[] {
  return [
    { path: 'etc/ukernel.env', kind: 'file', mode: 0o644, data: Buffer.from('A=1\n') },
    { path: 'bin/main', kind: 'file', mode: 0o755, data: tinyWorkloadElf() },
    { path: 'bin', kind: 'directory', mode: 0o755, data: Buffer.alloc(0) },
    { path: 'share/data/empty', kind: 'file', mode: 0o600, data: Buffer.alloc(0) },
  ];
}

/** The manifest of a test image named `name` (ABI 0.1.0, entry bin/main). */
export function testManifest(name: string, lock: unknown = null): Buffer {
  return renderManifest({
    abi: '0.1.0',
    adapter: 'native',
    build: { optimize: 'ReleaseSafe', zig: '0.15.2' },
    created: '1970-01-01T00:00:00Z',
    entry: 'bin/main',
    lock,
    name,
    ukernel: '0.1.0',
  });
}

export function testImage(overrides: { readonly?: boolean; kernel?: Buffer; lock?: unknown } = {}): Buffer {
  return writeImage({
    kernel: overrides.kernel ?? Buffer.from('\x7fELF fake kernel '.repeat(300)),
    files: testFiles(),
    manifest: testManifest('demo', overrides.lock ?? null),
    abi: TEST_ABI,
    readonly: overrides.readonly ?? false,
    adapter: 'native',
    entry: 'bin/main',
    name: 'demo',
  });
}

/** Recompute every section hash and the header hash after a test edited the image on purpose. */
export function reseal(image: Buffer, options: { index?: boolean } = {}): Buffer {
  const count = image.readUInt32LE(H.sectionCount);
  const rootfs = Number(image.readBigUInt64LE(H.sectionTable + SECTION_ENTRY_BYTES + S.offset));
  if (options.index !== false && rootfs + 32 <= image.length) {
    const indexBytes = image.readUInt32LE(rootfs + 16);
    if (rootfs + indexBytes <= image.length) {
      createHash('sha256')
        .update(image.subarray(rootfs, rootfs + indexBytes))
        .digest()
        .copy(image, H.rootfsIndexSha256);
    }
  }
  for (let index = 0; index < Math.min(count, 8); index++) {
    const at = H.sectionTable + index * SECTION_ENTRY_BYTES;
    const offset = Number(image.readBigUInt64LE(at + S.offset));
    const size = Number(image.readBigUInt64LE(at + S.size));
    if (offset + size <= image.length)
      createHash('sha256')
        .update(image.subarray(offset, offset + size))
        .digest()
        .copy(image, at + S.sha256);
  }
  createHash('sha256').update(image.subarray(0, H.headerSha256)).digest().copy(image, H.headerSha256);
  return image;
}
