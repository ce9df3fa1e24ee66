// Image reader with full verification (docs/image-format.md, "What is verified where"): magic,
// versions, sizes, section bounds/order/overlap, every hash (header, sections, rootfs index,
// each file's block-hash list and every block), zero padding, the entry, the manifest and ABI
// compatibility. Sections are hashed
// straight from the file in chunks, so a large image is never read into memory at once.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { IMAGE_BYTES_MAX, IMAGE_READ_CHUNK_BYTES, MANIFEST_BYTES_MAX, ROOTFS_INDEX_BYTES_MAX } from '../constants.js';
import { UkernelError, type ErrorName } from '../errors.js';
import { errnoCode, printable } from '../fsutil.js';
import { readAt } from '../io.js';
import {
  ALLOWED_MODES,
  E,
  ENTRY_KIND_DIRECTORY,
  ENTRY_KIND_FILE,
  FLAG_READONLY,
  formatAbiVersion,
  H,
  HEADER_BYTES,
  HEADER_RESERVED296_BYTES,
  HEADER_TEXT_BYTES,
  IMAGE_FORMAT_VERSION,
  IMAGE_MAGIC,
  R,
  ROOTFS_ALIGN_BYTES,
  ROOTFS_BLOCK_BYTES,
  ROOTFS_BLOCK_HASH_BYTES,
  ROOTFS_ENTRIES_MAX,
  ROOTFS_ENTRY_BYTES,
  ROOTFS_HEADER_BYTES,
  ROOTFS_MAGIC,
  ROOTFS_PATH_BYTES_MAX,
  ROOTFS_VERSION,
  alignUp,
  rootfsBlockCount,
  rootfsListBytes,
  rootfsListOffset,
  rootfsPathProblem,
  S,
  SECTION_ALIGN_BYTES,
  SECTION_ENTRY_BYTES,
  SECTION_KINDS,
  SECTION_ORDER,
  SECTIONS_MAX,
  type AbiVersion,
  type SectionName,
} from './format.js';

/** Which part of the image a check failed in; every image error names one. */
export type ImagePart = 'file' | 'header' | 'section table' | SectionName | 'padding';

const CORRUPT = 'the image is corrupt';
const TRUNCATED = 'the image is truncated';

export class ImageError extends UkernelError {
  constructor(
    name: Extract<ErrorName, 'ImageForeign' | 'ImageCorrupt' | 'ImageIncompatible' | 'ImageTooLarge' | 'ImageNotFound'>,
    readonly image: string,
    readonly part: ImagePart,
    what: string,
    consequence: string = CORRUPT,
  ) {
    super(name, `image ${image}: ${what}; ${consequence}`);
  }
}

/** Random access to the image bytes (a file descriptor or a buffer). */
export interface ImageSource {
  size: number;
  read(offset: number, length: number): Buffer;
}

export function bufferSource(bytes: Uint8Array): ImageSource {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { size: buffer.length, read: (offset, length) => buffer.subarray(offset, offset + length) };
}

function fdSource(fd: number, size: number): ImageSource {
  return {
    size,
    read: (offset, length) => readAt(fd, offset, length),
  };
}

export interface SectionInfo {
  name: SectionName;
  kind: number;
  offset: number;
  size: number;
  sha256: string;
}

export interface FileInfo {
  path: string;
  kind: 'file' | 'directory';
  mode: number;
  size: number;
  /** Offset of the file's bytes inside the rootfs section. */
  dataOffset: number;
  /** The entry's sha256: of the file's block-hash list (UKFS 2), null for a directory. */
  sha256: string | null;
}

export interface ImageInfo {
  image: string;
  imageBytes: number;
  formatVersion: number;
  abi: string;
  readonly: boolean;
  adapter: string;
  entry: string;
  name: string;
  headerSha256: string;
  rootfsIndexSha256: string;
  sections: SectionInfo[];
  files: FileInfo[];
  manifest: Record<string, unknown>;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const isZero = (bytes: Uint8Array): boolean => bytes.every((b) => b === 0);

/** Open, size-check and fully verify the image at `path`; `display` names it in errors. */
export function readImageFile(path: string, display: string, supportedAbi: AbiVersion): ImageInfo {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new ImageError('ImageNotFound', display, 'file', 'no such file', 'create it with `ukernel pack`');
    throw new ImageError('ImageNotFound', display, 'file', `cannot open (${code})`, 'check the path and its permissions');
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile())
      throw new ImageError('ImageForeign', display, 'file', 'is not a regular file', 'pass an image made by ukernel pack');
    if (stat.size > IMAGE_BYTES_MAX) {
      throw new ImageError(
        'ImageTooLarge',
        display,
        'file',
        `is ${stat.size} bytes, over the ${IMAGE_BYTES_MAX}-byte (1 GiB) limit`,
        'refusing to read it',
      );
    }
    return verifyImage(fdSource(fd, stat.size), display, supportedAbi);
  } finally {
    closeSync(fd);
  }
}

/** Every check of docs/image-format.md; throws an ImageError naming the failing part. */
export function verifyImage(source: ImageSource, image: string, supportedAbi: AbiVersion): ImageInfo {
  const fail: Fail = (part, what, consequence, name = 'ImageCorrupt') => {
    throw new ImageError(name, image, part, what, consequence);
  };
  const header = source.read(0, HEADER_BYTES);
  const { formatVersion, headerSha256 } = checkHeaderIntegrity(header, fail);
  // The header is now known to be what the writer wrote; the checks below catch writer bugs
  // and hand-crafted images.
  const fields = checkHeaderFields(header, fail);
  checkImageSize(source, header, fields.imageBytes, fail);
  const sections = checkSectionTable(header, fields.imageBytes, fail);
  checkAbi(fields.abi, supportedAbi, fail);
  const rootfsIndexSha256 = hex(header.subarray(H.rootfsIndexSha256, H.rootfsIndexSha256 + 32));
  let files: FileInfo[] = [];
  // The rootfs is checked inside (index, each file's list and blocks) before its section hash,
  // so damage to a file names the file and block rather than just the section.
  checkSectionContents(source, sections, fields.imageBytes, fail, (rootfs) => {
    files = checkRootfs(source, rootfs, rootfsIndexSha256, fail);
  });
  const entryFile = files.find((f) => f.path === fields.entry);
  if (entryFile === undefined || entryFile.kind !== 'file') fail('rootfs', `entry ${fields.entry} is not a file in the rootfs`);
  const { adapter, entry, name } = fields;
  const abi = formatAbiVersion(fields.abi);
  const manifest = checkManifest(source, sections.find((s) => s.name === 'manifest')!, { abi, adapter, entry, name }, fail);
  return {
    image,
    imageBytes: fields.imageBytes,
    formatVersion,
    abi,
    readonly: (fields.flags & FLAG_READONLY) !== 0,
    adapter,
    entry,
    name,
    headerSha256,
    rootfsIndexSha256,
    sections,
    files,
    manifest,
  };
}

/** Magic, format version, header size and the header's own sha256: is this a ukernel image at all? */
function checkHeaderIntegrity(header: Buffer, fail: Fail): { formatVersion: number; headerSha256: string } {
  const magic = header.subarray(0, IMAGE_MAGIC.length);
  if (!magic.equals(IMAGE_MAGIC.subarray(0, magic.length)) || header.length < IMAGE_MAGIC.length) {
    fail(
      'header',
      `header magic is "${printable(magic.toString('latin1'))}", not "UKIMAGE\\0"`,
      'it is not a ukernel image',
      'ImageForeign',
    );
  }
  if (header.length < HEADER_BYTES) fail('header', `header truncated: ${header.length} of ${HEADER_BYTES} bytes`, TRUNCATED);
  const formatVersion = header.readUInt32LE(H.formatVersion);
  if (formatVersion !== IMAGE_FORMAT_VERSION) {
    fail(
      'header',
      `format version ${formatVersion}; this ukernel reads version ${IMAGE_FORMAT_VERSION}`,
      'use the ukernel that made it, or rebuild it with ukernel pack',
      'ImageIncompatible',
    );
  }
  const headerBytes = header.readUInt32LE(H.headerBytes);
  if (headerBytes !== HEADER_BYTES) fail('header', `header_bytes is ${headerBytes}, not ${HEADER_BYTES}`);
  const expected = hex(header.subarray(H.headerSha256, H.headerSha256 + 32));
  const actual = createHash('sha256').update(header.subarray(0, H.headerSha256)).digest('hex');
  if (expected !== actual) fail('header', `header sha256 mismatch (expected ${expected}, got ${actual})`);
  return { formatVersion, headerSha256: expected };
}

interface HeaderFields {
  imageBytes: number;
  flags: number;
  adapter: string;
  entry: string;
  name: string;
  abi: AbiVersion;
}

/** Size limit, reserved bytes, flags and the text fields of an intact header. */
function checkHeaderFields(header: Buffer, fail: Fail): HeaderFields {
  const imageBytesBig = header.readBigUInt64LE(H.imageBytes);
  if (imageBytesBig > BigInt(IMAGE_BYTES_MAX)) {
    fail(
      'header',
      `image_bytes is ${imageBytesBig}, over the ${IMAGE_BYTES_MAX}-byte (1 GiB) limit`,
      'refusing it',
      'ImageTooLarge',
    );
  }
  if (
    header.readUInt16LE(H.reserved22) !== 0 ||
    !isZero(header.subarray(H.reserved296, H.reserved296 + HEADER_RESERVED296_BYTES))
  ) {
    fail('header', 'reserved header bytes are not zero');
  }
  const flags = header.readUInt32LE(H.flags);
  if ((flags & ~FLAG_READONLY) !== 0)
    fail('header', `unknown flags 0x${flags.toString(16)}`, 'use the ukernel that made it', 'ImageIncompatible');
  return {
    imageBytes: Number(imageBytesBig),
    flags,
    adapter: headerText(header, 'adapter', fail),
    entry: headerText(header, 'entry', fail),
    name: headerText(header, 'name', fail),
    abi: [header.readUInt16LE(H.abiMajor), header.readUInt16LE(H.abiMinor), header.readUInt16LE(H.abiPatch)],
  };
}

function headerText(header: Buffer, field: 'adapter' | 'entry' | 'name', fail: Fail): string {
  const bytes = header.subarray(H[field], H[field] + HEADER_TEXT_BYTES[field]);
  const end = bytes.indexOf(0);
  if (end <= 0 || !isZero(bytes.subarray(end)) || !/^[\x20-\x7e]*$/.test(bytes.subarray(0, end).toString('latin1'))) {
    fail('header', `${field} field is not NUL-padded printable ASCII`);
  }
  return bytes.subarray(0, end).toString('latin1');
}

/** The file is exactly as long as the header says (a cut names the section it falls in). */
function checkImageSize(source: ImageSource, header: Buffer, imageBytes: number, fail: Fail): void {
  if (source.size < imageBytes) {
    const cut = sectionTableFor(header).find((s) => s.offset + s.size > source.size);
    fail(
      cut?.name ?? 'padding',
      `file is ${source.size} bytes but the header says ${imageBytes}${cut !== undefined ? ` (cut inside the ${cut.name} section)` : ''}`,
      TRUNCATED,
    );
  }
  if (source.size > imageBytes) fail('file', `file is ${source.size} bytes but the header says ${imageBytes} (trailing data)`);
}

function checkAbi(abi: AbiVersion, supportedAbi: AbiVersion, fail: Fail): void {
  const [major, minor] = abi;
  if (major !== supportedAbi[0] || minor > supportedAbi[1]) {
    fail(
      'header',
      `built for ABI ${formatAbiVersion(abi)}; this ukernel provides ABI ${formatAbiVersion(supportedAbi)} (major must match, minor ≤ ${supportedAbi[1]})`,
      'rebuild it with this ukernel (ukernel build && ukernel pack)',
      'ImageIncompatible',
    );
  }
}

/** Every section's sha256, and zero padding between the sections and after the last. */
function checkSectionContents(
  source: ImageSource,
  sections: SectionInfo[],
  imageBytes: number,
  fail: Fail,
  checkRootfsInside: (rootfs: SectionInfo) => void,
): void {
  let previousEnd = HEADER_BYTES;
  for (const section of sections) {
    checkZero(source, previousEnd, section.offset, `padding before the ${section.name} section`, fail);
    let inside: unknown = null;
    if (section.name === 'rootfs') {
      try {
        checkRootfsInside(section);
      } catch (err) {
        inside = err;
      }
    }
    // A hash that names what it covers (the index, a file's block or list) is the clearest
    // report; a structural complaint about a section whose hash is wrong is just damage.
    if (inside instanceof ImageError && /sha256 mismatch/.test(inside.message)) throw inside;
    const actual = hashRange(source, section.offset, section.size);
    if (actual !== section.sha256)
      fail(section.name, `${section.name} section sha256 mismatch (expected ${section.sha256}, got ${actual})`);
    if (inside !== null) throw inside;
    previousEnd = section.offset + section.size;
  }
  checkZero(source, previousEnd, imageBytes, 'padding after the last section', fail);
}

type Fail = (
  part: ImagePart,
  what: string,
  consequence?: string,
  name?: 'ImageCorrupt' | 'ImageForeign' | 'ImageIncompatible' | 'ImageTooLarge',
) => never;

/** Section table entries as written (unchecked), for naming the section a truncation cuts. */
function sectionTableFor(header: Buffer): Array<{ name: ImagePart; offset: number; size: number }> {
  const count = Math.min(header.readUInt32LE(H.sectionCount), SECTIONS_MAX);
  const out: Array<{ name: ImagePart; offset: number; size: number }> = [];
  for (let index = 0; index < count; index++) {
    const at = H.sectionTable + index * SECTION_ENTRY_BYTES;
    const kind = header.readUInt32LE(at + S.kind);
    const name: ImagePart = SECTION_ORDER.find((n) => SECTION_KINDS[n] === kind) ?? 'section table';
    out.push({ name, offset: Number(header.readBigUInt64LE(at + S.offset)), size: Number(header.readBigUInt64LE(at + S.size)) });
  }
  return out;
}

function checkSectionTable(header: Buffer, imageBytes: number, fail: Fail): SectionInfo[] {
  const count = header.readUInt32LE(H.sectionCount);
  if (count < 1 || count > SECTIONS_MAX) fail('section table', `section_count is ${count}, not 1..${SECTIONS_MAX}`);
  if (count !== SECTION_ORDER.length)
    fail('section table', `has ${count} sections; version 1 has exactly ${SECTION_ORDER.length} (kernel, rootfs, manifest)`);
  const sections: SectionInfo[] = [];
  let previousEnd = BigInt(HEADER_BYTES);
  for (let index = 0; index < count; index++) {
    const at = H.sectionTable + index * SECTION_ENTRY_BYTES;
    const kind = header.readUInt32LE(at + S.kind);
    const expected = SECTION_ORDER[index]!;
    const label = `section ${index + 1} (${expected})`;
    if (kind !== SECTION_KINDS[expected])
      fail(
        'section table',
        `${label} has kind ${kind}, expected ${SECTION_KINDS[expected]}: sections must be kernel, rootfs, manifest, once each`,
      );
    if (header.readUInt32LE(at + S.flags) !== 0 || header.readBigUInt64LE(at + S.reserved) !== 0n)
      fail(expected, `${label} has non-zero flags or reserved bytes`);
    const offset = header.readBigUInt64LE(at + S.offset);
    const size = header.readBigUInt64LE(at + S.size);
    if (offset % BigInt(SECTION_ALIGN_BYTES) !== 0n || offset < BigInt(HEADER_BYTES))
      fail(expected, `${label} offset ${offset} is not a multiple of ${SECTION_ALIGN_BYTES} at or after the header`);
    if (offset < previousEnd)
      fail(expected, `${label} at ${offset} overlaps what comes before it (which ends at ${previousEnd})`);
    if (offset + size > BigInt(imageBytes))
      fail(expected, `${label} (offset ${offset}, ${size} bytes) extends past the end of the image (${imageBytes} bytes)`);
    sections.push({
      name: expected,
      kind,
      offset: Number(offset),
      size: Number(size),
      sha256: hex(header.subarray(at + S.sha256, at + S.sha256 + 32)),
    });
    previousEnd = offset + size;
  }
  const tableEnd = H.sectionTable + count * SECTION_ENTRY_BYTES;
  if (!isZero(header.subarray(tableEnd, H.headerSha256))) fail('section table', 'bytes after the section table are not zero');
  return sections;
}

function hashRange(source: ImageSource, offset: number, size: number): string {
  const hash = createHash('sha256');
  for (let done = 0; done < size; ) {
    const chunk = source.read(offset + done, Math.min(IMAGE_READ_CHUNK_BYTES, size - done));
    if (chunk.length === 0) break;
    hash.update(chunk);
    done += chunk.length;
  }
  return hash.digest('hex');
}

function checkZero(source: ImageSource, start: number, end: number, what: string, fail: Fail): void {
  for (let at = start; at < end; at += IMAGE_READ_CHUNK_BYTES) {
    if (!isZero(source.read(at, Math.min(IMAGE_READ_CHUNK_BYTES, end - at)))) fail('padding', `${what} is not zero`);
  }
}

function checkRootfs(source: ImageSource, section: SectionInfo, indexSha256: string, fail: Fail): FileInfo[] {
  const bad = (what: string): never => fail('rootfs', what);
  const { count, indexBytes } = checkRootfsHeader(source, section, fail);
  const index = source.read(section.offset, indexBytes);
  const actualIndexSha = createHash('sha256').update(index).digest('hex');
  if (actualIndexSha !== indexSha256) bad(`rootfs index sha256 mismatch (expected ${indexSha256}, got ${actualIndexSha})`);
  const files: FileInfo[] = [];
  let previousPath: Buffer | null = null;
  for (let i = 0; i < count; i++) {
    const { file, pathRaw } = checkRootfsEntry(index, { i, count, indexBytes, totalBytes: section.size, previousPath }, bad);
    previousPath = pathRaw;
    files.push(file);
  }
  checkRootfsData(source, section, indexBytes, files, bad);
  return files;
}

/** The rootfs header: magic, version, limits, and an index that fits the section. */
function checkRootfsHeader(source: ImageSource, section: SectionInfo, fail: Fail): { count: number; indexBytes: number } {
  const bad = (what: string): never => fail('rootfs', what);
  if (section.size < ROOTFS_HEADER_BYTES) bad(`rootfs section is ${section.size} bytes, smaller than its header`);
  const head = source.read(section.offset, ROOTFS_HEADER_BYTES);
  if (!head.subarray(0, 8).equals(ROOTFS_MAGIC)) bad('rootfs magic is not "UKROOTFS"');
  const version = head.readUInt32LE(R.version);
  if (version !== ROOTFS_VERSION) {
    const why = version === 1 ? ' (version 1 images, without block hashes, were packed by an older ukernel)' : '';
    fail(
      'rootfs',
      `rootfs version ${version}${why}; this ukernel reads version ${ROOTFS_VERSION}`,
      'repack it with this ukernel (ukernel build && ukernel pack)',
      'ImageIncompatible',
    );
  }
  const count = head.readUInt32LE(R.entryCount);
  const indexBytes = head.readUInt32LE(R.indexBytes);
  const totalBytes = head.readBigUInt64LE(R.totalBytes);
  if (count > ROOTFS_ENTRIES_MAX)
    fail('rootfs', `rootfs entry_count ${count} is over the limit of ${ROOTFS_ENTRIES_MAX}`, undefined, 'ImageTooLarge');
  if (head.readUInt32LE(R.reserved) !== 0) bad('rootfs reserved header bytes are not zero');
  if (indexBytes > ROOTFS_INDEX_BYTES_MAX)
    fail(
      'rootfs',
      `rootfs index_bytes ${indexBytes} is over the kernel's limit of ${ROOTFS_INDEX_BYTES_MAX}`,
      undefined,
      'ImageTooLarge',
    );
  if (indexBytes % ROOTFS_ALIGN_BYTES !== 0 || indexBytes < ROOTFS_HEADER_BYTES + count * ROOTFS_ENTRY_BYTES) {
    bad(`rootfs index_bytes ${indexBytes} is not a multiple of ${ROOTFS_ALIGN_BYTES} large enough for ${count} entries`);
  }
  if (indexBytes > section.size)
    bad(`rootfs index (${indexBytes} bytes) is larger than the rootfs section (${section.size} bytes)`);
  if (totalBytes !== BigInt(section.size)) bad(`rootfs total_bytes ${totalBytes} differs from the section size ${section.size}`);
  return { count, indexBytes };
}

interface EntryPlace {
  i: number;
  count: number;
  indexBytes: number;
  totalBytes: number;
  /** The path of entry i - 1 (paths are sorted bytewise, no duplicates). */
  previousPath: Buffer | null;
}

/** Index entry `i`: its path (bounds, shape, order), reserved bytes, mode, kind and data range. */
function checkRootfsEntry(index: Buffer, place: EntryPlace, bad: (what: string) => never): { file: FileInfo; pathRaw: Buffer } {
  const { i, count, indexBytes, totalBytes, previousPath } = place;
  const at = ROOTFS_HEADER_BYTES + i * ROOTFS_ENTRY_BYTES;
  const pathOffset = index.readUInt32LE(at + E.pathOffset);
  const pathBytes = index.readUInt16LE(at + E.pathBytes);
  if (
    pathBytes < 1 ||
    pathBytes > ROOTFS_PATH_BYTES_MAX ||
    pathOffset < ROOTFS_HEADER_BYTES + count * ROOTFS_ENTRY_BYTES ||
    pathOffset + pathBytes > indexBytes
  ) {
    bad(`rootfs entry ${i} has its path out of bounds (offset ${pathOffset}, ${pathBytes} bytes)`);
  }
  const pathRaw = index.subarray(pathOffset, pathOffset + pathBytes);
  const path = pathRaw.toString('latin1');
  const problem = rootfsPathProblem(path);
  if (problem !== null) bad(`rootfs entry ${i} path ${JSON.stringify(path)} ${problem}`);
  if (previousPath !== null && Buffer.compare(previousPath, pathRaw) >= 0)
    bad(`rootfs entries are not sorted bytewise without duplicates at ${JSON.stringify(path)}`);
  const kind = index.readUInt8(at + E.kind);
  const mode = index.readUInt32LE(at + E.mode);
  const dataOffset = index.readBigUInt64LE(at + E.dataOffset);
  const size = index.readBigUInt64LE(at + E.size);
  const sha = index.subarray(at + E.sha256, at + E.sha256 + 32);
  if (index.readUInt8(at + E.reserved7) !== 0 || index.readUInt32LE(at + E.reserved12) !== 0)
    bad(`rootfs entry ${path} has non-zero reserved bytes`);
  if (!(ALLOWED_MODES as readonly number[]).includes(mode))
    bad(`rootfs entry ${path} has mode 0o${mode.toString(8)}; allowed: 0o644, 0o755`);
  if (kind === ENTRY_KIND_DIRECTORY) {
    if (dataOffset !== 0n || size !== 0n || !isZero(sha) || mode !== 0o755)
      bad(`rootfs directory ${path} has data, a hash or a mode other than 0o755`);
    return { file: { path, kind: 'directory', mode, size: 0, dataOffset: 0, sha256: null }, pathRaw };
  }
  if (kind !== ENTRY_KIND_FILE) bad(`rootfs entry ${path} has unknown kind ${kind}`);
  // The data, then the block-hash list (UKFS 2), each padded to a sector, inside the rootfs.
  const end =
    size > BigInt(totalBytes)
      ? null
      : alignUp(rootfsListOffset(Number(dataOffset), Number(size)) + rootfsListBytes(Number(size)), ROOTFS_ALIGN_BYTES);
  if (
    dataOffset % BigInt(ROOTFS_ALIGN_BYTES) !== 0n ||
    dataOffset < BigInt(indexBytes) ||
    end === null ||
    dataOffset > BigInt(totalBytes) ||
    end > totalBytes
  ) {
    bad(
      `rootfs file ${path} data (offset ${dataOffset}, ${size} bytes, then its block-hash list) is misaligned or outside the rootfs`,
    );
  }
  return { file: { path, kind: 'file', mode, size: Number(size), dataOffset: Number(dataOffset), sha256: hex(sha) }, pathRaw };
}

function checkRootfsData(
  source: ImageSource,
  section: SectionInfo,
  indexBytes: number,
  files: FileInfo[],
  bad: (what: string) => never,
): void {
  const directories = new Set(files.filter((f) => f.kind === 'directory').map((f) => f.path));
  for (const file of files) {
    const parent = file.path.includes('/') ? file.path.slice(0, file.path.lastIndexOf('/')) : null;
    if (parent !== null && !directories.has(parent))
      bad(`rootfs entry ${file.path} has no directory entry for its parent ${parent}`);
  }
  const byOffset = files.filter((f) => f.kind === 'file').sort((a, b) => a.dataOffset - b.dataOffset);
  let previousEnd = indexBytes;
  for (const file of byOffset) {
    if (file.dataOffset < previousEnd) bad(`rootfs file ${file.path} overlaps the data before it`);
    checkFileBlocks(source, section.offset, file, bad);
    previousEnd = rootfsListOffset(file.dataOffset, file.size) + rootfsListBytes(file.size);
  }
}

/**
 * A file's block-hash list against the entry's sha256 (the root), then every block against its
 * hash in the list: what the kernel checks as it reads each block, done here for all of them.
 */
function checkFileBlocks(source: ImageSource, rootfsOffset: number, file: FileInfo, bad: (what: string) => never): void {
  const listOffset = rootfsOffset + rootfsListOffset(file.dataOffset, file.size);
  const list = source.read(listOffset, rootfsListBytes(file.size));
  const root = createHash('sha256').update(list).digest('hex');
  if (root !== file.sha256)
    bad(`rootfs file ${file.path} block-hash list sha256 mismatch (expected ${file.sha256}, got ${root})`);
  const blocks = rootfsBlockCount(file.size);
  for (let block = 0; block < blocks; block++) {
    const start = block * ROOTFS_BLOCK_BYTES;
    const bytes = Math.min(ROOTFS_BLOCK_BYTES, file.size - start);
    const actual = hashRange(source, rootfsOffset + file.dataOffset + start, bytes);
    const expected = hex(list.subarray(block * ROOTFS_BLOCK_HASH_BYTES, (block + 1) * ROOTFS_BLOCK_HASH_BYTES));
    if (actual !== expected)
      bad(
        `rootfs file ${file.path} block ${block} (bytes ${start}..${start + bytes}) sha256 mismatch (expected ${expected}, got ${actual})`,
      );
  }
}

function checkManifest(
  source: ImageSource,
  section: SectionInfo,
  header: { abi: string; adapter: string; entry: string; name: string },
  fail: Fail,
): Record<string, unknown> {
  if (section.size > MANIFEST_BYTES_MAX)
    fail('manifest', `manifest is ${section.size} bytes, over the ${MANIFEST_BYTES_MAX}-byte limit`, undefined, 'ImageTooLarge');
  let manifest: unknown;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(source.read(section.offset, section.size)));
  } catch (err) {
    fail('manifest', `manifest is not UTF-8 JSON (${(err as Error).message})`);
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest))
    fail('manifest', 'manifest is not a JSON object');
  const object = manifest as Record<string, unknown>;
  for (const key of ['abi', 'adapter', 'entry', 'name'] as const) {
    if (object[key] !== header[key])
      fail('manifest', `manifest ${key} ${JSON.stringify(object[key])} differs from the header's ${JSON.stringify(header[key])}`);
  }
  return object;
}
