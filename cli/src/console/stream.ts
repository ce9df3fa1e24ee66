// Turns the VMM's stdout byte stream into classified console lines.
// Bounded memory: a line is cut at CONSOLE_LINE_MAX_BYTES (the rest of it is only in
// the raw log), so a guest that never prints "\n" cannot grow our buffers.
import { CONSOLE_LINE_MAX_BYTES } from '../constants.js';
import { parseRecordLine, type UkRecord } from './records.js';
import { sanitizeLine } from './sanitize.js';

export type ConsoleEvent =
  | { type: 'text'; text: string; atNs: bigint }
  /** `text`: the record line, sanitised, when the decoder was made with `recordText`. */
  | { type: 'record'; record: UkRecord; atNs: bigint; text?: string }
  | { type: 'malformed'; text: string; reason: string; atNs: bigint };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const AT = 0x40;

export class ConsoleDecoder {
  private readonly lineMaxBytes: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Arrival time of the first byte of the pending line. */
  private pendingAtNs: bigint | null = null;
  /** True while dropping the tail of an over-long line (until its "\n"). */
  private discarding = false;
  private firstByteAtNs: bigint | null = null;
  private readonly recordText: boolean;
  private readonly serial: boolean;

  /**
   * `recordText`: keep each record's line (for `logs --raw`); records of unknown kinds then come
   * out as text. `serial` (default true): the serial console, where `@uk:` lines are kernel
   * records and the kernel escapes workload lines starting with `@` by doubling it (removed
   * here); false for the workload's own output from the events device, which is only text.
   */
  constructor(options: { lineMaxBytes?: number; recordText?: boolean; serial?: boolean } = {}) {
    this.lineMaxBytes = options.lineMaxBytes ?? CONSOLE_LINE_MAX_BYTES;
    this.recordText = options.recordText ?? false;
    this.serial = options.serial ?? true;
  }

  /** Host time when the first console byte arrived, or null. */
  get firstByteNs(): bigint | null {
    return this.firstByteAtNs;
  }

  push(chunk: Uint8Array, atNs: bigint): ConsoleEvent[] {
    const events: ConsoleEvent[] = [];
    if (chunk.length > 0 && this.firstByteAtNs === null) this.firstByteAtNs = atNs;
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline < 0 ? chunk.length : newline;
      if (this.discarding) {
        if (newline >= 0) this.discarding = false;
      } else {
        this.append(chunk.subarray(start, end), atNs, events);
        if (newline >= 0) {
          this.pendingAtNs ??= atNs; // an empty line comes when its "\n" does
          if (this.discarding)
            this.discarding = false; // the over-long line ends here
          else this.emit(false, events);
        }
      }
      start = newline < 0 ? chunk.length : newline + 1;
    }
    return events;
  }

  /** End of stream: a final line without "\n" is shown as text, never parsed as a record. */
  end(): ConsoleEvent[] {
    const events: ConsoleEvent[] = [];
    if (this.pendingBytes > 0) {
      const atNs = this.pendingAtNs ?? 0n;
      events.push({ type: 'text', text: sanitizeLine(this.take()), atNs });
    }
    this.discarding = false;
    return events;
  }

  private append(part: Uint8Array, atNs: bigint, events: ConsoleEvent[]): void {
    let rest = part;
    while (rest.length > 0) {
      if (this.pendingBytes >= this.lineMaxBytes) {
        // Over-long: emit what we have with a marker, drop the rest until "\n".
        this.emit(true, events);
        this.discarding = true;
        return;
      }
      if (this.pendingAtNs === null) this.pendingAtNs = atNs;
      const piece = rest.subarray(0, this.lineMaxBytes - this.pendingBytes);
      this.pending.push(Buffer.from(piece));
      this.pendingBytes += piece.length;
      rest = rest.subarray(piece.length);
    }
  }

  private take(): Buffer {
    const line = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingAtNs = null;
    return line;
  }

  private emit(truncated: boolean, events: ConsoleEvent[]): void {
    const atNs = this.pendingAtNs ?? 0n;
    let line = this.take();
    if (truncated) {
      events.push({ type: 'text', text: `${sanitizeLine(line)} [line truncated at ${this.lineMaxBytes} bytes]`, atNs });
      return;
    }
    if (line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN) line = line.subarray(0, line.length - 1);
    if (!this.serial) {
      events.push({ type: 'text', text: sanitizeLine(line), atNs });
      return;
    }
    if (line.length >= 2 && line[0] === AT && line[1] === AT) {
      events.push({ type: 'text', text: sanitizeLine(line.subarray(1)), atNs }); // escaped workload line
      return;
    }
    const parsed = parseRecordLine(line);
    switch (parsed.type) {
      case 'record':
        events.push(
          this.recordText
            ? { type: 'record', record: parsed.record, atNs, text: sanitizeLine(line) }
            : { type: 'record', record: parsed.record, atNs },
        );
        return;
      case 'ignored':
        if (this.recordText) events.push({ type: 'text', text: sanitizeLine(line), atNs });
        return;
      case 'malformed':
        events.push({ type: 'malformed', text: sanitizeLine(line), reason: parsed.reason, atNs });
        return;
      case 'text':
        events.push({ type: 'text', text: sanitizeLine(line), atNs });
        return;
    }
  }
}
