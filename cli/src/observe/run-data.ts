// Everything recorded about one run, for `ukernel trace` and `ukernel perf`: the `@uk:` records of
// its console log (boot, workload, exit, and trace records sent without an events device), the
// records of its events device, and the report `ukernel run` wrote when it ended. All of it is
// read as untrusted input: problems become notes, never exceptions.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { readAt, readChunks } from '../io.js';
import { EVENTS_RECORDS_MAX, LOG_READ_CHUNK_BYTES, RUN_REPORT_BYTES_MAX } from '../constants.js';
import { parseRecordLine, type BootRecord, type ExitRecord, type UkRecord, type WorkloadRecord } from '../console/records.js';
import { ConsoleDecoder } from '../console/stream.js';
import { displayPath, printable } from '../fsutil.js';
import { resolveRunLog, type RunState } from '../runlog.js';
import { decodeEvents, openEventsFile, traceRecordToEvent, type EventRecord, type EventsStats } from './events.js';

/** The parts of a run report (`logs/runs/NAME.json`) that `perf` uses, checked. */
export interface StoredReport {
  vmm: string | null;
  accel: string | null;
  status: number | null;
  spawnToEntryNs: number | null;
  totalNs: number | null;
}

export interface LoadedRun {
  name: string;
  logPath: string;
  eventsPath: string | null;
  reportPath: string | null;
  /** When the run was resolved (runlog.ts RunState). */
  state: RunState;
  boot: BootRecord | null;
  workloadStart: WorkloadRecord | null;
  workloadExit: WorkloadRecord | null;
  exit: ExitRecord | null;
  /** Events device records, then console trace records, sorted by t_ns (stable). */
  records: EventRecord[];
  fromEvents: number;
  fromConsole: number;
  eventsStats: EventsStats | null;
  report: StoredReport | null;
  /** Things the user should know (missing files, damaged blocks, dropped records). */
  notes: string[];
}

/**
 * The named run, or the last started one (runlog.ts lastRunName), resolved once: its name, log,
 * events file and report always belong to the same run. `report`: also read the run's report
 * (host timings), noting when it is missing. Throws UK128 when there is no such run.
 */
export function loadRun(base: string, run: string | undefined, cwd: string, options: { report?: boolean } = {}): LoadedRun {
  const resolved = resolveRunLog(base, run);
  const loaded: LoadedRun = {
    name: resolved.name,
    logPath: resolved.path,
    eventsPath: resolved.eventsPath,
    reportPath: resolved.reportPath,
    state: resolved.state,
    boot: null,
    workloadStart: null,
    workloadExit: null,
    exit: null,
    records: [],
    fromEvents: 0,
    fromConsole: 0,
    eventsStats: null,
    report: null,
    notes: [],
  };
  if (resolved.state === 'running') loaded.notes.push(`run ${resolved.name} is still running: what it has written so far`);
  if (resolved.state === 'killed') loaded.notes.push(`run ${resolved.name} was killed before it finished`);
  if (resolved.eventsPath !== null) readEvents(loaded, resolved.eventsPath, cwd);
  scanConsole(loaded);
  loaded.records.sort((a, b) => a.tNs - b.tNs);
  if (resolved.reportPath !== null && options.report !== false)
    loaded.report = readReport(resolved.reportPath, displayPath(cwd, resolved.reportPath), loaded.notes);
  const atExit = loaded.exit?.eventsDropped ?? 0;
  if (atExit > 0) loaded.notes.push(`the guest dropped ${atExit} record(s) it could not write (events device full)`);
  return loaded;
}

function readEvents(loaded: LoadedRun, path: string, cwd: string): void {
  const display = displayPath(cwd, path);
  const opened = openEventsFile(path);
  if (opened === null) return; // a run from before the events device
  if ('error' in opened) {
    loaded.notes.push(`cannot read ${display} (${opened.error}); its records are skipped`);
    return;
  }
  try {
    const { records, reader } = decodeEvents(opened.source);
    const header = reader.headerState;
    if (header !== null && !header.ok) loaded.notes.push(`${display}: ${header.reason}; its records are skipped`);
    for (const issue of reader.issues) loaded.notes.push(`${display}: ${issue}`);
    if (reader.stats.droppedRecords > 0) {
      loaded.notes.push(droppedNote(reader.stats.droppedRecords));
    }
    if (reader.stats.unknownRecords > 0)
      loaded.notes.push(`${reader.stats.unknownRecords} record(s) of unknown kinds skipped (a newer kernel?)`);
    loaded.eventsStats = reader.stats;
    for (const r of records) {
      if (r.kind === 'output') continue;
      if (r.kind === 'kernel') {
        const parsed = parseRecordLine(r.line);
        if (parsed.type === 'record') noteRecord(loaded, parsed.record);
        continue;
      }
      loaded.records.push(r);
      loaded.fromEvents++;
    }
  } catch (err) {
    loaded.notes.push(`cannot read ${display} (${(err as NodeJS.ErrnoException).code ?? String(err)}); its records are skipped`);
  } finally {
    opened.close();
  }
}

/** The `@uk:` records of the console log, streamed in chunks (bounded memory). */
function scanConsole(loaded: LoadedRun): void {
  let fd: number;
  try {
    fd = openSync(loaded.logPath, 'r');
  } catch (err) {
    loaded.notes.push(`cannot read ${loaded.logPath} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return;
  }
  const decoder = new ConsoleDecoder();
  let capped = false;
  const take = (events: ReturnType<ConsoleDecoder['push']>): void => {
    for (const event of events) {
      if (event.type === 'record' && !noteRecord(loaded, event.record)) capped = true;
    }
  };
  try {
    readChunks(fd, 0, fstatSync(fd).size, LOG_READ_CHUNK_BYTES, (chunk) => take(decoder.push(chunk, 0n)));
    take(decoder.end());
  } finally {
    closeSync(fd);
  }
  if (capped) loaded.notes.push(`more than ${EVENTS_RECORDS_MAX} trace records: the rest of the console's are not read`);
}

/** Takes one kernel record (from either channel; the first of each kind counts). False when a
 *  trace record was left out because EVENTS_RECORDS_MAX was reached. */
function noteRecord(loaded: LoadedRun, record: UkRecord): boolean {
  switch (record.kind) {
    case 'boot':
      loaded.boot ??= record;
      return true;
    case 'workload':
      if (record.event === 'start') loaded.workloadStart ??= record;
      else loaded.workloadExit ??= record;
      return true;
    case 'exit':
      loaded.exit ??= record;
      return true;
    case 'trace':
      if (loaded.records.length >= EVENTS_RECORDS_MAX) return false;
      loaded.records.push(traceRecordToEvent(record));
      loaded.fromConsole++;
      return true;
    case 'mark':
    case 'net':
    case 'netstat':
      return true;
  }
}

function readReport(path: string, display: string, notes: string[]): StoredReport | null {
  let text: string;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    notes.push(
      code === 'ENOENT'
        ? `no run report ${display}: host timings unknown (the run did not finish, or predates run reports)`
        : `cannot read ${display} (${code ?? String(err)}): host timings unknown`,
    );
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    if (size > RUN_REPORT_BYTES_MAX) {
      notes.push(`${display} is ${size} bytes, not a run report: host timings unknown`);
      return null;
    }
    text = readAt(fd, 0, size).toString('utf8');
  } finally {
    closeSync(fd);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    notes.push(`${display} is not valid JSON: host timings unknown`);
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    notes.push(`${display} is not a run report: host timings unknown`);
    return null;
  }
  const report = parsed as Record<string, unknown>;
  const host = (typeof report.host === 'object' && report.host !== null ? report.host : {}) as Record<string, unknown>;
  return {
    vmm: word(report.vmm),
    accel: word(report.accel),
    status: count(report.status, 255),
    spawnToEntryNs: count(host.spawn_to_entry_ns),
    totalNs: count(host.total_ns),
  };
}

/** A non-negative safe integer (at most `max`), else null. */
function count(value: unknown, max: number = Number.MAX_SAFE_INTEGER): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max ? value : null;
}

function word(value: unknown): string | null {
  return typeof value === 'string' && /^[a-z0-9_-]{1,32}$/.test(value) ? printable(value) : null;
}

/** What the guest's dropped-record count means (docs/observability.md, the block's dropped_records). */
export function droppedNote(count: number): string {
  return `the guest dropped ${count} record(s): its events buffer was full while the device was busy, or a record was larger than the buffer (64 KiB)`;
}
