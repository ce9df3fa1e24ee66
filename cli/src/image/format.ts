// Image format version 1 with UKFS version 2 (docs/image-format.md): offsets, sizes and field rules, shared by
// the writer and the reader. All integers little-endian.

import {
  IMAGE_FLAG_READONLY,
  IMAGE_FORMAT_VERSION,
  IMAGE_HEADER_BYTES,
  IMAGE_HEADER_FIELD_BYTES,
  IMAGE_HEADER_OFFSET,
  IMAGE_MAGIC as IMAGE_MAGIC_TEXT,
  IMAGE_ROOTFS_ALIGNMENT_BYTES,
  IMAGE_ROOTFS_BLOCK_BYTES,
  IMAGE_ROOTFS_ENTRY_BYTES,
  IMAGE_ROOTFS_ENTRY_KIND,
  IMAGE_ROOTFS_ENTRY_OFFSET,
  IMAGE_ROOTFS_HEADER_BYTES,
  IMAGE_ROOTFS_HEADER_OFFSET,
  IMAGE_ROOTFS_MAGIC,
  IMAGE_ROOTFS_VERSION,
  IMAGE_SECTION_ALIGNMENT_BYTES,
  IMAGE_SECTION_BYTES,
  IMAGE_SECTION_KIND,
  IMAGE_SECTION_OFFSET,
  IMAGE_SECTIONS_MAX,
  ROOTFS_ENTRIES_MAX,
  ROOTFS_PATH_BYTES_MAX,
} from '../abi/contracts.js';

// The layout is shared with the kernel's reader: generated from abi/contracts.json.
export const IMAGE_MAGIC = Buffer.from(IMAGE_MAGIC_TEXT, 'latin1');
export { IMAGE_FORMAT_VERSION, ROOTFS_ENTRIES_MAX, ROOTFS_PATH_BYTES_MAX };
export const HEADER_BYTES = IMAGE_HEADER_BYTES;
export const SECTION_ALIGN_BYTES = IMAGE_SECTION_ALIGNMENT_BYTES;
export const SECTIONS_MAX = IMAGE_SECTIONS_MAX;
export const FLAG_READONLY = IMAGE_FLAG_READONLY;

/** Header field offsets. */
export const H = IMAGE_HEADER_OFFSET;

export const HEADER_TEXT_BYTES = {
  adapter: IMAGE_HEADER_FIELD_BYTES.adapter,
  entry: IMAGE_HEADER_FIELD_BYTES.entry,
  name: IMAGE_HEADER_FIELD_BYTES.name,
} as const;
export const HEADER_RESERVED296_BYTES = IMAGE_HEADER_FIELD_BYTES.reserved296;

export const SECTION_ENTRY_BYTES = IMAGE_SECTION_BYTES;
/** Section table entry field offsets. */
export const S = IMAGE_SECTION_OFFSET;

export const SECTION_KINDS = IMAGE_SECTION_KIND;
export type SectionName = keyof typeof SECTION_KINDS;
/** The order sections must appear in (each exactly once). */
export const SECTION_ORDER: readonly SectionName[] = ['kernel', 'rootfs', 'manifest'];

export const ROOTFS_MAGIC = Buffer.from(IMAGE_ROOTFS_MAGIC, 'latin1');
export const ROOTFS_VERSION = IMAGE_ROOTFS_VERSION;
export const ROOTFS_HEADER_BYTES = IMAGE_ROOTFS_HEADER_BYTES;
export const ROOTFS_ENTRY_BYTES = IMAGE_ROOTFS_ENTRY_BYTES;
export const ROOTFS_ALIGN_BYTES = IMAGE_ROOTFS_ALIGNMENT_BYTES;
/** A file is hashed in blocks of this size (the last one shorter); see rootfsBlockHashes. */
export const ROOTFS_BLOCK_BYTES = IMAGE_ROOTFS_BLOCK_BYTES;
/** Bytes of one block hash (sha256) in a file's block-hash list. */
export const ROOTFS_BLOCK_HASH_BYTES = 32;
/** Rootfs header field offsets. */
export const R = IMAGE_ROOTFS_HEADER_OFFSET;
/** Rootfs entry field offsets. */
export const E = IMAGE_ROOTFS_ENTRY_OFFSET;
export const ENTRY_KIND_FILE = IMAGE_ROOTFS_ENTRY_KIND.file;
export const ENTRY_KIND_DIRECTORY = IMAGE_ROOTFS_ENTRY_KIND.directory;
export const ALLOWED_MODES = [0o644, 0o755] as const;

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

/** Blocks in a file of `size` bytes (0 for an empty file). */
export function rootfsBlockCount(size: number): number {
  return Math.ceil(size / ROOTFS_BLOCK_BYTES);
}

/** Where a file's block-hash list starts, relative to the rootfs: after its data, sector aligned. */
export function rootfsListOffset(dataOffset: number, size: number): number {
  return dataOffset + alignUp(size, ROOTFS_ALIGN_BYTES);
}

/** Bytes of a file's block-hash list (without its padding). */
export function rootfsListBytes(size: number): number {
  return rootfsBlockCount(size) * ROOTFS_BLOCK_HASH_BYTES;
}

export type AbiVersion = readonly [major: number, minor: number, patch: number];

/** "0.1.0" → [0, 1, 0]; null unless three decimal u16 parts. */
export function parseAbiVersion(text: string): AbiVersion | null {
  const match = /^([0-9]{1,5})\.([0-9]{1,5})\.([0-9]{1,5})$/.exec(text);
  if (match === null) return null;
  const parts = [Number(match[1]), Number(match[2]), Number(match[3])] as const;
  return parts.every((part) => part <= 0xffff) ? parts : null;
}

export function formatAbiVersion(version: AbiVersion): string {
  return version.join('.');
}

/**
 * Why `path` is not a valid rootfs path, or null: relative, no `.`/`..`/empty segments,
 * 1–255 bytes of 0x21–0x7e or space, no backslash.
 */
export function rootfsPathProblem(path: string): string | null {
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length === 0) return 'is empty';
  if (bytes.length > ROOTFS_PATH_BYTES_MAX) return `is longer than ${ROOTFS_PATH_BYTES_MAX} bytes`;
  for (const byte of bytes) {
    if (byte === 0x5c) return 'contains a backslash';
    if (byte !== 0x20 && (byte < 0x21 || byte > 0x7e)) return 'contains a byte outside printable ASCII';
  }
  if (path.startsWith('/')) return 'is absolute';
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') return 'has an empty, "." or ".." segment';
  }
  return null;
}

/** ASCII text field, NUL-padded to `bytes`; null if it does not fit or is not printable ASCII. */
export function encodeTextField(text: string, bytes: number): Buffer | null {
  const encoded = Buffer.from(text, 'latin1');
  if (encoded.length >= bytes || !/^[\x20-\x7e]*$/.test(text)) return null;
  const field = Buffer.alloc(bytes);
  encoded.copy(field);
  return field;
}
