// Image writer (docs/image-format.md): header, kernel, UKFS rootfs, manifest. Pure: bytes in,
// bytes out; the same inputs always give the same bytes.
import { createHash } from 'node:crypto';
import { IMAGE_BYTES_MAX, ROOTFS_INDEX_BYTES_MAX, WORKLOAD_FILE_BYTES_MAX } from '../constants.js';
import { UkernelError } from '../errors.js';
import { comparePaths } from '../build/bundle.js';
import {
  alignUp,
  ALLOWED_MODES,
  E,
  encodeTextField,
  ENTRY_KIND_DIRECTORY,
  ENTRY_KIND_FILE,
  FLAG_READONLY,
  H,
  HEADER_BYTES,
  HEADER_TEXT_BYTES,
  IMAGE_FORMAT_VERSION,
  IMAGE_MAGIC,
  R,
  ROOTFS_ALIGN_BYTES,
  ROOTFS_BLOCK_BYTES,
  ROOTFS_ENTRIES_MAX,
  ROOTFS_ENTRY_BYTES,
  ROOTFS_HEADER_BYTES,
  ROOTFS_MAGIC,
  ROOTFS_VERSION,
  rootfsListBytes,
  rootfsListOffset,
  rootfsPathProblem,
  S,
  SECTION_ALIGN_BYTES,
  SECTION_ENTRY_BYTES,
  SECTION_KINDS,
  SECTION_ORDER,
  type AbiVersion,
  type SectionName,
} from './format.js';

export interface RootfsInput {
  path: string;
  kind: 'file' | 'directory';
  mode: number;
  data: Uint8Array;
}

export interface ImageInput {
  kernel: Uint8Array;
  files: readonly RootfsInput[];
  manifest: Uint8Array;
  abi: AbiVersion;
  readonly: boolean;
  adapter: string;
  entry: string;
  name: string;
}

const sha256 = (data: Uint8Array): Buffer => createHash('sha256').update(data).digest();

function packError(message: string, hint?: string): UkernelError {
  return new UkernelError('BundleInvalid', message, hint === undefined ? {} : { hint });
}

/** Sorted, de-duplicated entries with every parent directory present and modes normalized. */
export function normalizeRootfs(files: readonly RootfsInput[]): RootfsInput[] {
  const byPath = new Map<string, RootfsInput>();
  for (const file of files) {
    const problem = rootfsPathProblem(file.path);
    if (problem !== null) throw packError(`bundle path "${file.path}" ${problem}`);
    if (byPath.has(file.path)) throw packError(`bundle has "${file.path}" twice`);
    const mode = file.kind === 'directory' || (file.mode & 0o111) !== 0 ? 0o755 : 0o644;
    byPath.set(file.path, { ...file, mode, data: file.kind === 'directory' ? new Uint8Array(0) : file.data });
  }
  for (const file of [...byPath.values()]) {
    const parts = file.path.split('/');
    for (let depth = 1; depth < parts.length; depth++) {
      const parent = parts.slice(0, depth).join('/');
      const existing = byPath.get(parent);
      if (existing === undefined) byPath.set(parent, { path: parent, kind: 'directory', mode: 0o755, data: new Uint8Array(0) });
      else if (existing.kind !== 'directory') throw packError(`bundle has "${parent}" as a file and as a directory`);
    }
  }
  if (byPath.size > ROOTFS_ENTRIES_MAX) throw packError(`bundle has ${byPath.size} entries; the limit is ${ROOTFS_ENTRIES_MAX}`);
  return [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
}

export interface RootfsLayout {
  entries: RootfsInput[];
  indexBytes: number;
  totalBytes: number;
  dataOffsets: number[];
}

export function layoutRootfs(files: readonly RootfsInput[]): RootfsLayout {
  const entries = normalizeRootfs(files);
  const pathBytes = entries.reduce((sum, e) => sum + Buffer.byteLength(e.path), 0);
  const indexBytes = alignUp(ROOTFS_HEADER_BYTES + entries.length * ROOTFS_ENTRY_BYTES + pathBytes, ROOTFS_ALIGN_BYTES);
  if (indexBytes > ROOTFS_INDEX_BYTES_MAX) {
    throw new UkernelError(
      'ImageTooLarge',
      `the rootfs index would be ${indexBytes} bytes; the kernel reads at most ${ROOTFS_INDEX_BYTES_MAX}`,
      {
        hint: 'Put fewer files (or shorter paths) in the bundle.',
      },
    );
  }
  let cursor = indexBytes;
  const dataOffsets = entries.map((entry) => {
    if (entry.kind === 'directory') return 0;
    const offset = cursor;
    const listOffset = rootfsListOffset(offset, entry.data.length);
    cursor = alignUp(listOffset + rootfsListBytes(entry.data.length), ROOTFS_ALIGN_BYTES);
    return offset;
  });
  return { entries, indexBytes, totalBytes: cursor, dataOffsets };
}

/**
 * A file's block-hash list (UKFS 2): the sha256 of each ROOTFS_BLOCK_BYTES block of `data`, the
 * last one shorter; empty for an empty file. The entry's sha256 is the sha256 of this list.
 */
export function rootfsBlockHashes(data: Uint8Array): Buffer {
  const count = Math.ceil(data.length / ROOTFS_BLOCK_BYTES);
  const list = Buffer.alloc(count * 32);
  for (let block = 0; block < count; block++) {
    const start = block * ROOTFS_BLOCK_BYTES;
    sha256(data.subarray(start, Math.min(start + ROOTFS_BLOCK_BYTES, data.length))).copy(list, block * 32);
  }
  return list;
}

/** The UKFS bytes and the sha256 of the index block. */
export function writeRootfs(layout: RootfsLayout): { bytes: Buffer; indexSha256: Buffer } {
  const { entries, indexBytes, totalBytes, dataOffsets } = layout;
  const out = Buffer.alloc(totalBytes);
  ROOTFS_MAGIC.copy(out, R.magic);
  out.writeUInt32LE(ROOTFS_VERSION, R.version);
  out.writeUInt32LE(entries.length, R.entryCount);
  out.writeUInt32LE(indexBytes, R.indexBytes);
  out.writeBigUInt64LE(BigInt(totalBytes), R.totalBytes);
  let pathCursor = ROOTFS_HEADER_BYTES + entries.length * ROOTFS_ENTRY_BYTES;
  entries.forEach((entry, index) => {
    const at = ROOTFS_HEADER_BYTES + index * ROOTFS_ENTRY_BYTES;
    const path = Buffer.from(entry.path, 'latin1');
    out.writeUInt32LE(pathCursor, at + E.pathOffset);
    out.writeUInt16LE(path.length, at + E.pathBytes);
    out.writeUInt8(entry.kind === 'file' ? ENTRY_KIND_FILE : ENTRY_KIND_DIRECTORY, at + E.kind);
    out.writeUInt32LE(entry.mode, at + E.mode);
    path.copy(out, pathCursor);
    pathCursor += path.length;
    if (entry.kind === 'file') {
      out.writeBigUInt64LE(BigInt(dataOffsets[index]!), at + E.dataOffset);
      out.writeBigUInt64LE(BigInt(entry.data.length), at + E.size);
      const list = rootfsBlockHashes(entry.data);
      sha256(list).copy(out, at + E.sha256);
      out.set(entry.data, dataOffsets[index]!);
      list.copy(out, rootfsListOffset(dataOffsets[index]!, entry.data.length));
    }
  });
  return { bytes: out, indexSha256: sha256(out.subarray(0, indexBytes)) };
}

/** The whole image. Throws ImageTooLarge before allocating anything over the limit. */
export function writeImage(input: ImageInput): Buffer {
  const layout = layoutRootfs(input.files);
  const sizes: Record<SectionName, number> = {
    kernel: input.kernel.length,
    rootfs: layout.totalBytes,
    manifest: input.manifest.length,
  };
  const offsets = {} as Record<SectionName, number>;
  let cursor = HEADER_BYTES;
  for (const name of SECTION_ORDER) {
    offsets[name] = cursor;
    cursor = alignUp(cursor + sizes[name], SECTION_ALIGN_BYTES);
  }
  const imageBytes = cursor; // The last section is padded too: the disk is whole 4 KiB blocks.
  if (imageBytes > IMAGE_BYTES_MAX) {
    throw new UkernelError('ImageTooLarge', `the image would be ${imageBytes} bytes; the limit is ${IMAGE_BYTES_MAX} (1 GiB)`);
  }
  const entryFile = layout.entries.find((e) => e.path === input.entry);
  if (entryFile === undefined || entryFile.kind !== 'file') throw packError(`bundle has no file "${input.entry}" (the entry)`);
  if (!ALLOWED_MODES.includes(entryFile.mode as 0o644 | 0o755)) throw packError(`bad mode for ${input.entry}`);
  if (entryFile.data.length > WORKLOAD_FILE_BYTES_MAX) {
    throw new UkernelError(
      'ImageTooLarge',
      `the workload ${input.entry} is ${entryFile.data.length} bytes; the kernel loads at most ${WORKLOAD_FILE_BYTES_MAX}`,
    );
  }

  const rootfs = writeRootfs(layout);
  const out = Buffer.alloc(imageBytes);
  out.set(input.kernel, offsets.kernel);
  rootfs.bytes.copy(out, offsets.rootfs);
  out.set(input.manifest, offsets.manifest);

  IMAGE_MAGIC.copy(out, H.magic);
  out.writeUInt32LE(IMAGE_FORMAT_VERSION, H.formatVersion);
  out.writeUInt32LE(HEADER_BYTES, H.headerBytes);
  out.writeUInt16LE(input.abi[0], H.abiMajor);
  out.writeUInt16LE(input.abi[1], H.abiMinor);
  out.writeUInt16LE(input.abi[2], H.abiPatch);
  out.writeUInt32LE(input.readonly ? FLAG_READONLY : 0, H.flags);
  out.writeUInt32LE(SECTION_ORDER.length, H.sectionCount);
  out.writeBigUInt64LE(BigInt(imageBytes), H.imageBytes);
  for (const field of ['adapter', 'entry', 'name'] as const) {
    const encoded = encodeTextField(input[field], HEADER_TEXT_BYTES[field]);
    if (encoded === null)
      throw packError(`${field} "${input[field]}" does not fit the image header (ASCII, < ${HEADER_TEXT_BYTES[field]} bytes)`);
    encoded.copy(out, H[field]);
  }
  rootfs.indexSha256.copy(out, H.rootfsIndexSha256);
  SECTION_ORDER.forEach((name, index) => {
    const at = H.sectionTable + index * SECTION_ENTRY_BYTES;
    out.writeUInt32LE(SECTION_KINDS[name], at + S.kind);
    out.writeBigUInt64LE(BigInt(offsets[name]), at + S.offset);
    out.writeBigUInt64LE(BigInt(sizes[name]), at + S.size);
    sha256(out.subarray(offsets[name], offsets[name] + sizes[name])).copy(out, at + S.sha256);
  });
  sha256(out.subarray(0, H.headerSha256)).copy(out, H.headerSha256);
  return out;
}
