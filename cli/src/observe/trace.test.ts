import { describe, expect, it } from 'vitest';
import type { EventRecord } from './events.js';
import { buildTrace, chromeTrace, chromeTraceProblems, eventStats, percentile, spanStats, u64Json } from './trace.js';

const begin = (span: bigint, tNs: number, name: string, task = 0, parent = 0n): EventRecord => ({
  kind: 'begin',
  span,
  parent,
  tNs,
  name,
  task,
});
const end = (span: bigint, tNs: number, task = 0): EventRecord => ({ kind: 'end', span, tNs, task });
const event = (tNs: number, name: string, value: bigint, task = 0): EventRecord => ({ kind: 'event', tNs, name, value, task });

describe('percentile (nearest rank)', () => {
  it.each<[number[], number, number | null]>([
    [[], 50, null],
    [[7], 99, 7],
    [[1, 2, 3, 4], 50, 2],
    [[1, 2, 3, 4], 90, 4],
    [Array.from({ length: 100 }, (_, i) => i + 1), 99, 99],
    [Array.from({ length: 100 }, (_, i) => i + 1), 90, 90],
    [[5, 9], 0, 5],
  ])('%j p%d → %s', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });
});

describe('buildTrace', () => {
  const records: EventRecord[] = [
    begin(1n, 1_000, 'request'),
    begin(2n, 1_500, 'parse', 0, 1n),
    end(2n, 2_500),
    event(2_600, 'bytes', 512n),
    begin(3n, 3_000, 'parse', 1),
    end(3n, 7_000, 1),
    end(1n, 9_000),
    begin(4n, 9_500, 'flush', 2),
    end(99n, 9_600), // never began
    begin(3n, 9_700, 'dup'), // id reused
    { kind: 'log', tNs: 12_000, task: 0, level: 'info', message: 'bye', fields: [] },
  ];

  it('matches begins and ends; unclosed spans end at the last timestamp', () => {
    const t = buildTrace(records);
    expect(t.spans.map((s) => [s.name, s.task, s.startNs, s.durationNs, s.unclosed])).toEqual([
      ['request', 0, 1_000, 8_000, false],
      ['parse', 0, 1_500, 1_000, false],
      ['parse', 1, 3_000, 4_000, false],
      ['flush', 2, 9_500, 2_500, true],
    ]);
    expect(t.spans[1]!.parent).toBe(1n);
    expect(t).toMatchObject({ lastNs: 12_000, orphanEnds: 1, duplicateBegins: 1, tasks: [0, 1, 2] });
    expect(buildTrace(records, 20_000).spans.at(-1)!.durationNs).toBe(10_500);
  });

  it('summarises spans per name (closed ones in the durations) and events per name', () => {
    const stats = spanStats(buildTrace(records).spans);
    expect(stats).toEqual([
      { name: 'request', count: 1, unclosed: 0, total_ns: 8_000, p50_ns: 8_000, p90_ns: 8_000, p99_ns: 8_000, max_ns: 8_000 },
      { name: 'parse', count: 2, unclosed: 0, total_ns: 5_000, p50_ns: 1_000, p90_ns: 4_000, p99_ns: 4_000, max_ns: 4_000 },
      { name: 'flush', count: 0, unclosed: 1, total_ns: 0, p50_ns: null, p90_ns: null, p99_ns: null, max_ns: null },
    ]);
    const events = eventStats([
      event(1, 'a', 5n) as never,
      event(3, 'a', 2n) as never,
      event(2, 'a', 9n) as never,
      event(1, 'b', (1n << 64n) - 1n) as never,
    ]);
    expect(events).toEqual([
      { name: 'a', count: 3, min: 2, max: 9, last: 2 },
      { name: 'b', count: 1, min: '18446744073709551615', max: '18446744073709551615', last: '18446744073709551615' },
    ]);
    expect(u64Json(2n ** 53n - 1n)).toBe(2 ** 53 - 1);
    expect(u64Json(2n ** 53n)).toBe('9007199254740992');
  });

  it('an end before its begin counts as 0 ns', () => {
    const t = buildTrace([begin(1n, 500, 'x'), end(1n, 100)]);
    expect(t.spans[0]!.durationNs).toBe(0);
    expect(t.backwards).toBe(1);
  });
});

describe('Chrome Trace Event Format export', () => {
  const t = buildTrace([
    begin(1n, 1_000, 'request'),
    begin(2n, 1_500, 'parse', 3, 1n),
    end(2n, 2_750, 3),
    event(2_600, 'bytes', 512n, 3),
    begin(5n, 4_000, 'open'),
  ]);
  const json = chromeTrace(t, { run: 'R' });

  it('has X events for spans (µs), i events with args.value, M thread names per task', () => {
    expect(json.displayTimeUnit).toBe('ns');
    expect(json.traceEvents).toEqual([
      { name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'ukernel R' } },
      { name: 'thread_name', ph: 'M', pid: 1, tid: 0, args: { name: 'task 0' } },
      { name: 'thread_name', ph: 'M', pid: 1, tid: 3, args: { name: 'task 3' } },
      { name: 'request', cat: 'span', ph: 'X', ts: 1, dur: 3, pid: 1, tid: 0, args: { span: '1', unclosed: true } },
      { name: 'parse', cat: 'span', ph: 'X', ts: 1.5, dur: 1.25, pid: 1, tid: 3, args: { span: '2', parent: '1' } },
      { name: 'open', cat: 'span', ph: 'X', ts: 4, dur: 0, pid: 1, tid: 0, args: { span: '5', unclosed: true } },
      { name: 'bytes', cat: 'event', ph: 'i', s: 't', ts: 2.6, pid: 1, tid: 3, args: { value: 512 } },
    ]);
  });

  it('follows the format rules, also after a JSON round trip', () => {
    expect(chromeTraceProblems(json)).toEqual([]);
    expect(chromeTraceProblems(JSON.parse(JSON.stringify(json)))).toEqual([]);
    expect(chromeTraceProblems(chromeTrace(buildTrace([]), { run: 'empty' }))).toEqual([]);
  });

  it('the rules catch what loaders reject', () => {
    expect(chromeTraceProblems([])).toEqual(['top level is not an object']);
    expect(chromeTraceProblems({ traceEvents: {} })).toEqual(['traceEvents is not an array']);
    expect(
      chromeTraceProblems({
        displayTimeUnit: 'us',
        traceEvents: [
          { name: 'a', ph: 'X', pid: 1, tid: 1, ts: '5', dur: 1 },
          { name: 'b', ph: 'X', pid: 1, tid: 1.5, ts: 1 },
          { name: 3, ph: 'Q', pid: 1, tid: 1, ts: 1 },
          { name: 'c', ph: 'i', pid: 1, tid: 1, ts: -1, s: 'x' },
          { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: {} },
          { name: 'd', ph: 'i', pid: 1, tid: 1, ts: 1, args: [] },
          7,
        ],
      }),
    ).toEqual([
      'displayTimeUnit must be "ms" or "ns"',
      'traceEvents[0].ts is not a number ≥ 0',
      'traceEvents[1].tid is not an integer',
      'traceEvents[1].dur is not a number ≥ 0',
      'traceEvents[2].name is not a string',
      'traceEvents[2].ph Q unknown',
      'traceEvents[3].ts is not a number ≥ 0',
      'traceEvents[3].s must be t, p or g',
      'traceEvents[4]: metadata without args.name',
      'traceEvents[5].args is not an object',
      'traceEvents[6] is not an object',
    ]);
  });
});
