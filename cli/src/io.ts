// The two bounded file loops every reader and writer uses: read a range (fewer bytes only at
// the end of the file), write all of a buffer. No other module loops over readSync/writeSync.
import { readSync, writeSync } from 'node:fs';

/**
 * Reads `length` bytes at byte `position` of `fd` into a new buffer; shorter only when the file
 * ends first (one bounded pass: a file that grows meanwhile is not chased). Throws what readSync
 * throws (errno errors).
 */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buffer.subarray(0, got);
}

/**
 * Writes all of `bytes` to `fd`, at byte `position` when given, else at the file position.
 * Throws what writeSync throws (ENOSPC, EIO, …).
 */
export function writeAll(fd: number, bytes: Uint8Array, position?: number): void {
  let offset = 0;
  while (offset < bytes.length) {
    const at = position === undefined ? null : position + offset;
    offset += writeSync(fd, bytes, offset, bytes.length - offset, at);
  }
}

/**
 * Streams bytes [`from`, `to`) of `fd` to `each` in chunks of at most `chunkBytes` (each chunk a
 * fresh Buffer the callee may keep); stops early at the end of the file. Returns the offset
 * reached.
 */
export function readChunks(fd: number, from: number, to: number, chunkBytes: number, each: (chunk: Buffer) => void): number {
  const chunk = Buffer.alloc(chunkBytes);
  let offset = from;
  while (offset < to) {
    const n = readSync(fd, chunk, 0, Math.min(chunk.length, to - offset), offset);
    if (n === 0) break;
    each(Buffer.from(chunk.subarray(0, n)));
    offset += n;
  }
  return offset;
}
