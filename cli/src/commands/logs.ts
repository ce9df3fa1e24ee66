// `ukernel logs [RUN] [--follow] [--list] [--raw] [--level L] [--json]`: the console log of the
// last started (or a named) run, sanitized like the live console, merged with the log records of
// its events device (docs/observability.md); `--follow` keeps printing while that run goes on and
// stops when it is over (its running marker is gone, or the process that ran it is).
import { closeSync, openSync, readFileSync, fstatSync, statSync } from 'node:fs';
import { readAt, readChunks } from '../io.js';
import { join } from 'node:path';
import {
  FOLLOW_POLL_MS,
  LOG_READ_CHUNK_BYTES,
  LOG_TAIL_SCAN_BYTES,
  RUN_LOGS_DIR,
  RUN_REPORT_BYTES_MAX,
  RUN_VMM_LOG_SUFFIX,
} from '../constants.js';
import { ConsoleDecoder, type ConsoleEvent } from '../console/stream.js';
import { parseRecordLine } from '../console/records.js';
import { sanitizeLine } from '../console/sanitize.js';
import { UkernelError } from '../errors.js';
import { displayPath } from '../fsutil.js';
import { formatBytes } from '../format.js';
import { EventsReader, LOG_LEVELS, openEventsFile, type ChannelRecord, type LogEvent, type LogLevel } from '../observe/events.js';
import { droppedNote } from '../observe/run-data.js';
import { findProjectRoot } from '../project/locate.js';
import { lastRunName, listRuns, resolveRunLog, runState, type RunEntry } from '../runlog.js';
import { errColors, writeErr, writeOut } from '../ui.js';

export interface RawLogsOptions {
  follow?: boolean;
  /** The VMM's own log (logs/runs/NAME.vmm.log) instead of the guest's. */
  vmm?: boolean;
  list?: boolean;
  raw?: boolean;
  level?: string;
  json?: boolean;
}

export interface LogsDeps {
  cwd: string;
  out: (line: string) => void;
  notice: (line: string) => void;
  pollMs: number;
}

/** Console text counts as this level for --level. */
const CONSOLE_LEVEL = LOG_LEVELS.indexOf('info');

/** `+12.345ms info  [task 1] message key=value`. */
export function formatLogRecord(record: LogEvent): string {
  const fields = record.fields.map(([key, value]) => ` ${key}=${quoteValue(value)}`).join('');
  return `+${(record.tNs / 1e6).toFixed(3)}ms ${record.level.padEnd(5)} [task ${record.task}] ${record.message}${fields}`;
}

/** Values with spaces, quotes or `=` (or empty) are quoted, so that fields stay readable. */
function quoteValue(value: string): string {
  return value === '' || /[\s"=]/.test(value) ? `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"` : value;
}

export function logRecordJson(record: LogEvent): string {
  return JSON.stringify({
    type: 'log',
    t_ns: record.tNs,
    level: record.level,
    task: record.task,
    message: record.message,
    fields: Object.fromEntries(record.fields),
  });
}

/** Something from the events device, shown in guest-time order. */
type Timed =
  | { tNs: number; type: 'log'; record: LogEvent }
  /** A line of the workload's console output, or (with --raw) a kernel record. */
  | { tNs: number; type: 'console' | 'record'; text: string };

/**
 * The serial console's lines in the order they came, merged with what the events device carries
 * in guest-time order (the workload's console output, its log records, and with --raw the kernel's
 * records): an events item is shown before the first serial line that follows a serial record
 * (boot, workload, trace, mark) stamped later than it. Serial lines carry no guest time; the
 * kernel stamps them with `@uk:mark` when it writes there while an events device is attached.
 */
class LogView {
  private readonly decoder: ConsoleDecoder;
  /** The workload's console output from the events device: text only, never records. */
  private readonly output = new ConsoleDecoder({ serial: false });
  /** Guest time of the latest stamped console record. */
  private anchorNs = 0;
  /** Events items not shown yet, sorted by t_ns. */
  private pending: Timed[] = [];

  constructor(
    private readonly raw: boolean,
    private readonly json: boolean,
    private readonly minLevel: number,
    private readonly out: (line: string) => void,
  ) {
    this.decoder = new ConsoleDecoder({ recordText: raw });
  }

  addRecords(records: readonly ChannelRecord[]): void {
    const items: Timed[] = [];
    for (const r of records) {
      if (r.kind === 'log') {
        if (LOG_LEVELS.indexOf(r.level) >= this.minLevel) items.push({ tNs: r.tNs, type: 'log', record: r });
      } else if (r.kind === 'output') {
        for (const event of this.output.push(r.bytes, BigInt(r.tNs))) this.outputLine(event, items);
      } else if (r.kind === 'kernel' && this.raw) {
        items.push({ tNs: r.tNs, type: 'record', text: sanitizeLine(r.line) });
      }
    }
    this.add(items);
  }

  /** The end of the events device: a last output line without "\n" is shown too. */
  endRecords(): void {
    const items: Timed[] = [];
    for (const event of this.output.end()) this.outputLine(event, items);
    this.add(items);
  }

  private outputLine(event: ConsoleEvent, items: Timed[]): void {
    if (event.type === 'text') items.push({ tNs: Number(event.atNs), type: 'console', text: event.text });
  }

  private add(items: Timed[]): void {
    if (items.length === 0) return;
    const sortedAlready = this.pending.length === 0 || items[0]!.tNs >= this.pending.at(-1)!.tNs;
    for (const item of items) this.pending.push(item);
    if (!sortedAlready || !items.every((r, i) => i === 0 || r.tNs >= items[i - 1]!.tNs))
      this.pending.sort((a, b) => a.tNs - b.tNs);
  }

  pushConsole(chunk: Buffer): void {
    for (const event of this.decoder.push(chunk, 0n)) this.consoleEvent(event);
  }

  endConsole(): void {
    for (const event of this.decoder.end()) this.consoleEvent(event);
  }

  /** Show the events items up to `untilNs` (all of them by default). */
  flushRecords(untilNs: number = Infinity): void {
    let shown = 0;
    while (shown < this.pending.length && this.pending[shown]!.tNs <= untilNs) {
      const item = this.pending[shown]!;
      if (item.type === 'log') this.out(this.json ? logRecordJson(item.record) : formatLogRecord(item.record));
      else this.line(item.type, item.text);
      shown++;
    }
    if (shown > 0) this.pending = this.pending.slice(shown);
  }

  private consoleEvent(event: ConsoleEvent): void {
    if (event.type === 'record') {
      const r = event.record;
      const stamp =
        r.kind === 'boot' ? r.readyNs : r.kind === 'workload' || r.kind === 'trace' || r.kind === 'mark' ? r.tNs : null;
      if (stamp !== null && stamp > this.anchorNs) this.anchorNs = stamp;
      this.flushRecords(this.anchorNs);
      if (event.text !== undefined) this.line('record', event.text);
      return;
    }
    this.flushRecords(this.anchorNs);
    this.line('console', event.text);
  }

  private line(type: 'console' | 'record', text: string): void {
    if (this.minLevel > CONSOLE_LEVEL) return;
    this.out(this.json ? JSON.stringify({ type, text }) : text);
  }
}

function parseLevel(level: string | undefined): number {
  if (level === undefined) return 0;
  const index = LOG_LEVELS.indexOf(level as LogLevel);
  if (index < 0) {
    throw new UkernelError('InvalidOption', `--level must be debug, info, warn or error, not "${level.slice(0, 40)}"`, {
      hint: 'ukernel logs --level warn shows warnings and errors only (console text counts as info).',
    });
  }
  return index;
}

/** The run's events file, read as it grows; null when the run has none (yet). */
function openEvents(
  path: string | null,
  display: (p: string) => string,
  notice: (line: string) => void,
): { reader: EventsReader; close(): void } | null {
  if (path === null) return null;
  const opened = openEventsFile(path);
  if (opened === null) return null;
  if ('error' in opened) {
    notice(`ukernel: cannot read ${display(path)} (${opened.error}); showing the console only`);
    return null;
  }
  return { reader: new EventsReader(opened.source), close: opened.close };
}

function reportEvents(reader: EventsReader, path: string, notice: (line: string) => void): void {
  const header = reader.headerState;
  if (header !== null && !header.ok) notice(`ukernel: ${path}: ${header.reason}; its records are skipped`);
  for (const issue of reader.issues) notice(`ukernel: ${path}: ${issue}`);
  if (reader.stats.droppedRecords > 0) notice(`ukernel: ${droppedNote(reader.stats.droppedRecords)}`);
}

export async function logs(run: string | undefined, raw: RawLogsOptions, deps: Partial<LogsDeps> = {}): Promise<number> {
  const cwd = deps.cwd ?? process.cwd();
  const out = deps.out ?? writeOut;
  const notice = deps.notice ?? ((line: string) => writeErr(errColors().dim(line)));
  const minLevel = parseLevel(raw.level);
  const base = findProjectRoot(cwd) ?? cwd;
  if (raw.list === true) {
    const runs = listRuns(base);
    const last = lastRunName(base);
    if (raw.json === true) out(JSON.stringify(runListJson(runs, last)));
    else for (const line of formatRunList(runs, base, cwd)) out(line);
    return 0;
  }
  // Resolved once: the name, log, events file and marker below all belong to the same run.
  const log = resolveRunLog(base, run);
  const display = (path: string): string => displayPath(cwd, path);
  if (raw.vmm === true)
    return showVmmLog(log.path.replace(/\.log$/, RUN_VMM_LOG_SUFFIX), log.name, display, raw.json === true, out);
  const view = new LogView(raw.raw === true, raw.json === true, minLevel, out);
  const running = log.state === 'running';
  const following = raw.follow === true && running;
  let events = openEvents(log.eventsPath, display, notice);
  const fd = openSync(log.path, 'r');
  try {
    if (raw.follow === true && !following)
      notice(
        `ukernel: run ${log.name} is ${log.state === 'killed' ? 'not running (killed before it finished)' : 'not running'}; nothing to follow`,
      );
    if (!following) {
      // Everything is there: all log records first (sorted), then the console streamed past them.
      // (A run still going without --follow: a block being written is not reported as damaged.)
      if (events !== null) view.addRecords(events.reader.poll(!running));
      view.endRecords();
      drain(fd, 0, view);
      view.endConsole();
      view.flushRecords();
    } else {
      const pollMs = deps.pollMs ?? FOLLOW_POLL_MS;
      let offset = 0;
      // Bounded by the run: stop once it is over (marker removed) or its process is gone.
      let state = log.state;
      for (let going = true; ; ) {
        events ??= openEvents(log.eventsPath, display, notice);
        if (events !== null) view.addRecords(events.reader.poll(!going));
        offset = drain(fd, offset, view);
        view.flushRecords(); // as they come: a record is not held back for console lines
        if (!going) break;
        await new Promise((r) => setTimeout(r, pollMs));
        state = runState(log.markerPath!);
        going = state === 'running';
      }
      view.endRecords();
      view.endConsole();
      view.flushRecords();
      notice(`ukernel: run ${log.name} ${state === 'killed' ? 'was killed before it finished' : 'ended'}`);
    }
    if (events !== null && log.eventsPath !== null) reportEvents(events.reader, display(log.eventsPath), notice);
  } finally {
    closeSync(fd);
    events?.close();
  }
  return 0;
}

/** `logs --vmm`: the VMM's own log, sanitized like guest output (it quotes guest-controlled text). */
function showVmmLog(
  path: string,
  run: string,
  display: (p: string) => string,
  json: boolean,
  out: (line: string) => void,
): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new UkernelError('RunLogNotFound', `run ${run} has no VMM log (${display(path)})`, {
      hint: 'Only Firecracker keeps a log of its own (`ukernel run --vmm firecracker`); QEMU prints its messages on stderr, shown when it fails.',
    });
  }
  try {
    const decoder = new ConsoleDecoder({ serial: false });
    const emit = (events: ConsoleEvent[]): void => {
      for (const event of events)
        if (event.type === 'text') out(json ? JSON.stringify({ type: 'vmm', text: event.text }) : event.text);
    };
    readChunks(fd, 0, fstatSync(fd).size, LOG_READ_CHUNK_BYTES, (chunk) => emit(decoder.push(chunk, 0n)));
    emit(decoder.end());
  } finally {
    closeSync(fd);
  }
  return 0;
}

/** Print everything from `offset` to the current end; returns the new offset. */
function drain(fd: number, offset: number, view: LogView): number {
  return readChunks(fd, offset, fstatSync(fd).size, LOG_READ_CHUNK_BYTES, (chunk) => view.pushConsole(chunk));
}

/** The guest status from the last `@uk:exit` record near the end of a log, or null. */
export function exitStatusOf(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, LOG_TAIL_SCAN_BYTES);
    const tail = readAt(fd, size - length, length);
    let status: number | null = null;
    for (const line of tail.toString('latin1').split('\n')) {
      const parsed = parseRecordLine(Buffer.from(line.replace(/\r$/, ''), 'latin1'));
      if (parsed.type === 'record' && parsed.record.kind === 'exit') status = parsed.record.status;
    }
    return status;
  } finally {
    closeSync(fd);
  }
}

/** The guest status of a run: from its report when there is one, else its log's `@uk:exit`. */
function runStatus(r: RunEntry): number | null {
  try {
    if (statSync(r.reportPath).size > RUN_REPORT_BYTES_MAX) return exitStatusOf(r.path);
    const report = JSON.parse(readFileSync(r.reportPath, 'utf8')) as { status?: unknown };
    if (typeof report.status === 'number' && Number.isInteger(report.status) && report.status >= 0 && report.status <= 255)
      return report.status;
  } catch {
    // No report (killed, running, or older than run reports): the log then.
  }
  return exitStatusOf(r.path);
}

/** `logs --list`: oldest first; STATE is running, finished or killed (runlog.ts RunState). */
export function formatRunList(runs: RunEntry[], base: string, cwd: string): string[] {
  if (runs.length === 0) return [`no runs recorded under ${displayPath(cwd, join(base, RUN_LOGS_DIR))}`];
  const rows = runs.map((r) => {
    const status = r.state === 'running' ? '-' : (runStatus(r)?.toString() ?? '-');
    return [r.name, r.started.toISOString().replace(/\.\d{3}Z$/, 'Z'), r.state, status, formatBytes(r.bytes)];
  });
  const header = ['RUN', 'STARTED', 'STATE', 'STATUS', 'SIZE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

/** `logs --list --json`: one object; `last` is the run `logs`/`trace`/`perf` show without RUN. */
export function runListJson(runs: RunEntry[], last: string | null): Record<string, unknown> {
  return {
    last,
    runs: runs.map((r) => ({
      name: r.name,
      started: r.started.toISOString().replace(/\.\d{3}Z$/, 'Z'),
      pid: r.pid,
      state: r.state,
      status: r.state === 'running' ? null : runStatus(r),
      bytes: r.bytes,
      log: r.path,
      events: r.eventsPath,
      report: r.reportPath,
    })),
  };
}
