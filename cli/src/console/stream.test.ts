import { describe, expect, it } from 'vitest';
import { ConsoleDecoder, type ConsoleEvent } from './stream.js';
import { mulberry32, randomBytes, randomRecordLike } from './fuzz-helpers.js';

function feed(chunks: Array<string | Uint8Array>, lineMaxBytes?: number): ConsoleEvent[] {
  const decoder = new ConsoleDecoder(lineMaxBytes === undefined ? {} : { lineMaxBytes });
  const events: ConsoleEvent[] = [];
  chunks.forEach((chunk, i) => {
    events.push(...decoder.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, BigInt(i + 1)));
  });
  events.push(...decoder.end());
  return events;
}

describe('ConsoleDecoder', () => {
  it('splits lines across chunks, hides records, stamps lines with their first chunk', () => {
    const events = feed([
      '@uk:boot v=1 proto=pvh clock=pit tsc_',
      'khz=1000 phase.ready=5\nhel',
      'lo\r\n@uk:exit v=1 status=3\n',
    ]);
    expect(events.map((e) => [e.type, e.atNs])).toEqual([
      ['record', 1n],
      ['text', 2n],
      ['record', 3n],
    ]);
    expect(events[1]).toMatchObject({ text: 'hello' });
    expect(events[2]).toMatchObject({ record: { kind: 'exit', status: 3 } });
  });

  it('shows malformed records and unterminated last lines as text', () => {
    const events = feed(['@uk:exit v=1 status=999\n', '@uk:exit v=1 status=1']);
    expect(events[0]).toMatchObject({ type: 'malformed', text: '@uk:exit v=1 status=999' });
    expect(events[1]).toMatchObject({ type: 'text', text: '@uk:exit v=1 status=1' });
  });

  it('dates an empty line by the chunk its newline came in', () => {
    const decoder = new ConsoleDecoder({ serial: false });
    expect(decoder.push(Buffer.from('a\n'), 5n)).toEqual([{ type: 'text', text: 'a', atNs: 5n }]);
    expect(decoder.push(Buffer.from('\n'), 9n)).toEqual([{ type: 'text', text: '', atNs: 9n }]);
  });

  it('drops unknown record kinds silently and keeps empty lines', () => {
    expect(feed(['@uk:later v=1 a=b\n\nx\n']).map((e) => e.type === 'text' && e.text)).toEqual(['', 'x']);
  });

  it('caps over-long lines with a marker and resumes at the next newline', () => {
    const events = feed(['a'.repeat(10), 'b'.repeat(10), 'c\nnext\n'], 8);
    expect(events).toEqual([
      { type: 'text', text: 'aaaaaaaa [line truncated at 8 bytes]', atNs: 1n },
      { type: 'text', text: 'next', atNs: 3n },
    ]);
    // Exactly the cap is not truncated, even when the newline comes in a later chunk.
    expect(feed(['12345678', '\n'], 8)).toEqual([{ type: 'text', text: '12345678', atNs: 1n }]);
  });

  it('records the arrival of the first byte', () => {
    const decoder = new ConsoleDecoder();
    decoder.push(Buffer.alloc(0), 1n);
    expect(decoder.firstByteNs).toBeNull();
    decoder.push(Buffer.from('x'), 2n);
    decoder.push(Buffer.from('y'), 3n);
    expect(decoder.firstByteNs).toBe(2n);
  });

  it('survives random streams in random chunkings (fuzz)', () => {
    const rand = mulberry32(99);
    for (let i = 0; i < 300; i++) {
      const parts: Uint8Array[] = [];
      for (let n = Math.floor(rand() * 20); n > 0; n--) {
        parts.push(
          rand() < 0.5 ? Buffer.from(`${randomRecordLike(rand)}\n`, 'latin1') : randomBytes(rand, Math.floor(rand() * 300)),
        );
      }
      const stream = Buffer.concat(parts);
      const chunks: Uint8Array[] = [];
      for (let at = 0; at < stream.length; ) {
        const size = 1 + Math.floor(rand() * 700);
        chunks.push(stream.subarray(at, at + size));
        at += size;
      }
      for (const event of feed(chunks, 256)) {
        if (event.type === 'record' && event.record.kind === 'exit') {
          expect(event.record.status).toBeGreaterThanOrEqual(0);
          expect(event.record.status).toBeLessThanOrEqual(255);
        }
        if (event.type !== 'record') {
          expect(event.text).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/);
          expect(event.text.length).toBeLessThanOrEqual(256 * 4 + 40);
        }
      }
    }
  });
});
