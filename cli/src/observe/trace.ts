// Trace records → spans and events, their statistics, and the Chrome Trace Event Format export
// (which Perfetto's UI and trace_processor also load). Pure functions over decoded records.
import { TRACE_NAMES_LISTED_MAX } from '../constants.js';
import type { EventRecord, InstantEvent } from './events.js';

export interface Span {
  name: string;
  task: number;
  span: bigint;
  parent: bigint;
  startNs: number;
  endNs: number;
  durationNs: number;
  /** No end record: ended at the run's last timestamp. */
  unclosed: boolean;
}

export interface Trace {
  spans: Span[];
  events: InstantEvent[];
  tasks: number[];
  /** The latest timestamp seen (the end given to unclosed spans). */
  lastNs: number;
  /** End records whose span never began (or began twice: the second begin is ignored). */
  orphanEnds: number;
  duplicateBegins: number;
  /** End before begin: the duration is taken as 0. */
  backwards: number;
}

/**
 * Match begins and ends by span id. `endNs` (e.g. the workload's exit) extends the run's last
 * timestamp, which unclosed spans get as their end.
 */
export function buildTrace(records: readonly EventRecord[], endNs: number | null = null): Trace {
  let lastNs = endNs ?? 0;
  for (const r of records) if (r.tNs > lastNs) lastNs = r.tNs;
  const open = new Map<bigint, { name: string; task: number; parent: bigint; startNs: number }>();
  const closed = new Set<bigint>();
  const spans: Span[] = [];
  const events: InstantEvent[] = [];
  const tasks = new Set<number>();
  let orphanEnds = 0;
  let duplicateBegins = 0;
  let backwards = 0;
  for (const r of records) {
    switch (r.kind) {
      case 'begin':
        tasks.add(r.task);
        if (open.has(r.span) || closed.has(r.span)) {
          duplicateBegins++;
          break;
        }
        open.set(r.span, { name: r.name, task: r.task, parent: r.parent, startNs: r.tNs });
        break;
      case 'end': {
        const begin = open.get(r.span);
        if (begin === undefined) {
          orphanEnds++;
          break;
        }
        open.delete(r.span);
        closed.add(r.span);
        if (r.tNs < begin.startNs) backwards++;
        const endAt = Math.max(r.tNs, begin.startNs);
        spans.push({ ...begin, span: r.span, endNs: endAt, durationNs: endAt - begin.startNs, unclosed: false });
        break;
      }
      case 'event':
        tasks.add(r.task);
        events.push(r);
        break;
      case 'log':
        break;
    }
  }
  for (const [span, begin] of open) {
    spans.push({ ...begin, span, endNs: lastNs, durationNs: lastNs - begin.startNs, unclosed: true });
  }
  spans.sort((a, b) => a.startNs - b.startNs || (a.span < b.span ? -1 : a.span > b.span ? 1 : 0));
  return { spans, events, tasks: [...tasks].sort((a, b) => a - b), lastNs, orphanEnds, duplicateBegins, backwards };
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100); null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface SpanStats {
  name: string;
  /** Closed spans: the durations below are theirs. */
  count: number;
  /** Spans still open at the end of the run (not in the durations). */
  unclosed: number;
  total_ns: number;
  p50_ns: number | null;
  p90_ns: number | null;
  p99_ns: number | null;
  max_ns: number | null;
}

/** Per span name, the busiest (largest total) first. */
export function spanStats(spans: readonly Span[]): SpanStats[] {
  const byName = new Map<string, { durations: number[]; unclosed: number }>();
  for (const s of spans) {
    const entry = byName.get(s.name) ?? { durations: [], unclosed: 0 };
    if (s.unclosed) entry.unclosed++;
    else entry.durations.push(s.durationNs);
    byName.set(s.name, entry);
  }
  const stats: SpanStats[] = [];
  for (const [name, { durations, unclosed }] of byName) {
    durations.sort((a, b) => a - b);
    stats.push({
      name,
      count: durations.length,
      unclosed,
      total_ns: durations.reduce((sum, d) => sum + d, 0),
      p50_ns: percentile(durations, 50),
      p90_ns: percentile(durations, 90),
      p99_ns: percentile(durations, 99),
      max_ns: durations.at(-1) ?? null,
    });
  }
  return stats.sort((a, b) => b.total_ns - a.total_ns || b.count - a.count || (a.name < b.name ? -1 : 1));
}

export interface EventStats {
  name: string;
  count: number;
  /** u64 values: numbers up to 2^53 - 1, decimal strings beyond. */
  min: number | string;
  max: number | string;
  last: number | string;
}

/** A u64 for JSON: a number when exact, else its decimal string. */
export function u64Json(value: bigint): number | string {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

/** Per event name, the most frequent first. */
export function eventStats(events: readonly InstantEvent[]): EventStats[] {
  const byName = new Map<string, { count: number; min: bigint; max: bigint; last: bigint; lastNs: number }>();
  for (const e of events) {
    const entry = byName.get(e.name);
    if (entry === undefined) {
      byName.set(e.name, { count: 1, min: e.value, max: e.value, last: e.value, lastNs: e.tNs });
      continue;
    }
    entry.count++;
    if (e.value < entry.min) entry.min = e.value;
    if (e.value > entry.max) entry.max = e.value;
    if (e.tNs >= entry.lastNs) {
      entry.last = e.value;
      entry.lastNs = e.tNs;
    }
  }
  return [...byName]
    .map(([name, s]) => ({ name, count: s.count, min: u64Json(s.min), max: u64Json(s.max), last: u64Json(s.last) }))
    .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1));
}

/** Keep the first `max` rows; say how many were left out. */
export function listed<T>(rows: readonly T[], max: number = TRACE_NAMES_LISTED_MAX): { rows: T[]; omitted: number } {
  return { rows: rows.slice(0, max), omitted: Math.max(0, rows.length - max) };
}

// ---- Chrome Trace Event Format ------------------------------------------------------------

export interface ChromeEvent {
  name: string;
  ph: 'X' | 'i' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  s?: 't' | 'p' | 'g';
  cat?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: ChromeEvent[];
  displayTimeUnit: 'ns' | 'ms';
  otherData?: Record<string, string>;
}

const TRACE_PID = 1;
const nsToUs = (ns: number): number => ns / 1000;

/**
 * The trace as Chrome Trace Event Format JSON: `X` (complete) events for spans, `i` (instant)
 * events with `args.value`, `M` metadata naming the process and each task's thread. Timestamps
 * are µs since kernel entry (fractional: ns precision).
 */
export function chromeTrace(trace: Trace, meta: { run: string }): ChromeTrace {
  const events: ChromeEvent[] = [
    { name: 'process_name', ph: 'M', pid: TRACE_PID, tid: 0, args: { name: `ukernel ${meta.run}` } },
  ];
  for (const task of trace.tasks)
    events.push({ name: 'thread_name', ph: 'M', pid: TRACE_PID, tid: task, args: { name: `task ${task}` } });
  for (const s of trace.spans) {
    const args: Record<string, unknown> = { span: s.span.toString() };
    if (s.parent !== 0n) args.parent = s.parent.toString();
    if (s.unclosed) args.unclosed = true;
    events.push({
      name: s.name,
      cat: 'span',
      ph: 'X',
      ts: nsToUs(s.startNs),
      dur: nsToUs(s.durationNs),
      pid: TRACE_PID,
      tid: s.task,
      args,
    });
  }
  for (const e of trace.events) {
    events.push({
      name: e.name,
      cat: 'event',
      ph: 'i',
      s: 't',
      ts: nsToUs(e.tNs),
      pid: TRACE_PID,
      tid: e.task,
      args: { value: u64Json(e.value) },
    });
  }
  return { traceEvents: events, displayTimeUnit: 'ns', otherData: { run: meta.run, clock: 'ns since kernel entry' } };
}

/**
 * Problems with a Chrome trace per the Trace Event Format rules (what its loaders require):
 * a `traceEvents` array; each event an object with a string `name`, a known `ph`, integer
 * `pid`/`tid`; numeric `ts` ≥ 0 except on metadata; `dur` ≥ 0 on complete events; instant
 * scope t/p/g; `args` an object. Empty means valid.
 */
export function chromeTraceProblems(value: unknown): string[] {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ['top level is not an object'];
  const trace = value as Record<string, unknown>;
  if (!Array.isArray(trace.traceEvents)) return ['traceEvents is not an array'];
  if (trace.displayTimeUnit !== undefined && trace.displayTimeUnit !== 'ms' && trace.displayTimeUnit !== 'ns') {
    problems.push('displayTimeUnit must be "ms" or "ns"');
  }
  trace.traceEvents.forEach((raw: unknown, index: number) => {
    const where = `traceEvents[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${where} is not an object`);
      return;
    }
    const e = raw as Record<string, unknown>;
    if (typeof e.name !== 'string') problems.push(`${where}.name is not a string`);
    if (typeof e.ph !== 'string' || !['X', 'i', 'I', 'M', 'B', 'E'].includes(e.ph))
      problems.push(`${where}.ph ${String(e.ph)} unknown`);
    if (!Number.isInteger(e.pid)) problems.push(`${where}.pid is not an integer`);
    if (!Number.isInteger(e.tid)) problems.push(`${where}.tid is not an integer`);
    if (e.ph !== 'M' && (typeof e.ts !== 'number' || !Number.isFinite(e.ts) || e.ts < 0))
      problems.push(`${where}.ts is not a number ≥ 0`);
    if (e.ph === 'X' && (typeof e.dur !== 'number' || !Number.isFinite(e.dur) || e.dur < 0))
      problems.push(`${where}.dur is not a number ≥ 0`);
    if ((e.ph === 'i' || e.ph === 'I') && e.s !== undefined && !['t', 'p', 'g'].includes(e.s as string))
      problems.push(`${where}.s must be t, p or g`);
    if (
      e.ph === 'M' &&
      (typeof e.args !== 'object' || e.args === null || typeof (e.args as Record<string, unknown>).name !== 'string')
    ) {
      problems.push(`${where}: metadata without args.name`);
    }
    if (e.args !== undefined && (typeof e.args !== 'object' || e.args === null || Array.isArray(e.args)))
      problems.push(`${where}.args is not an object`);
  });
  return problems;
}
