// `ukernel trace [RUN] [--export chrome|perfetto FILE] [--json]`: the spans and events of a run
// (from its events device, or `@uk:trace` console records when it had none) as a summary per
// name, or exported as Chrome Trace Event Format JSON, which Perfetto loads as well.
import { resolve } from 'node:path';
import { UkernelError } from '../errors.js';
import { displayPath, printable, writeFileAtomic } from '../fsutil.js';
import { formatDuration, formatTable } from '../format.js';
import { loadRun, type LoadedRun } from '../observe/run-data.js';
import { buildTrace, chromeTrace, eventStats, listed, spanStats, type SpanStats, type Trace } from '../observe/trace.js';
import { findProjectRoot } from '../project/locate.js';
import { errColors, writeErr, writeOut } from '../ui.js';

export const EXPORT_FORMATS = ['chrome', 'perfetto'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface RawTraceOptions {
  export?: string;
  json?: boolean;
}

export interface TraceDeps {
  cwd: string;
  out: (line: string) => void;
  notice: (line: string) => void;
}

/** `file` is the operand after the export format (cli.ts finds it in argv). */
export async function trace(
  run: string | undefined,
  file: string | undefined,
  raw: RawTraceOptions,
  deps: Partial<TraceDeps> = {},
): Promise<number> {
  const cwd = deps.cwd ?? process.cwd();
  const out = deps.out ?? writeOut;
  const notice = deps.notice ?? ((line: string) => writeErr(errColors().dim(line)));
  const format = exportFormat(raw.export, file);
  const base = findProjectRoot(cwd) ?? cwd;
  const loaded = loadRun(base, run, cwd, { report: false });
  const built = buildTrace(loaded.records, loaded.workloadExit?.tNs ?? null);
  for (const note of [...loaded.notes, ...traceNotes(built)]) notice(`ukernel: ${note}`);

  if (format !== null) {
    const path = resolve(cwd, file!);
    const shown = displayPath(cwd, path);
    // Into an existing directory only: a typo in FILE's directory must not create a tree.
    writeFileAtomic(path, `${JSON.stringify(chromeTrace(built, { run: loaded.name }))}\n`, {
      display: shown,
      createParent: false,
      hint: 'Give --export a FILE in an existing directory you can write to.',
    });
    if (raw.json === true) {
      out(JSON.stringify({ run: loaded.name, export: { format, path, spans: built.spans.length, events: built.events.length } }));
    } else {
      out(
        `Trace written: ${printable(shown, 200)} (${built.spans.length} spans, ${built.events.length} events, run ${loaded.name})`,
      );
      out(`Open it in https://ui.perfetto.dev or chrome://tracing (Chrome Trace Event Format JSON).`);
    }
    return 0;
  }
  if (raw.json === true) out(JSON.stringify(traceJson(loaded, built)));
  else for (const line of formatTrace(loaded, built)) out(line);
  return 0;
}

function exportFormat(format: string | undefined, file: string | undefined): ExportFormat | null {
  if (format === undefined) {
    if (file !== undefined)
      throw new UkernelError('Usage', `unexpected argument "${printable(file)}"`, {
        hint: 'ukernel trace [RUN] [--export chrome|perfetto FILE] [--json]',
      });
    return null;
  }
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UkernelError('InvalidOption', `--export must be chrome or perfetto, not "${printable(format)}"`, {
      hint: 'ukernel trace --export chrome trace.json (Perfetto loads the same file: --export perfetto is an alias).',
    });
  }
  if (file === undefined || file === '') {
    throw new UkernelError('Usage', `--export ${format} needs a FILE to write`, {
      hint: `ukernel trace --export ${format} trace.json`,
    });
  }
  return format as ExportFormat;
}

function traceNotes(t: Trace): string[] {
  const notes: string[] = [];
  if (t.orphanEnds > 0) notes.push(`${t.orphanEnds} span end(s) without a begin ignored`);
  if (t.duplicateBegins > 0) notes.push(`${t.duplicateBegins} span begin(s) reusing an id ignored`);
  if (t.backwards > 0) notes.push(`${t.backwards} span(s) ended before they began: taken as 0 ns`);
  return notes;
}

export function traceJson(loaded: LoadedRun, t: Trace): Record<string, unknown> {
  return {
    run: loaded.name,
    state: loaded.state,
    records: { events_device: loaded.fromEvents, console: loaded.fromConsole },
    spans: spanStats(t.spans),
    events: eventStats(t.events),
    unclosed_spans: t.spans.filter((s) => s.unclosed).length,
    dropped_records: { in_blocks: loaded.eventsStats?.droppedRecords ?? 0, at_exit: loaded.exit?.eventsDropped ?? 0 },
    orphan_ends: t.orphanEnds,
    duplicate_begins: t.duplicateBegins,
    notes: loaded.notes,
  };
}

const duration = (ns: number | null): string => (ns === null ? '-' : formatDuration(ns));

export function spanRows(
  stats: readonly SpanStats[],
  withTotal: boolean,
  withUnclosed: boolean,
): { header: string[]; rows: string[][] } {
  const header = [
    'SPAN',
    'COUNT',
    ...(withUnclosed ? ['UNCLOSED'] : []),
    ...(withTotal ? ['TOTAL'] : []),
    'P50',
    'P90',
    'P99',
    'MAX',
  ];
  const rows = stats.map((s) => [
    s.name,
    String(s.count),
    ...(withUnclosed ? [String(s.unclosed)] : []),
    ...(withTotal ? [duration(s.count > 0 ? s.total_ns : null)] : []),
    duration(s.p50_ns),
    duration(s.p90_ns),
    duration(s.p99_ns),
    duration(s.max_ns),
  ]);
  return { header, rows };
}

export function formatTrace(loaded: LoadedRun, t: Trace): string[] {
  const source =
    loaded.fromEvents > 0 || loaded.fromConsole === 0
      ? `${loaded.fromEvents} record(s) from the events device${loaded.fromConsole > 0 ? `, ${loaded.fromConsole} from the console` : ''}`
      : `${loaded.fromConsole} record(s) from the console (no events device)`;
  const lines = [`Run ${loaded.name}: ${t.spans.length} span(s), ${t.events.length} event(s); ${source}`];
  if (t.spans.length === 0 && t.events.length === 0) {
    lines.push('No spans or events recorded (the workload calls ukernel.trace.begin/end and trace.event to make them).');
    return lines;
  }
  if (t.spans.length > 0) {
    const stats = listed(spanStats(t.spans));
    const withUnclosed = stats.rows.some((s) => s.unclosed > 0);
    const { header, rows } = spanRows(stats.rows, true, withUnclosed);
    lines.push('', ...formatTable(header, rows, new Set(header.map((_, i) => i).slice(1))));
    if (stats.omitted > 0) lines.push(`… and ${stats.omitted} more span name(s) (--json lists them all)`);
    if (withUnclosed) lines.push('Unclosed spans (no end before the run ended) are counted apart and left out of the durations.');
  }
  if (t.events.length > 0) {
    const stats = listed(eventStats(t.events));
    const rows = stats.rows.map((e) => [e.name, String(e.count), String(e.min), String(e.max), String(e.last)]);
    lines.push('', ...formatTable(['EVENT', 'COUNT', 'MIN', 'MAX', 'LAST'], rows, new Set([1, 2, 3, 4])));
    if (stats.omitted > 0) lines.push(`… and ${stats.omitted} more event name(s) (--json lists them all)`);
  }
  return lines;
}
