// Test fixtures (unit tests only): an encoder for the events device format, the mirror of
// events.ts, written from docs/observability.md so the two can be checked against each other.
import { EVENTS_SECTOR_BYTES } from '../constants.js';
import { crc32 } from './crc32.js';
import { encodeEventsHeader } from './device.js';
import { BLOCK_FLAG_FINAL, BLOCK_HEADER_BYTES, BLOCK_MAGIC, BLOCK_VERSION, RECORD_HEADER_BYTES, RECORD_KIND } from './events.js';

export type RecordSpec =
  | {
      kind: 'log';
      task?: number;
      tNs: number | bigint;
      level?: number;
      message: string | Uint8Array;
      fields?: Array<[string | Uint8Array, string | Uint8Array]>;
    }
  | { kind: 'begin'; task?: number; tNs: number | bigint; span: bigint; parent?: bigint; name: string | Uint8Array }
  | { kind: 'end'; task?: number; tNs: number | bigint; span: bigint }
  | { kind: 'event'; task?: number; tNs: number | bigint; value: bigint; name: string | Uint8Array }
  | { kind: 'output' | 'kernel'; task?: number; tNs: number | bigint; text: string | Uint8Array }
  | { kind: 'raw'; bytes: Uint8Array };

const bytesOf = (text: string | Uint8Array): Buffer => (typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text));

export function encodeRecord(spec: RecordSpec): Buffer {
  if (spec.kind === 'raw') return Buffer.from(spec.bytes);
  let body: Buffer;
  let level = 0;
  switch (spec.kind) {
    case 'log': {
      level = spec.level ?? 1;
      const message = bytesOf(spec.message);
      const head = Buffer.alloc(8);
      head.writeUInt32LE(message.length, 0);
      head[4] = spec.fields?.length ?? 0;
      const parts = [head, message];
      for (const [k, v] of spec.fields ?? []) {
        const key = bytesOf(k);
        const value = bytesOf(v);
        const fieldHead = Buffer.alloc(4);
        fieldHead[0] = key.length;
        fieldHead.writeUInt16LE(value.length, 2);
        parts.push(fieldHead, key, value);
      }
      body = Buffer.concat(parts);
      break;
    }
    case 'begin': {
      const name = bytesOf(spec.name);
      body = Buffer.alloc(24 + name.length);
      body.writeBigUInt64LE(spec.span, 0);
      body.writeBigUInt64LE(spec.parent ?? 0n, 8);
      body[16] = name.length;
      name.copy(body, 24);
      break;
    }
    case 'end':
      body = Buffer.alloc(8);
      body.writeBigUInt64LE(spec.span, 0);
      break;
    case 'output':
    case 'kernel': {
      const text = bytesOf(spec.text);
      body = Buffer.alloc(8 + text.length);
      body.writeUInt32LE(text.length, 0);
      text.copy(body, 8);
      break;
    }
    case 'event': {
      const name = bytesOf(spec.name);
      body = Buffer.alloc(16 + name.length);
      body.writeBigUInt64LE(spec.value, 0);
      body[8] = name.length;
      name.copy(body, 16);
      break;
    }
  }
  const head = Buffer.alloc(RECORD_HEADER_BYTES);
  head.writeUInt32LE(RECORD_HEADER_BYTES + body.length, 0);
  head[4] = RECORD_KIND[spec.kind];
  head[5] = level;
  head.writeUInt32LE(spec.task ?? 0, 8);
  head.writeBigUInt64LE(BigInt(spec.tNs), 12);
  return Buffer.concat([head, body]);
}

export interface BlockSpec {
  records: RecordSpec[];
  sequence?: number;
  final?: boolean;
  dropped?: number;
  version?: number;
  /** Corrupt the CRC. */
  badCrc?: boolean;
  /** Guest ns when the block left (0: not stamped). */
  flushNs?: number;
}

/** One block, padded to the sector size. */
export function encodeBlock(spec: BlockSpec, sequence: number): Buffer {
  const payload = Buffer.concat(spec.records.map(encodeRecord));
  const head = Buffer.alloc(BLOCK_HEADER_BYTES);
  head.write(BLOCK_MAGIC, 0, 'latin1');
  head.writeUInt16LE(spec.version ?? BLOCK_VERSION, 4);
  head.writeUInt16LE(spec.final === true ? BLOCK_FLAG_FINAL : 0, 6);
  head.writeUInt32LE(spec.sequence ?? sequence, 8);
  head.writeUInt32LE(payload.length, 12);
  head.writeUInt32LE(spec.dropped ?? 0, 16);
  head.writeUInt32LE((crc32(payload) ^ (spec.badCrc === true ? 1 : 0)) >>> 0, 20);
  head.writeBigUInt64LE(BigInt(spec.flushNs ?? 0), 24);
  const used = BLOCK_HEADER_BYTES + payload.length;
  const padded = Buffer.alloc(Math.ceil(used / EVENTS_SECTOR_BYTES) * EVENTS_SECTOR_BYTES);
  head.copy(padded, 0);
  payload.copy(padded, BLOCK_HEADER_BYTES);
  return padded;
}

/** A whole events file: header, blocks, zeros up to `capacityBytes` (default: just enough + one sector). */
export function encodeEventsFile(blocks: BlockSpec[], capacityBytes?: number): Buffer {
  const encoded = blocks.map((b, i) => encodeBlock(b, i));
  const used = EVENTS_SECTOR_BYTES + encoded.reduce((n, b) => n + b.length, 0);
  const capacity = capacityBytes ?? used + EVENTS_SECTOR_BYTES;
  const file = Buffer.alloc(Math.max(capacity, used));
  encodeEventsHeader(capacity).copy(file, 0);
  let offset = EVENTS_SECTOR_BYTES;
  for (const block of encoded) {
    block.copy(file, offset);
    offset += block.length;
  }
  return file;
}
