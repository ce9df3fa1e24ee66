// `ukernel perf [RUN] [--json]`: where a run's cold start went — VMM start → kernel entry (host,
// from the run's report), each kernel boot phase (`@uk:boot`), entry → workload start and the
// kernel's steps before it (`@uk:workload`), the first log or trace record, the workload's run
// time — and the latency percentiles of its spans by name.
import { formatDuration, formatTable } from '../format.js';
import { loadRun, type LoadedRun } from '../observe/run-data.js';
import { buildTrace, listed, spanStats } from '../observe/trace.js';
import { findProjectRoot } from '../project/locate.js';
import { errColors, writeErr, writeOut } from '../ui.js';
import { spanRows } from './trace.js';

export interface RawPerfOptions {
  json?: boolean;
}

export interface PerfDeps {
  cwd: string;
  out: (line: string) => void;
  notice: (line: string) => void;
}

export interface ColdStart {
  /** Host: VMM spawned → kernel entry (estimated from the boot record's arrival). */
  vmm_start_to_entry_ns: number | null;
  /** Each boot phase: ns since entry at its end, and how long it took. */
  phases: Array<{ name: string; at_ns: number; took_ns: number }>;
  entry_to_workload_start_ns: number | null;
  /** The kernel's steps before the workload started (disk, image, load). */
  workload_steps_ns: Record<string, number>;
  /** The earliest log or trace record (guest ns since entry). */
  entry_to_first_event_ns: number | null;
  /** `@uk:workload event=exit` t_ns − `event=start` t_ns. */
  workload_run_ns: number | null;
  /** Host: VMM spawned → VMM exited. */
  total_ns: number | null;
}

export async function perf(run: string | undefined, raw: RawPerfOptions, deps: Partial<PerfDeps> = {}): Promise<number> {
  const cwd = deps.cwd ?? process.cwd();
  const out = deps.out ?? writeOut;
  const notice = deps.notice ?? ((line: string) => writeErr(errColors().dim(line)));
  const base = findProjectRoot(cwd) ?? cwd;
  const loaded = loadRun(base, run, cwd);
  for (const note of loaded.notes) notice(`ukernel: ${note}`);
  const cold = coldStart(loaded);
  const spans = spanStats(buildTrace(loaded.records, loaded.workloadExit?.tNs ?? null).spans);
  if (raw.json === true) {
    out(
      JSON.stringify({
        run: loaded.name,
        state: loaded.state,
        vmm: loaded.report?.vmm ?? null,
        accel: loaded.report?.accel ?? null,
        status: loaded.exit?.status ?? loaded.report?.status ?? null,
        cold_start: cold,
        spans: spans.map(({ name, count, p50_ns, p90_ns, p99_ns, max_ns }) => ({ name, count, p50_ns, p90_ns, p99_ns, max_ns })),
        notes: loaded.notes,
      }),
    );
  } else {
    for (const line of formatPerf(loaded, cold, spans)) out(line);
  }
  return 0;
}

export function coldStart(loaded: LoadedRun): ColdStart {
  const phases: ColdStart['phases'] = [];
  let previous = 0;
  for (const [name, at] of loaded.boot?.phasesNs ?? []) {
    phases.push({ name, at_ns: at, took_ns: at - previous });
    previous = at;
  }
  const start = loaded.workloadStart?.tNs ?? null;
  const exit = loaded.workloadExit?.tNs ?? null;
  let first: number | null = null;
  for (const r of loaded.records) if (first === null || r.tNs < first) first = r.tNs;
  return {
    vmm_start_to_entry_ns: loaded.report?.spawnToEntryNs ?? null,
    phases,
    entry_to_workload_start_ns: start,
    workload_steps_ns: Object.fromEntries(loaded.workloadStart?.stepsNs ?? []),
    entry_to_first_event_ns: first,
    workload_run_ns: start !== null && exit !== null ? Math.max(0, exit - start) : null,
    total_ns: loaded.report?.totalNs ?? null,
  };
}

const d = (ns: number | null): string => (ns === null ? '-' : formatDuration(ns));

export function formatPerf(loaded: LoadedRun, cold: ColdStart, spans: ReturnType<typeof spanStats>): string[] {
  const report = loaded.report;
  const status = loaded.exit?.status ?? report?.status ?? null;
  const on = report?.vmm != null && report.accel != null ? ` on ${report.vmm}/${report.accel}` : '';
  const lines = [`Cold start of run ${loaded.name}${on}${status !== null ? `, status ${status}` : ''}`, ''];
  const rows: string[][] = [];
  rows.push(['vmm start → kernel entry', d(cold.vmm_start_to_entry_ns), '', 'host']);
  for (const phase of cold.phases) rows.push([`  boot phase ${phase.name}`, d(phase.took_ns), d(phase.at_ns), 'guest']);
  if (cold.entry_to_workload_start_ns !== null) {
    const ready = cold.phases.at(-1)?.at_ns ?? 0;
    rows.push([
      'ready → workload start',
      d(Math.max(0, cold.entry_to_workload_start_ns - ready)),
      d(cold.entry_to_workload_start_ns),
      'guest',
    ]);
    for (const [name, ns] of Object.entries(cold.workload_steps_ns)) rows.push([`  ${name}`, d(ns), '', 'guest']);
  } else {
    rows.push(['entry → workload start', '-', '', 'no @uk:workload record']);
  }
  rows.push([
    'entry → first event',
    d(cold.entry_to_first_event_ns),
    d(cold.entry_to_first_event_ns),
    cold.entry_to_first_event_ns === null ? 'no log or trace records' : 'guest',
  ]);
  rows.push(['workload run', d(cold.workload_run_ns), d(loaded.workloadExit?.tNs ?? null), 'guest']);
  rows.push(['total (vmm start → exit)', d(cold.total_ns), '', 'host']);
  lines.push(...formatTable(['STEP', 'TOOK', 'AT (since entry)', 'CLOCK'], rows, new Set([1, 2])));
  if (spans.length > 0) {
    const shown = listed(spans);
    const { header, rows: spanTable } = spanRows(shown.rows, false, false);
    lines.push('', ...formatTable(header, spanTable, new Set(header.map((_, i) => i).slice(1))));
    if (shown.omitted > 0) lines.push(`… and ${shown.omitted} more span name(s) (--json lists them all)`);
  }
  return lines;
}
