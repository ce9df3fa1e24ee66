// The events device: the file the CLI creates, and the decoder of what the guest appends
// (docs/observability.md), checked against an encoder written from the same document, then
// fuzzed with random and mutated files.
import {
  appendFileSync,
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  EVENT_NAME_BYTES_MAX,
  EVENT_T_NS_MAX,
  EVENTS_CAPACITY_BYTES,
  LOG_FIELDS_MAX,
  LOG_TEXT_DISPLAY_BYTES_MAX,
} from '../constants.js';
import { mulberry32, randomBytes } from '../console/fuzz-helpers.js';
import { crc32, crc32Table } from './crc32.js';
import { createEventsFile, encodeEventsHeader } from './device.js';
import {
  bufferSource,
  decodeEvents,
  decodeRecord,
  EventsReader,
  fdSource,
  LOG_LEVELS,
  RECORD_HEADER_BYTES,
  structuredOnly,
  type EventRecord,
} from './events.js';
import { encodeBlock, encodeEventsFile, encodeRecord, type BlockSpec, type RecordSpec } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'uk-events-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const decode = (bytes: Uint8Array) => decodeEvents(bufferSource(bytes));

describe('crc32', () => {
  it('matches zlib on known vectors and random data, native or table', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32Table(new Uint8Array(0))).toBe(0);
    const rand = mulberry32(7);
    for (let i = 0; i < 200; i++) {
      const data = randomBytes(rand, Math.floor(rand() * 3000));
      expect(crc32Table(data)).toBe(crc32(data));
      if (typeof (zlib as { crc32?: unknown }).crc32 === 'function')
        expect(crc32(data)).toBe((zlib as unknown as { crc32: (d: Uint8Array) => number }).crc32(data) >>> 0);
    }
  });
});

describe('createEventsFile', () => {
  it('writes the sector-0 header of a sparse file of the given capacity, atomically', () => {
    const path = join(dir, 'runs/a.events');
    createEventsFile(path, EVENTS_CAPACITY_BYTES);
    const stat = statSync(path);
    expect(stat.size).toBe(EVENTS_CAPACITY_BYTES);
    expect(stat.blocks * 512).toBeLessThan(1 << 20); // sparse: only the header takes space
    const header = readFileSync(path).subarray(0, 512);
    expect(header.toString('latin1', 0, 8)).toBe('UKEVENTS');
    expect(header.readUInt32LE(8)).toBe(1);
    expect(header.readUInt32LE(12)).toBe(512);
    expect(header.readBigUInt64LE(16)).toBe(BigInt(EVENTS_CAPACITY_BYTES));
    expect(header.subarray(24).every((b) => b === 0)).toBe(true);
    expect(readdirSync(join(dir, 'runs'))).toEqual(['a.events']);
    const small = Buffer.from(header);
    small.writeBigUInt64LE(4096n, 16);
    expect(encodeEventsHeader(4096)).toEqual(small);
  });

  it('refuses impossible capacities and reports unwritable places by their cause', () => {
    expect(() => createEventsFile(join(dir, 'x.events'), 1000)).toThrow(RangeError);
    writeFileSync(join(dir, 'file'), '');
    expect(() => createEventsFile(join(dir, 'file/x.events'), 4096)).toThrow(expect.objectContaining({ code: 'UK151' })); // ENOTDIR
  });
});

const SAMPLE: RecordSpec[] = [
  {
    kind: 'log',
    task: 0,
    tNs: 1_000,
    level: 1,
    message: 'starting',
    fields: [
      ['n', '3'],
      ['mode', 'fast lane'],
    ],
  },
  { kind: 'begin', task: 0, tNs: 2_000, span: 1n, name: 'parse' },
  { kind: 'begin', task: 1, tNs: 2_500, span: 2n, parent: 1n, name: 'lex' },
  { kind: 'event', task: 1, tNs: 3_000, value: 42n, name: 'tokens' },
  { kind: 'end', task: 1, tNs: 3_500, span: 2n },
  { kind: 'end', task: 0, tNs: 4_000, span: 1n },
  { kind: 'log', task: 0, tNs: 5_000, level: 3, message: 'done' },
];

const EXPECTED: EventRecord[] = [
  {
    kind: 'log',
    task: 0,
    tNs: 1_000,
    level: 'info',
    message: 'starting',
    fields: [
      ['n', '3'],
      ['mode', 'fast lane'],
    ],
  },
  { kind: 'begin', task: 0, tNs: 2_000, span: 1n, parent: 0n, name: 'parse' },
  { kind: 'begin', task: 1, tNs: 2_500, span: 2n, parent: 1n, name: 'lex' },
  { kind: 'event', task: 1, tNs: 3_000, value: 42n, name: 'tokens' },
  { kind: 'end', task: 1, tNs: 3_500, span: 2n },
  { kind: 'end', task: 0, tNs: 4_000, span: 1n },
  { kind: 'log', task: 0, tNs: 5_000, level: 'error', message: 'done', fields: [] },
];

describe('decoding', () => {
  it('reads every record kind across blocks, in order, with the final flag and dropped counts', () => {
    const file = encodeEventsFile(
      [{ records: SAMPLE.slice(0, 3) }, { records: SAMPLE.slice(3), dropped: 5, final: true }],
      64 * 1024,
    );
    const { records, reader } = decode(file);
    expect(records).toEqual(EXPECTED);
    expect(reader.stats).toMatchObject({
      blocks: 2,
      damagedBlocks: 0,
      droppedRecords: 5,
      final: true,
      records: 7,
      invalidRecords: 0,
    });
    expect(reader.issues).toEqual([]);
    expect(reader.headerState).toEqual({ ok: true, capacityBytes: 64 * 1024 });
  });

  it('stops at the first sector without the block magic; an empty device has no records', () => {
    expect(decode(encodeEventsFile([])).records).toEqual([]);
    const file = encodeEventsFile([{ records: SAMPLE.slice(0, 1) }, { records: SAMPLE.slice(1, 2) }], 8192);
    file.fill(0, 1024, 1028); // the second block's magic gone: nothing from there on
    expect(decode(file).records).toHaveLength(1);
  });

  it('skips a block whose CRC does not match once the run is over, and reads the blocks after it', () => {
    const file = encodeEventsFile([
      { records: SAMPLE.slice(0, 2) },
      { records: SAMPLE.slice(2, 4), badCrc: true },
      { records: SAMPLE.slice(4) },
    ]);
    const { records, reader } = decode(file);
    expect(records).toEqual([...EXPECTED.slice(0, 2), ...EXPECTED.slice(4)]);
    expect(reader.stats).toMatchObject({ blocks: 2, damagedBlocks: 1, sequenceGaps: 0 });
    expect(reader.issues).toEqual([expect.stringMatching(/^block 1 \(sequence 1\) at byte 1024: CRC mismatch, skipped$/)]);
  });

  it('while the run goes on, waits on a bad CRC (a block being written) and reads it once complete', () => {
    const good = encodeEventsFile([{ records: SAMPLE.slice(0, 2) }, { records: SAMPLE.slice(2) }]);
    const partial = Buffer.from(good);
    partial.fill(0, 1024 + 40, 1536); // the second block's payload not there yet
    const live = Buffer.from(partial);
    const reader = new EventsReader(bufferSource(live));
    expect(reader.poll(false)).toEqual(EXPECTED.slice(0, 2));
    expect(reader.poll(false)).toEqual([]);
    good.copy(live, 1024, 1024, 1536); // the guest finished writing it
    expect(reader.poll(false)).toEqual(EXPECTED.slice(2));
    expect(reader.stats.damagedBlocks).toBe(0);
  });

  it('follows a file that grows: header first, then blocks appended', () => {
    const path = join(dir, 'growing.events');
    const full = encodeEventsFile([{ records: SAMPLE.slice(0, 3) }, { records: SAMPLE.slice(3), final: true }]);
    writeFileSync(path, full.subarray(0, 100));
    const fd = openSync(path, 'r');
    try {
      const reader = new EventsReader(fdSource(fd));
      expect(reader.poll(false)).toEqual([]);
      expect(reader.headerState).toBeNull();
      appendFileSync(path, full.subarray(100, 1024));
      expect(reader.poll(false)).toEqual(EXPECTED.slice(0, 3));
      appendFileSync(path, full.subarray(1024));
      expect(reader.poll(false)).toEqual(EXPECTED.slice(3));
      expect(reader.stats.final).toBe(true);
      expect(reader.poll(true)).toEqual([]);
    } finally {
      closeSync(fd);
    }
  });

  it('reports sequence gaps, unsupported block versions and payloads past the end', () => {
    const gap = decode(encodeEventsFile([{ records: SAMPLE.slice(0, 1) }, { records: SAMPLE.slice(1, 2), sequence: 7 }]));
    expect(gap.records).toHaveLength(2);
    expect(gap.reader.stats.sequenceGaps).toBe(1);
    expect(gap.reader.issues).toEqual(['block 1: sequence 7 where 1 was expected']);

    const version = decode(encodeEventsFile([{ records: SAMPLE.slice(0, 1), version: 2 }, { records: SAMPLE.slice(1, 2) }]));
    expect(version.records).toEqual([EXPECTED[1]]);
    expect(version.reader.issues).toEqual(['block 0 (sequence 0): unsupported block version 2, skipped']);

    const file = encodeEventsFile([{ records: SAMPLE.slice(0, 1) }]);
    file.writeUInt32LE(0xfffffff0, 512 + 12);
    const past = decode(file);
    expect(past.records).toEqual([]);
    expect(past.reader.issues[0]).toMatch(/payload of 4294967280 bytes runs past the device end/);
  });

  it.each<[string, Buffer | (() => Buffer), RegExp]>([
    ['short', Buffer.alloc(100), /shorter than its 512-byte header/],
    ['foreign', Buffer.alloc(1024, 0x41), /no UKEVENTS magic/],
    [
      'version',
      (() => {
        const h = encodeEventsHeader(4096);
        h.writeUInt32LE(2, 8);
        return h;
      })(),
      /format version 2/,
    ],
    [
      'sector',
      (() => {
        const h = encodeEventsHeader(4096);
        h.writeUInt32LE(4096, 12);
        return h;
      })(),
      /sector size 4096/,
    ],
    [
      'capacity',
      (() => {
        const h = encodeEventsHeader(4096);
        h.writeBigUInt64LE(1000n, 16);
        return h;
      })(),
      /capacity 1000/,
    ],
  ])('a bad header (%s) is reported, nothing decoded', (_name, bytes, reason) => {
    const { records, reader } = decode(typeof bytes === 'function' ? bytes() : bytes);
    expect(records).toEqual([]);
    expect(reader.headerState).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it('skips unknown kinds by their length and invalid records with a reason, keeping the rest', () => {
    const unknown = encodeRecord({ kind: 'event', tNs: 1, value: 1n, name: 'x' });
    unknown[4] = 9;
    const cases: Array<[Buffer, RegExp | null]> = [
      [unknown, null],
      [encodeRecord({ kind: 'log', tNs: 1, level: 7, message: 'm' }), /log level 7 unknown/],
      [encodeRecord({ kind: 'begin', tNs: 1, span: 0n, name: 'zero' }), /span id 0/],
      [encodeRecord({ kind: 'end', tNs: 1, span: 0n }), /span id 0/],
      [
        encodeRecord({ kind: 'begin', tNs: 1, span: 5n, name: 'n'.repeat(EVENT_NAME_BYTES_MAX + 1) }),
        /name of 65 bytes \(limit 64\)/,
      ],
      [encodeRecord({ kind: 'event', tNs: 1, value: 1n, name: '' }), /empty event name/],
      [encodeRecord({ kind: 'event', tNs: BigInt(EVENT_T_NS_MAX) + 1n, value: 1n, name: 'late' }), /t_ns \d+ out of range/],
      [
        encodeRecord({
          kind: 'log',
          tNs: 1,
          message: 'm',
          fields: Array.from({ length: LOG_FIELDS_MAX + 1 }, () => ['k', 'v'] as [string, string]),
        }),
        /17 fields \(limit 16\)/,
      ],
      [
        (() => {
          const r = encodeRecord({ kind: 'log', tNs: 1, message: 'message' });
          r.writeUInt32LE(500, 20);
          return r;
        })(),
        /message runs past the record/,
      ],
      [
        (() => {
          const r = encodeRecord({ kind: 'log', tNs: 1, message: 'm', fields: [['key', 'value']] });
          r.writeUInt16LE(999, 20 + 8 + 1 + 2);
          return r;
        })(),
        /field 0 runs past the record/,
      ],
      [
        (() => {
          const r = encodeRecord({ kind: 'begin', tNs: 1, span: 3n, name: 'abc' });
          r[20 + 16] = 10;
          return r;
        })(),
        /name runs past the record/,
      ],
      [
        (() => {
          const r = encodeRecord({ kind: 'end', tNs: 1, span: 3n });
          r.writeUInt32LE(24, 0);
          return r.subarray(0, 24);
        })(),
        /span end record too short/,
      ],
    ];
    for (const [record, reason] of cases) {
      const { records, reader } = decode(
        encodeEventsFile([{ records: [SAMPLE[0]!, { kind: 'raw', bytes: record }, SAMPLE[6]!] }]),
      );
      expect(records).toEqual([EXPECTED[0], EXPECTED[6]]);
      if (reason === null) {
        expect(reader.stats.unknownRecords).toBe(1);
        expect(reader.issues).toEqual([]);
      } else {
        expect(reader.stats.invalidRecords).toBe(1);
        expect(reader.issues).toEqual([expect.stringMatching(reason)]);
      }
    }
  });

  it('a record length outside the payload skips the rest of its block only', () => {
    const bad = encodeRecord(SAMPLE[1]!);
    bad.writeUInt32LE(10_000, 0);
    const { records, reader } = decode(
      encodeEventsFile([{ records: [SAMPLE[0]!, { kind: 'raw', bytes: bad }, SAMPLE[2]!] }, { records: [SAMPLE[3]!] }]),
    );
    expect(records).toEqual([EXPECTED[0], EXPECTED[3]]);
    expect(reader.issues).toEqual([
      expect.stringMatching(/^block 0, byte \d+: record length 10000 outside 20\.\.\d+; rest of the block skipped$/),
    ]);
    const stray = decode(encodeEventsFile([{ records: [SAMPLE[0]!, { kind: 'raw', bytes: Buffer.alloc(7) }] }]));
    expect(stray.records).toEqual([EXPECTED[0]]);
    expect(stray.reader.issues).toEqual(['block 0: 7 stray bytes at the end of the payload']);
  });

  it('neutralises terminal escapes, bidi controls and bad UTF-8 in text; cuts very long messages', () => {
    const long = 'x'.repeat(60_000);
    const { records } = decode(
      encodeEventsFile([
        {
          records: [
            { kind: 'log', tNs: 1, message: 'red \x1b[31m \u202e evil \x9b', fields: [['k\x07', Buffer.from([0xff, 0x41])]] },
            { kind: 'event', tNs: 2, value: 0n, name: '\x1b]0;title\x07' },
            { kind: 'log', tNs: 3, message: long },
          ],
        },
      ]),
    );
    expect(records[0]).toMatchObject({ message: 'red \\x1b[31m \\u202e evil \\u009b', fields: [['k\\x07', '\\xffA']] });
    expect(records[1]).toMatchObject({ name: '\\x1b]0;title\\x07' });
    const message = (records[2] as { message: string }).message;
    expect(message.startsWith('x'.repeat(LOG_TEXT_DISPLAY_BYTES_MAX))).toBe(true);
    expect(message).toMatch(/… \[55904 more bytes cut\]$/);
  });

  it('stops at the record limit and says so', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({ kind: 'event' as const, tNs: i, value: BigInt(i), name: 'e' }));
    const reader = new EventsReader(bufferSource(encodeEventsFile([{ records: many }, { records: many }])), 60);
    expect(reader.poll(true)).toHaveLength(60);
    expect(reader.stats.recordLimitReached).toBe(true);
    expect(reader.issues).toEqual(['more than 60 records: the rest is not read']);
  });

  it('lists at most 20 issues, then a count', () => {
    const blocks: BlockSpec[] = Array.from({ length: 30 }, () => ({ records: [SAMPLE[0]!], badCrc: true }));
    const { reader } = decode(encodeEventsFile(blocks));
    expect(reader.stats.damagedBlocks).toBe(30);
    expect(reader.issues).toHaveLength(21);
    expect(reader.issues.at(-1)).toBe('… and 10 more');
  });
});

// ---- Fuzz: seeded, so a failure can be replayed with its seed and iteration ----------------

function checkRecord(r: EventRecord): void {
  expect(Number.isSafeInteger(r.tNs) && r.tNs >= 0 && r.tNs <= EVENT_T_NS_MAX).toBe(true);
  expect(Number.isInteger(r.task) && r.task >= 0 && r.task <= 0xffffffff).toBe(true);
  const texts: string[] = [];
  switch (r.kind) {
    case 'log':
      expect(LOG_LEVELS).toContain(r.level);
      expect(r.fields.length).toBeLessThanOrEqual(LOG_FIELDS_MAX);
      texts.push(r.message, ...r.fields.flat());
      break;
    case 'begin':
      expect(r.span > 0n && r.span < 1n << 64n && r.parent >= 0n && r.parent < 1n << 64n).toBe(true);
      texts.push(r.name);
      expect(r.name.length).toBeGreaterThan(0);
      break;
    case 'end':
      expect(r.span > 0n && r.span < 1n << 64n).toBe(true);
      break;
    case 'event':
      expect(r.value >= 0n && r.value < 1n << 64n).toBe(true);
      texts.push(r.name);
      break;
  }
  for (const text of texts) {
    // Nothing a terminal would act on: no C0/C1 controls (TAB aside), DEL or bidi controls.
    expect(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/.test(text)).toBe(false);
    expect(text.length).toBeLessThan(LOG_TEXT_DISPLAY_BYTES_MAX * 4 + 100);
  }
}

function randomSpec(rand: () => number): RecordSpec {
  const t = rand() < 0.95 ? Math.floor(rand() * 1e9) : BigInt.asUintN(64, BigInt(Math.floor(rand() * 2 ** 53)) << 11n);
  const name = (): string | Uint8Array =>
    rand() < 0.8 ? `span_${Math.floor(rand() * 5)}` : randomBytes(rand, Math.floor(rand() * 80));
  const id = (): bigint => BigInt(Math.floor(rand() * 10));
  switch (Math.floor(rand() * 5)) {
    case 0:
      return {
        kind: 'log',
        tNs: t,
        level: Math.floor(rand() * 5),
        task: Math.floor(rand() * 4),
        message: rand() < 0.7 ? 'hello' : randomBytes(rand, Math.floor(rand() * 300)),
        fields: Array.from({ length: Math.floor(rand() * 4) }, () => [
          rand() < 0.5 ? 'k' : randomBytes(rand, 5),
          randomBytes(rand, Math.floor(rand() * 20)),
        ]),
      };
    case 1:
      return { kind: 'begin', tNs: t, span: id(), parent: id(), name: name() };
    case 2:
      return { kind: 'end', tNs: t, span: id() };
    case 3:
      return { kind: 'event', tNs: t, value: BigInt.asUintN(64, BigInt(Math.floor(rand() * 2 ** 53)) * 4099n), name: name() };
    default:
      return { kind: 'raw', bytes: randomBytes(rand, Math.floor(rand() * 40)) };
  }
}

function randomFile(rand: () => number): Buffer {
  const blocks: BlockSpec[] = Array.from({ length: Math.floor(rand() * 4) }, () => ({
    records: Array.from({ length: Math.floor(rand() * 8) }, () => randomSpec(rand)),
    badCrc: rand() < 0.1,
    final: rand() < 0.1,
    dropped: rand() < 0.1 ? Math.floor(rand() * 100) : 0,
    ...(rand() < 0.05 ? { sequence: Math.floor(rand() * 2 ** 32) } : {}),
  }));
  return encodeEventsFile(blocks, rand() < 0.5 ? undefined : 8192);
}

function mutate(rand: () => number, file: Buffer): Buffer {
  const out = Buffer.from(file);
  for (let n = Math.floor(rand() * 6); n > 0; n--) {
    const at = Math.floor(rand() * out.length);
    switch (Math.floor(rand() * 4)) {
      case 0:
        out[at] = Math.floor(rand() * 256);
        break;
      case 1:
        if (at + 4 <= out.length) out.writeUInt32LE(Math.floor(rand() * 2 ** 32), at);
        break;
      case 2:
        out[at]! ^= 1 << Math.floor(rand() * 8);
        break;
      default:
        if (at + 2 <= out.length) out.writeUInt16LE(Math.floor(rand() * 0x10000), at);
    }
  }
  return rand() < 0.1 ? out.subarray(0, Math.floor(rand() * out.length)) : out;
}

describe('decoder fuzz', () => {
  const run = (bytes: Buffer, settled: boolean): void => {
    const reader = new EventsReader(bufferSource(bytes), 5000);
    const records = reader.poll(settled);
    for (const r of structuredOnly(records)) checkRecord(r);
    expect(reader.stats.records).toBe(records.length);
    expect(reader.issues.length).toBeLessThanOrEqual(21);
    for (const n of Object.values(reader.stats)) if (typeof n === 'number') expect(Number.isSafeInteger(n) && n >= 0).toBe(true);
  };

  it('never throws on random bytes, with or without a valid header (seed 0xe7e7)', () => {
    const rand = mulberry32(0xe7e7);
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(randomBytes(rand, Math.floor(rand() * 3000)));
      if (rand() < 0.7 && bytes.length >= 512)
        encodeEventsHeader(rand() < 0.8 ? 4096 : Math.floor(rand() * 2 ** 31) * 512).copy(bytes, 0);
      if (rand() < 0.5 && bytes.length >= 516) bytes.write('UKEB', 512, 'latin1');
      run(bytes, rand() < 0.5);
    }
  });

  it('never throws on valid files with random damage (seed 1234)', () => {
    const rand = mulberry32(1234);
    let decoded = 0;
    for (let i = 0; i < 3000; i++) {
      const file = randomFile(rand);
      run(file, true);
      run(mutate(rand, file), rand() < 0.7);
      decoded += decode(file).records.length;
    }
    expect(decoded).toBeGreaterThan(1000); // the generator reaches valid records too
  });

  it('decodes what the encoder wrote, record for record (seed 99)', () => {
    const rand = mulberry32(99);
    for (let i = 0; i < 300; i++) {
      const specs = Array.from({ length: 1 + Math.floor(rand() * 20) }, () => ({
        kind: 'event' as const,
        tNs: Math.floor(rand() * 1e12),
        task: Math.floor(rand() * 1000),
        value: BigInt.asUintN(64, BigInt(Math.floor(rand() * 2 ** 53)) << BigInt(Math.floor(rand() * 12))),
        name: `n${Math.floor(rand() * 1e6)}`,
      }));
      const split = Math.floor(rand() * specs.length);
      const { records } = decode(encodeEventsFile([{ records: specs.slice(0, split) }, { records: specs.slice(split) }]));
      expect(records).toEqual(specs.map((s) => ({ kind: 'event', tNs: s.tNs, task: s.task, value: s.value, name: s.name })));
    }
  });
});

describe('encodeBlock', () => {
  it('pads blocks to whole sectors', () => {
    expect(encodeBlock({ records: [] }, 0).length).toBe(512);
    expect(encodeBlock({ records: [{ kind: 'log', tNs: 0, message: 'y'.repeat(600) }] }, 0).length).toBe(1024);
  });
});

describe('console output and kernel records (kinds 5 and 6)', () => {
  it('decodes them as raw bytes, and dates the first block by its flush time', () => {
    const file = encodeEventsFile([
      {
        flushNs: 7000,
        records: [
          { kind: 'output', task: 2, tNs: 5000, text: 'a\x1b[2J\n@uk:exit v=1 status=0\n' },
          { kind: 'kernel', tNs: 6000, text: '@uk:exit v=1 status=3 reason=return' },
        ],
      },
    ]);
    const { records, reader } = decodeEvents(bufferSource(file));
    expect(records).toEqual([
      { kind: 'output', task: 2, tNs: 5000, bytes: Buffer.from('a\x1b[2J\n@uk:exit v=1 status=0\n') },
      { kind: 'kernel', task: 0, tNs: 6000, line: Buffer.from('@uk:exit v=1 status=3 reason=return') },
    ]);
    expect(reader.stats.firstBlockFlushNs).toBe(7000);
    expect(structuredOnly(records)).toEqual([]);
  });

  it('rejects a text length that disagrees with the record, and over-long kernel records', () => {
    const bad = encodeRecord({ kind: 'output', tNs: 1, text: 'abc' });
    bad.writeUInt32LE(99, RECORD_HEADER_BYTES);
    expect(decodeRecord(bad)).toEqual({ invalid: 'text of 99 bytes in a record with 3' });
    const long = encodeRecord({ kind: 'kernel', tNs: 1, text: `@uk:x v=1 ${'a'.repeat(600)}` });
    expect(decodeRecord(long)).toMatchObject({ invalid: expect.stringMatching(/kernel record of \d+ bytes/) });
  });
});
