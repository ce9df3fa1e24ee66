// `ukernel logs [RUN] [--follow] [--list] [--raw]`: the console log of the last (or a named)
// run, sanitized like the live console; `--follow` keeps printing while the run goes on and
// stops when the ukernel process writing it is gone.
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { FOLLOW_POLL_MS, LOG_TAIL_SCAN_BYTES } from '../constants.js';
import { ConsoleDecoder } from '../console/stream.js';
import { parseRecordLine } from '../console/records.js';
import { sanitizeLine } from '../console/sanitize.js';
import { displayPath } from '../fsutil.js';
import { formatBytes } from '../format.js';
import { findProjectRoot } from '../project/locate.js';
import { liveRun, listRuns, processAlive, resolveRunLog, type RunEntry } from '../runlog.js';
import { errColors, writeErr, writeOut } from '../ui.js';

export interface RawLogsOptions {
  follow?: boolean;
  list?: boolean;
  raw?: boolean;
}

export interface LogsDeps {
  cwd: string;
  out: (line: string) => void;
  notice: (line: string) => void;
  pollMs: number;
}

/** Console bytes → printable lines: records hidden (unless raw), everything sanitized. */
class LogPrinter {
  private readonly decoder = new ConsoleDecoder();
  private pending = Buffer.alloc(0);

  constructor(
    private readonly raw: boolean,
    private readonly out: (line: string) => void,
  ) {}

  push(chunk: Buffer): void {
    if (!this.raw) {
      for (const event of this.decoder.push(chunk, 0n)) if (event.type !== 'record') this.out(event.text);
      return;
    }
    // Raw: every line as it is (records included), still sanitized.
    let data = Buffer.concat([this.pending, chunk]);
    for (let newline = data.indexOf(0x0a); newline >= 0; newline = data.indexOf(0x0a)) {
      const line = data.subarray(0, newline);
      this.out(sanitizeLine(line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line));
      data = data.subarray(newline + 1);
    }
    this.pending = Buffer.from(data);
  }

  end(): void {
    if (!this.raw) {
      for (const event of this.decoder.end()) if (event.type !== 'record') this.out(event.text);
    } else if (this.pending.length > 0) {
      this.out(sanitizeLine(this.pending));
      this.pending = Buffer.alloc(0);
    }
  }
}

export async function logs(run: string | undefined, raw: RawLogsOptions, deps: Partial<LogsDeps> = {}): Promise<number> {
  const cwd = deps.cwd ?? process.cwd();
  const out = deps.out ?? writeOut;
  const notice = deps.notice ?? ((line: string) => writeErr(errColors().dim(line)));
  const base = findProjectRoot(cwd) ?? cwd;
  if (raw.list === true) {
    for (const line of formatRunList(listRuns(base), liveRun(base)?.log ?? null, base, cwd)) out(line);
    return 0;
  }
  const log = resolveRunLog(base, run);
  const printer = new LogPrinter(raw.raw === true, out);
  const live = liveRun(base);
  const following = raw.follow === true && live !== null && join(base, live.log) === log.path;
  const fd = openSync(log.path, 'r');
  try {
    let offset = drain(fd, 0, printer);
    if (raw.follow === true && !following) notice(`ukernel: run ${log.name} is not running; nothing to follow`);
    if (following) {
      const pollMs = deps.pollMs ?? FOLLOW_POLL_MS;
      // Bounded by the writer: stop once the ukernel process that writes the log is gone.
      while (processAlive(live.pid)) {
        await new Promise((r) => setTimeout(r, pollMs));
        offset = drain(fd, offset, printer);
      }
      offset = drain(fd, offset, printer);
      notice(`ukernel: run ${log.name} ended (ukernel pid ${live.pid} exited)`);
    }
  } finally {
    closeSync(fd);
  }
  printer.end();
  return 0;
}

/** Print everything from `offset` to the current end; returns the new offset. */
function drain(fd: number, offset: number, printer: LogPrinter): number {
  const size = fstatSync(fd).size;
  const chunk = Buffer.alloc(64 * 1024);
  while (offset < size) {
    const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - offset), offset);
    if (n === 0) break;
    printer.push(Buffer.from(chunk.subarray(0, n)));
    offset += n;
  }
  return offset;
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
    const tail = Buffer.alloc(length);
    readSync(fd, tail, 0, length, size - length);
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

export function formatRunList(runs: RunEntry[], liveLog: string | null, base: string, cwd: string): string[] {
  if (runs.length === 0) return [`no runs recorded under ${displayPath(cwd, join(base, 'logs/runs'))}`];
  const rows = runs.map((r) => {
    const live = liveLog !== null && join(base, liveLog) === r.path;
    const status = live ? 'running' : (exitStatusOf(r.path)?.toString() ?? '-');
    return [r.name, r.started.toISOString().replace(/\.\d{3}Z$/, 'Z'), status, formatBytes(r.bytes)];
  });
  const header = ['RUN', 'STARTED', 'STATUS', 'SIZE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
}
