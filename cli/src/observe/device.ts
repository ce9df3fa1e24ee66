// The events device (docs/observability.md): the file the CLI creates for each run and attaches
// as a second virtio-blk disk. Only the sector-0 header is written by the host; the guest appends
// blocks after it. Kept apart from the decoder so `ukernel run` loads only this.
import { closeSync, ftruncateSync, openSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { EVENTS_SECTOR_BYTES } from '../constants.js';
import { fileError } from '../errors.js';
import { makeDirectory, removeQuietly, tempPathFor } from '../fsutil.js';
import { EVENTS_DEVICE_HEADER_OFFSET, EVENTS_DEVICE_MAGIC, EVENTS_DEVICE_VERSION } from '../abi/contracts.js';
import { writeAll } from '../io.js';

// Shared with the kernel: generated from abi/contracts.json.
export const EVENTS_MAGIC = EVENTS_DEVICE_MAGIC;
export const EVENTS_VERSION = EVENTS_DEVICE_VERSION;

/** Sector 0: magic, version, sector_bytes, capacity_bytes, zeros. */
export function encodeEventsHeader(capacityBytes: number): Buffer {
  const at = EVENTS_DEVICE_HEADER_OFFSET;
  const header = Buffer.alloc(EVENTS_SECTOR_BYTES);
  header.write(EVENTS_MAGIC, at.magic, 'latin1');
  header.writeUInt32LE(EVENTS_VERSION, at.version);
  header.writeUInt32LE(EVENTS_SECTOR_BYTES, at.sectorBytes);
  header.writeBigUInt64LE(BigInt(capacityBytes), at.capacityBytes);
  return header;
}

/**
 * Create `path` as an empty events device: the header, then zeros (a hole) up to
 * `capacityBytes`. Written under a temporary name and renamed, like every other output.
 */
export function createEventsFile(path: string, capacityBytes: number, display: string = path): void {
  if (
    !Number.isSafeInteger(capacityBytes) ||
    capacityBytes < 2 * EVENTS_SECTOR_BYTES ||
    capacityBytes % EVENTS_SECTOR_BYTES !== 0
  ) {
    throw new RangeError(
      `events capacity must be a multiple of ${EVENTS_SECTOR_BYTES} of at least two sectors, got ${capacityBytes}`,
    );
  }
  const temp = tempPathFor(path);
  makeDirectory(dirname(path), dirname(display));
  try {
    const fd = openSync(temp, 'w', 0o644);
    try {
      writeAll(fd, encodeEventsHeader(capacityBytes), 0);
      ftruncateSync(fd, capacityBytes);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (err) {
    removeQuietly(temp);
    throw fileError(err, { op: 'create', display: `events file ${display}` });
  }
}
