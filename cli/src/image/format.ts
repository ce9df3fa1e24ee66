// Image format version 1 (docs/image-format.md): offsets, sizes and field rules, shared by
// the writer and the reader. All integers little-endian.

export const IMAGE_MAGIC = Buffer.from('UKIMAGE\0', 'latin1');
export const IMAGE_FORMAT_VERSION = 1;
export const HEADER_BYTES = 4096;
export const SECTION_ALIGN_BYTES = 4096;
export const SECTIONS_MAX = 8;
export const FLAG_READONLY = 1;

/** Header field offsets. */
export const H = {
  magic: 0,
  formatVersion: 8,
  headerBytes: 12,
  abiMajor: 16,
  abiMinor: 18,
  abiPatch: 20,
  reserved22: 22,
  flags: 24,
  sectionCount: 28,
  imageBytes: 32,
  adapter: 40,
  entry: 72,
  name: 200,
  rootfsIndexSha256: 264,
  reserved296: 296,
  sectionTable: 512,
  headerSha256: 4064,
} as const;

export const HEADER_TEXT_BYTES = { adapter: 32, entry: 128, name: 64 } as const;
export const HEADER_RESERVED296_BYTES = 216;

export const SECTION_ENTRY_BYTES = 64;
/** Section table entry field offsets. */
export const S = { kind: 0, flags: 4, offset: 8, size: 16, reserved: 24, sha256: 32 } as const;

export const SECTION_KINDS = { kernel: 1, rootfs: 2, manifest: 3 } as const;
export type SectionName = keyof typeof SECTION_KINDS;
/** The order sections must appear in (each exactly once). */
export const SECTION_ORDER: readonly SectionName[] = ['kernel', 'rootfs', 'manifest'];

export const ROOTFS_MAGIC = Buffer.from('UKROOTFS', 'latin1');
export const ROOTFS_VERSION = 1;
export const ROOTFS_HEADER_BYTES = 32;
export const ROOTFS_ENTRY_BYTES = 64;
export const ROOTFS_ALIGN_BYTES = 512;
export const ROOTFS_ENTRIES_MAX = 65536;
export const ROOTFS_PATH_BYTES_MAX = 255;
/** Rootfs header field offsets. */
export const R = { magic: 0, version: 8, entryCount: 12, indexBytes: 16, reserved: 20, totalBytes: 24 } as const;
/** Rootfs entry field offsets. */
export const E = { pathOffset: 0, pathBytes: 4, kind: 6, reserved7: 7, mode: 8, reserved12: 12, dataOffset: 16, size: 24, sha256: 32 } as const;
export const ENTRY_KIND_FILE = 1;
export const ENTRY_KIND_DIRECTORY = 2;
export const ALLOWED_MODES = [0o644, 0o755] as const;

export function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
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
