// Decoder for the events device (docs/observability.md, version 1): blocks of log and trace
// records the guest appends after the host's header. Everything in the file is untrusted: every
// length is checked against what is left, unknown kinds are skipped by their length, damaged
// blocks are reported and skipped, text is sanitised (and long text cut) before anyone prints
// it, and counts are bounded. It never throws on file contents.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { readAt } from '../io.js';
import {
  EVENT_NAME_BYTES_MAX,
  EVENT_T_NS_MAX,
  EVENTS_CAPACITY_BYTES_MAX,
  EVENTS_ISSUES_LISTED_MAX,
  EVENTS_RECORDS_MAX,
  EVENTS_SECTOR_BYTES,
  LOG_FIELDS_MAX,
  LOG_MESSAGE_BYTES_MAX,
  LOG_TEXT_DISPLAY_BYTES_MAX,
  RECORD_LINE_MAX_BYTES,
} from '../constants.js';
import type { TraceRecord } from '../console/records.js';
import { sanitizeLine } from '../console/sanitize.js';
import { crc32 } from './crc32.js';
import { EVENTS_MAGIC, EVENTS_VERSION } from './device.js';
import {
  EVENTS_BLOCK_FLAG_FINAL,
  EVENTS_BLOCK_HEADER_BYTES,
  EVENTS_BLOCK_MAGIC,
  EVENTS_BLOCK_VERSION,
  EVENTS_RECORD_HEADER_BYTES,
  EVENTS_RECORD_KIND,
  EVENTS_TEXT_RECORD_BYTES,
} from '../abi/contracts.js';

// The layout is shared with the kernel's writer: generated from abi/contracts.json.
export const BLOCK_MAGIC = EVENTS_BLOCK_MAGIC;
export const BLOCK_VERSION = EVENTS_BLOCK_VERSION;
export const BLOCK_HEADER_BYTES = EVENTS_BLOCK_HEADER_BYTES;
export const BLOCK_FLAG_FINAL = EVENTS_BLOCK_FLAG_FINAL;
export const RECORD_HEADER_BYTES = EVENTS_RECORD_HEADER_BYTES;
/** The kinds by the names records carry here (the kernel's span_begin is `begin`, console `output`). */
export const RECORD_KIND = {
  log: EVENTS_RECORD_KIND.log,
  begin: EVENTS_RECORD_KIND.span_begin,
  end: EVENTS_RECORD_KIND.span_end,
  event: EVENTS_RECORD_KIND.event,
  output: EVENTS_RECORD_KIND.console,
  kernel: EVENTS_RECORD_KIND.kernel,
} as const;
/** Console and kernel records: `u32 text_bytes`, 4 bytes zero, then the text. */
export const TEXT_RECORD_HEADER_BYTES = EVENTS_TEXT_RECORD_BYTES;
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

interface RecordBase {
  /** The task id (u32). */
  task: number;
  /** Guest ns since kernel entry, 0 ..= EVENT_T_NS_MAX. */
  tNs: number;
}

/** Text fields are sanitised for terminals and cut to LOG_TEXT_DISPLAY_BYTES_MAX. */
export interface LogEvent extends RecordBase {
  kind: 'log';
  level: LogLevel;
  message: string;
  fields: Array<readonly [key: string, value: string]>;
}
export interface BeginEvent extends RecordBase {
  kind: 'begin';
  /** Never 0n. */
  span: bigint;
  /** 0n: no parent. */
  parent: bigint;
  name: string;
}
export interface EndEvent extends RecordBase {
  kind: 'end';
  span: bigint;
}
export interface InstantEvent extends RecordBase {
  kind: 'event';
  value: bigint;
  name: string;
}
/** Workload console output (`io.write` on the console): raw bytes, untrusted, not yet split
 *  into lines or sanitised (the console line decoder does both). */
export interface OutputEvent extends RecordBase {
  kind: 'output';
  bytes: Buffer;
}
/** A kernel `@uk:` record line (no newline), raw: parse it with parseRecordLine. Only the
 *  kernel writes the events device, so workload output cannot produce one. */
export interface KernelEvent extends RecordBase {
  kind: 'kernel';
  line: Buffer;
}
/** What a trace or log consumer reads: the workload's structured records. */
export type EventRecord = LogEvent | BeginEvent | EndEvent | InstantEvent;
/** Everything the events device carries. */
export type ChannelRecord = EventRecord | OutputEvent | KernelEvent;

/** Keeps the structured records (log, spans, events). */
export function structuredOnly(records: readonly ChannelRecord[]): EventRecord[] {
  return records.filter((r): r is EventRecord => r.kind !== 'output' && r.kind !== 'kernel');
}

/** Where the bytes come from: a file (read as it grows) or a buffer (tests). */
export interface EventSource {
  size(): number;
  /** Up to `length` bytes at `offset` (fewer at the end). */
  read(offset: number, length: number): Buffer;
}

export function bufferSource(bytes: Uint8Array): EventSource {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    size: () => buffer.length,
    read: (offset, length) => buffer.subarray(Math.min(offset, buffer.length), Math.min(offset + length, buffer.length)),
  };
}

export function fdSource(fd: number): EventSource {
  return {
    size: () => fstatSync(fd).size,
    read: (offset, length) => readAt(fd, offset, length),
  };
}

export interface EventsStats {
  blocks: number;
  damagedBlocks: number;
  sequenceGaps: number;
  /** Records whose lengths or values break the format (skipped). */
  invalidRecords: number;
  /** Records of a kind this CLI does not know (skipped, forward compatibility). */
  unknownRecords: number;
  /** Sum of the blocks' dropped_records: lost in the guest. */
  droppedRecords: number;
  /** Records decoded. */
  records: number;
  /** EVENTS_RECORDS_MAX was reached: the rest was not read. */
  recordLimitReached: boolean;
  /** The final block (written at exit) was seen. */
  final: boolean;
  /** Guest ns (since kernel entry) when the first block read left the guest, or null (no
   *  block yet, or a kernel that does not stamp blocks). */
  firstBlockFlushNs: number | null;
}

export type HeaderState = { ok: true; capacityBytes: number } | { ok: false; reason: string } | null;

/**
 * Incremental reader: `poll()` returns the records of blocks that became complete since the
 * last call. Before the run ends (`settled` false) a block whose CRC does not match is taken
 * as still being written and read again at the next poll; once the run is over (`settled`
 * true) it is reported as damaged and skipped.
 */
export class EventsReader {
  private offset = EVENTS_SECTOR_BYTES;
  private header: HeaderState = null;
  private expectedSequence = 0;
  private done = false;
  private issueList: string[] = [];
  private issueTotal = 0;
  readonly stats: EventsStats = {
    blocks: 0,
    damagedBlocks: 0,
    sequenceGaps: 0,
    invalidRecords: 0,
    unknownRecords: 0,
    droppedRecords: 0,
    records: 0,
    recordLimitReached: false,
    final: false,
    firstBlockFlushNs: null,
  };

  constructor(
    private readonly source: EventSource,
    private readonly recordsMax: number = EVENTS_RECORDS_MAX,
  ) {}

  /** Null until sector 0 could be read. */
  get headerState(): HeaderState {
    return this.header;
  }

  /** Problems found, described (at most EVENTS_ISSUES_LISTED_MAX, then a count). */
  get issues(): string[] {
    const more = this.issueTotal - this.issueList.length;
    return more > 0 ? [...this.issueList, `… and ${more} more`] : [...this.issueList];
  }

  poll(settled: boolean): ChannelRecord[] {
    const records: ChannelRecord[] = [];
    if (this.done) return records;
    if (this.header === null && !this.readHeader(settled)) return records;
    if (this.header === null || !this.header.ok) return records;
    const limit = Math.min(this.header.capacityBytes, EVENTS_CAPACITY_BYTES_MAX);
    while (!this.done) {
      if (this.offset + BLOCK_HEADER_BYTES > limit) {
        this.done = true; // the device is full
        break;
      }
      const head = this.source.read(this.offset, BLOCK_HEADER_BYTES);
      if (head.length < BLOCK_HEADER_BYTES || head.toString('latin1', 0, 4) !== BLOCK_MAGIC) break; // no more data (yet)
      const index = this.stats.blocks + this.stats.damagedBlocks;
      const version = head.readUInt16LE(4);
      const flags = head.readUInt16LE(6);
      const sequence = head.readUInt32LE(8);
      const payloadBytes = head.readUInt32LE(12);
      const dropped = head.readUInt32LE(16);
      const crc = head.readUInt32LE(20);
      if (payloadBytes > limit - this.offset - BLOCK_HEADER_BYTES) {
        if (!settled) break;
        this.issue(
          `block ${index} at byte ${this.offset}: payload of ${payloadBytes} bytes runs past the device end; the rest is unreadable`,
        );
        this.stats.damagedBlocks++;
        this.done = true;
        break;
      }
      const payload = this.source.read(this.offset + BLOCK_HEADER_BYTES, payloadBytes);
      if (payload.length < payloadBytes) {
        if (!settled) break;
        this.issue(`block ${index} at byte ${this.offset}: cut short (file ends inside its payload)`);
        this.stats.damagedBlocks++;
        this.done = true;
        break;
      }
      const next = alignUp(this.offset + BLOCK_HEADER_BYTES + payloadBytes, EVENTS_SECTOR_BYTES);
      if (crc32(payload) !== crc) {
        if (!settled) break; // probably still being written: read it again next time
        this.issue(`block ${index} (sequence ${sequence}) at byte ${this.offset}: CRC mismatch, skipped`);
        this.stats.damagedBlocks++;
        this.expectedSequence = (this.expectedSequence + 1) >>> 0; // it took a sequence number
        this.offset = next;
        continue;
      }
      if (version !== BLOCK_VERSION) {
        this.issue(`block ${index} (sequence ${sequence}): unsupported block version ${version}, skipped`);
        this.stats.damagedBlocks++;
        this.expectedSequence = (sequence + 1) >>> 0;
        this.offset = next;
        continue;
      }
      if (sequence !== this.expectedSequence) {
        this.stats.sequenceGaps++;
        this.issue(`block ${index}: sequence ${sequence} where ${this.expectedSequence} was expected`);
      }
      this.expectedSequence = (sequence + 1) >>> 0;
      if (this.stats.blocks === 0) {
        const flushNs = head.readBigUInt64LE(24);
        this.stats.firstBlockFlushNs = flushNs > 0n && flushNs <= BigInt(EVENT_T_NS_MAX) ? Number(flushNs) : null;
      }
      this.stats.blocks++;
      this.stats.droppedRecords += dropped;
      this.decodePayload(payload, index, records);
      this.offset = next;
      if ((flags & BLOCK_FLAG_FINAL) !== 0) {
        this.stats.final = true;
        this.done = true;
      }
      if (this.stats.recordLimitReached) this.done = true;
    }
    return records;
  }

  private readHeader(settled: boolean): boolean {
    const sector = this.source.read(0, EVENTS_SECTOR_BYTES);
    if (sector.length < EVENTS_SECTOR_BYTES) {
      if (!settled) return false;
      return this.badHeader(`shorter than its ${EVENTS_SECTOR_BYTES}-byte header`);
    }
    if (sector.toString('latin1', 0, 8) !== EVENTS_MAGIC) return this.badHeader(`no ${EVENTS_MAGIC} magic: not an events file`);
    const version = sector.readUInt32LE(8);
    if (version !== EVENTS_VERSION)
      return this.badHeader(`events format version ${version}, this ukernel reads ${EVENTS_VERSION}`);
    const sectorBytes = sector.readUInt32LE(12);
    if (sectorBytes !== EVENTS_SECTOR_BYTES) return this.badHeader(`sector size ${sectorBytes}, expected ${EVENTS_SECTOR_BYTES}`);
    const capacity = sector.readBigUInt64LE(16);
    if (capacity < BigInt(2 * EVENTS_SECTOR_BYTES) || capacity % BigInt(EVENTS_SECTOR_BYTES) !== 0n) {
      return this.badHeader(`capacity ${capacity} is not a multiple of ${EVENTS_SECTOR_BYTES} of at least two sectors`);
    }
    const capacityBytes = capacity > BigInt(EVENTS_CAPACITY_BYTES_MAX) ? EVENTS_CAPACITY_BYTES_MAX : Number(capacity);
    this.header = { ok: true, capacityBytes };
    return true;
  }

  private badHeader(reason: string): boolean {
    this.header = { ok: false, reason };
    this.done = true;
    return true;
  }

  private issue(message: string): void {
    this.issueTotal++;
    if (this.issueList.length < EVENTS_ISSUES_LISTED_MAX) this.issueList.push(message);
  }

  private decodePayload(payload: Buffer, block: number, out: ChannelRecord[]): void {
    let pos = 0;
    while (pos < payload.length) {
      if (this.stats.records >= this.recordsMax) {
        this.stats.recordLimitReached = true;
        this.issue(`more than ${this.recordsMax} records: the rest is not read`);
        return;
      }
      const left = payload.length - pos;
      if (left < RECORD_HEADER_BYTES) {
        this.stats.invalidRecords++;
        this.issue(`block ${block}: ${left} stray bytes at the end of the payload`);
        return;
      }
      const recordBytes = payload.readUInt32LE(pos);
      if (recordBytes < RECORD_HEADER_BYTES || recordBytes > left) {
        this.stats.invalidRecords++;
        this.issue(
          `block ${block}, byte ${pos}: record length ${recordBytes} outside ${RECORD_HEADER_BYTES}..${left}; rest of the block skipped`,
        );
        return;
      }
      const result = decodeRecord(payload.subarray(pos, pos + recordBytes));
      if (result === 'unknown') {
        this.stats.unknownRecords++;
      } else if ('invalid' in result) {
        this.stats.invalidRecords++;
        this.issue(`block ${block}, byte ${pos}: ${result.invalid}; record skipped`);
      } else {
        this.stats.records++;
        out.push(result);
      }
      pos += recordBytes;
    }
  }
}

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** One record (exactly `record_bytes` long): the record, 'unknown' (skip it), or why it is invalid. */
export function decodeRecord(bytes: Buffer): ChannelRecord | 'unknown' | { invalid: string } {
  const invalid = (reason: string) => ({ invalid: reason });
  const kind = bytes[4]!;
  const level = bytes[5]!;
  const task = bytes.readUInt32LE(8);
  const t = bytes.readBigUInt64LE(12);
  if (kind < RECORD_KIND.log || kind > RECORD_KIND.kernel) return 'unknown';
  if (t > BigInt(EVENT_T_NS_MAX)) return invalid(`t_ns ${t} out of range`);
  const tNs = Number(t);
  const body = bytes.subarray(RECORD_HEADER_BYTES);
  switch (kind) {
    case RECORD_KIND.output:
    case RECORD_KIND.kernel: {
      if (body.length < 8) return invalid('text record shorter than its header');
      const textBytes = body.readUInt32LE(0);
      if (textBytes !== body.length - 8) return invalid(`text of ${textBytes} bytes in a record with ${body.length - 8}`);
      const text = Buffer.from(body.subarray(8));
      if (kind === RECORD_KIND.output) return { kind: 'output', task, tNs, bytes: text };
      if (textBytes > RECORD_LINE_MAX_BYTES)
        return invalid(`kernel record of ${textBytes} bytes (limit ${RECORD_LINE_MAX_BYTES})`);
      return { kind: 'kernel', task, tNs, line: text };
    }
    case RECORD_KIND.log: {
      if (level >= LOG_LEVELS.length) return invalid(`log level ${level} unknown`);
      if (body.length < 8) return invalid('log record shorter than its header');
      const messageBytes = body.readUInt32LE(0);
      const fieldCount = body[4]!;
      if (messageBytes > LOG_MESSAGE_BYTES_MAX)
        return invalid(`message of ${messageBytes} bytes (limit ${LOG_MESSAGE_BYTES_MAX})`);
      if (fieldCount > LOG_FIELDS_MAX) return invalid(`${fieldCount} fields (limit ${LOG_FIELDS_MAX})`);
      let pos = 8;
      if (messageBytes > body.length - pos) return invalid('message runs past the record');
      const message = displayText(body.subarray(pos, pos + messageBytes));
      pos += messageBytes;
      const fields: Array<readonly [string, string]> = [];
      for (let i = 0; i < fieldCount; i++) {
        if (body.length - pos < 4) return invalid(`field ${i} runs past the record`);
        const keyBytes = body[pos]!;
        const valueBytes = body.readUInt16LE(pos + 2);
        pos += 4;
        if (keyBytes + valueBytes > body.length - pos) return invalid(`field ${i} runs past the record`);
        const key = displayText(body.subarray(pos, pos + keyBytes));
        const value = displayText(body.subarray(pos + keyBytes, pos + keyBytes + valueBytes));
        pos += keyBytes + valueBytes;
        fields.push([key, value]);
      }
      return { kind: 'log', task, tNs, level: LOG_LEVELS[level]!, message, fields };
    }
    case RECORD_KIND.begin: {
      if (body.length < 24) return invalid('span begin record too short');
      const span = body.readBigUInt64LE(0);
      const parent = body.readBigUInt64LE(8);
      if (span === 0n) return invalid('span id 0');
      const name = readName(body, 16, 24);
      if (typeof name !== 'string') return invalid(name.reason);
      if (name === '') return invalid('empty span name');
      return { kind: 'begin', task, tNs, span, parent, name };
    }
    case RECORD_KIND.end: {
      if (body.length < 8) return invalid('span end record too short');
      const span = body.readBigUInt64LE(0);
      if (span === 0n) return invalid('span id 0');
      return { kind: 'end', task, tNs, span };
    }
    default: {
      if (body.length < 16) return invalid('event record too short');
      const value = body.readBigUInt64LE(0);
      const name = readName(body, 8, 16);
      if (typeof name !== 'string') return invalid(name.reason);
      if (name === '') return invalid('empty event name');
      return { kind: 'event', task, tNs, value, name };
    }
  }
}

function readName(body: Buffer, lengthAt: number, nameAt: number): string | { reason: string } {
  const nameBytes = body[lengthAt]!;
  if (nameBytes > EVENT_NAME_BYTES_MAX) return { reason: `name of ${nameBytes} bytes (limit ${EVENT_NAME_BYTES_MAX})` };
  if (nameBytes > body.length - nameAt) return { reason: 'name runs past the record' };
  return sanitizeLine(body.subarray(nameAt, nameAt + nameBytes));
}

/** Guest text made safe to print: escapes for control bytes and bad UTF-8, long text cut. */
export function displayText(bytes: Uint8Array): string {
  if (bytes.length <= LOG_TEXT_DISPLAY_BYTES_MAX) return sanitizeLine(bytes);
  return `${sanitizeLine(bytes.subarray(0, LOG_TEXT_DISPLAY_BYTES_MAX))}… [${bytes.length - LOG_TEXT_DISPLAY_BYTES_MAX} more bytes cut]`;
}

/** A console `@uk:trace` record (docs/observability.md, no events device) as an event record. */
export function traceRecordToEvent(record: TraceRecord): BeginEvent | EndEvent | InstantEvent {
  const { task, tNs } = record;
  switch (record.event) {
    case 'begin':
      return { kind: 'begin', task, tNs, span: record.span, parent: record.parent, name: record.name };
    case 'end':
      return { kind: 'end', task, tNs, span: record.span };
    case 'event':
      return { kind: 'event', task, tNs, value: record.value, name: record.name };
  }
}

/** Decode a whole events file (or buffer) at once, as after a run. */
export function decodeEvents(source: EventSource, recordsMax?: number): { records: ChannelRecord[]; reader: EventsReader } {
  const reader = new EventsReader(source, recordsMax);
  return { records: reader.poll(true), reader };
}

/** Open an events file for reading; null when it does not exist (runs from before events). */
export function openEventsFile(path: string): { fd: number; source: EventSource; close(): void } | { error: string } | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? null : { error: code ?? String(err) };
  }
  try {
    if (!fstatSync(fd).isFile()) {
      closeSync(fd);
      return { error: 'not a regular file' };
    }
  } catch (err) {
    closeSync(fd);
    return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  return { fd, source: fdSource(fd), close: () => closeSync(fd) };
}
