// Run logs: each run's raw console goes to logs/runs/<UTC timestamp>-<pid>.log, its events device
// (docs/observability.md) to <…>.events and, once it is over, its report to <…>.json;
// logs/console.log is a hard link to the latest log (a copy when links are not possible);
// logs/.running names the log of a run in progress and its pid, for `ukernel logs --follow`.
import { copyFileSync, linkSync, openSync, closeSync, readdirSync, readFileSync, renameSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CONSOLE_LOG_PATH,
  RUN_EVENTS_SUFFIX,
  RUN_LOG_SUFFIX,
  RUN_LOGS_DIR,
  RUN_LOGS_KEPT_MAX,
  RUN_REPORT_SUFFIX,
  RUN_VMM_LOG_SUFFIX,
  RUNNING_MARKER_PATH,
} from './constants.js';
import { UkernelError } from './errors.js';
import { errnoCode, removeQuietly, tempPathFor, writeFileAtomic } from './fsutil.js';

const RUN_LOG_RE = /^(\d{8}T\d{6}Z)-(\d+)\.log$/;
/** Every file that belongs to a run: its log, events device and report. */
const RUN_FILE_RE = /^(\d{8}T\d{6}Z-\d+)\.(log|events|json|vmm\.log)$/;

/** 2025-11-23T09:04:12.345Z → 20251123T090412Z */
export function runStamp(now: Date): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** Where one run's files go. */
export interface RunPaths {
  /** `20251123T090412Z-1234` */
  name: string;
  /** The console log, logs/runs/NAME.log. */
  path: string;
  /** The events device, logs/runs/NAME.events. */
  eventsPath: string;
  /** The report written when the run is over, logs/runs/NAME.json. */
  reportPath: string;
  /** The VMM's own log, when it keeps one apart from the console (Firecracker):
   *  logs/runs/NAME.vmm.log. */
  vmmLogPath: string;
}

/** The paths of a run started at `now` by `pid` (nothing is created). */
export function planRun(base: string, now: Date = new Date(), pid: number = process.pid): RunPaths {
  return runPaths(join(base, RUN_LOGS_DIR), `${runStamp(now)}-${pid}`);
}

export function runPaths(runsDir: string, name: string): RunPaths {
  return {
    name,
    path: join(runsDir, `${name}${RUN_LOG_SUFFIX}`),
    eventsPath: join(runsDir, `${name}${RUN_EVENTS_SUFFIX}`),
    reportPath: join(runsDir, `${name}${RUN_REPORT_SUFFIX}`),
    vmmLogPath: join(runsDir, `${name}${RUN_VMM_LOG_SUFFIX}`),
  };
}

export interface RunLog extends RunPaths {
  /** The run's own log (logs/runs/…). */
  path: string;
  /** logs/console.log. */
  consolePath: string;
  /** Call once the run is over (whatever happened). */
  finish(): void;
}

export interface RunningMarker {
  pid: number;
  /** Relative to the logs base (logs/runs/…). */
  log: string;
}

/**
 * Create the run's log, point logs/console.log at it, mark the run as in progress, and prune
 * old runs. `planned` (from planRun) when the paths were needed before, e.g. for the VMM's argv.
 */
export function startRunLog(base: string, now: Date = new Date(), pid: number = process.pid, planned?: RunPaths): RunLog {
  const runsDir = join(base, RUN_LOGS_DIR);
  const paths = planned ?? planRun(base, now, pid);
  const name = `${paths.name}${RUN_LOG_SUFFIX}`;
  const path = paths.path;
  const consolePath = join(base, CONSOLE_LOG_PATH);
  const markerPath = join(base, RUNNING_MARKER_PATH);
  try {
    mkdirSync(runsDir, { recursive: true });
    closeSync(openSync(path, 'w', 0o644));
  } catch (err) {
    throw new UkernelError('OutputUnwritable', `cannot create run log ${join(RUN_LOGS_DIR, name)}: ${errnoCode(err)}`, { cause: err });
  }
  let linked = false;
  const temp = tempPathFor(consolePath);
  try {
    removeQuietly(temp);
    linkSync(path, temp);
    renameSync(temp, consolePath);
    linked = true;
  } catch {
    removeQuietly(temp); // e.g. a file system without hard links: copy at the end instead
  }
  const marker: RunningMarker = { pid, log: `${RUN_LOGS_DIR}/${name}` };
  writeFileAtomic(markerPath, `${JSON.stringify(marker)}\n`, { display: RUNNING_MARKER_PATH });
  pruneRunLogs(runsDir, RUN_LOGS_KEPT_MAX);
  let finished = false;
  return {
    ...paths,
    path,
    consolePath,
    finish() {
      if (finished) return;
      finished = true;
      if (!linked) {
        try {
          copyFileSync(path, temp);
          renameSync(temp, consolePath);
        } catch {
          removeQuietly(temp);
        }
      }
      // Only our own marker: a run started after ours owns the current one.
      if (readRunningMarker(base)?.pid === pid) removeQuietly(markerPath);
    },
  };
}

/** Delete the oldest runs (log, events and report) so that at most `keep` remain. */
export function pruneRunLogs(runsDir: string, keep: number): void {
  let names: string[];
  try {
    names = readdirSync(runsDir);
  } catch {
    return;
  }
  const byRun = new Map<string, string[]>();
  for (const file of names) {
    const match = RUN_FILE_RE.exec(file);
    if (match === null) continue;
    const files = byRun.get(match[1]!) ?? [];
    files.push(file);
    byRun.set(match[1]!, files);
  }
  const runs = [...byRun.keys()].sort();
  for (const run of runs.slice(0, Math.max(0, runs.length - keep))) {
    for (const file of byRun.get(run)!) removeQuietly(join(runsDir, file));
  }
}

function listRunLogNames(runsDir: string): string[] {
  try {
    return readdirSync(runsDir)
      .filter((name) => RUN_LOG_RE.test(name))
      .sort();
  } catch {
    return [];
  }
}

export function readRunningMarker(base: string): RunningMarker | null {
  try {
    const marker = JSON.parse(readFileSync(join(base, RUNNING_MARKER_PATH), 'utf8')) as Partial<RunningMarker>;
    if (typeof marker.pid !== 'number' || !Number.isInteger(marker.pid) || marker.pid <= 0) return null;
    if (typeof marker.log !== 'string' || !RUN_LOG_RE.test(marker.log.slice(RUN_LOGS_DIR.length + 1))) return null;
    return { pid: marker.pid, log: marker.log };
  } catch {
    return null;
  }
}

/** Alive and not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoCode(err) !== 'EPERM') return false;
  }
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true; // No /proc: trust kill(0).
  }
}

/** The marker when its run is still going (the writing ukernel process exists). */
export function liveRun(base: string): RunningMarker | null {
  const marker = readRunningMarker(base);
  return marker !== null && processAlive(marker.pid) ? marker : null;
}

export interface RunEntry {
  /** `20251123T090412Z-1234` */
  name: string;
  path: string;
  started: Date;
  pid: number;
  bytes: number;
}

export function listRuns(base: string): RunEntry[] {
  const runsDir = join(base, RUN_LOGS_DIR);
  return listRunLogNames(runsDir).map((file) => {
    const [, stamp, pid] = RUN_LOG_RE.exec(file)!;
    const iso = `${stamp!.slice(0, 4)}-${stamp!.slice(4, 6)}-${stamp!.slice(6, 8)}T${stamp!.slice(9, 11)}:${stamp!.slice(11, 13)}:${stamp!.slice(13, 15)}Z`;
    let bytes = 0;
    try {
      bytes = statSync(join(runsDir, file)).size;
    } catch {
      // Deleted meanwhile: size 0.
    }
    return { name: file.slice(0, -'.log'.length), path: join(runsDir, file), started: new Date(iso), pid: Number(pid), bytes };
  });
}

export interface ResolvedRun {
  path: string;
  name: string;
  /** The run's events device and report (which may not exist); null for a log outside logs/runs. */
  eventsPath: string | null;
  reportPath: string | null;
}

/** The log a `ukernel logs [RUN]` means: the named run (full name or unique prefix) or the latest. */
export function resolveRunLog(base: string, run: string | undefined): ResolvedRun {
  const runsDir = join(base, RUN_LOGS_DIR);
  const of = (entry: RunEntry): ResolvedRun => {
    const paths = runPaths(runsDir, entry.name);
    return { path: entry.path, name: entry.name, eventsPath: paths.eventsPath, reportPath: paths.reportPath };
  };
  const runs = listRuns(base);
  if (run === undefined) {
    const consolePath = join(base, CONSOLE_LOG_PATH);
    try {
      statSync(consolePath);
    } catch {
      throw new UkernelError('RunLogNotFound', `no runs recorded yet: ${CONSOLE_LOG_PATH} does not exist under ${base}`, {
        hint: 'Start one with `ukernel run`.',
      });
    }
    const latest = runs.at(-1);
    if (latest !== undefined && sameFile(latest.path, consolePath)) return of(latest);
    return { path: consolePath, name: latest?.name ?? 'console', eventsPath: null, reportPath: null };
  }
  const wanted = run.replace(/^.*\//, '').replace(/\.(log|events|json)$/, '');
  const matches = runs.filter((r) => r.name.startsWith(wanted));
  if (matches.length === 1) return of(matches[0]!);
  const why = matches.length === 0 ? 'no such run' : `"${wanted}" matches ${matches.length} runs`;
  throw new UkernelError('RunLogNotFound', `${why} in ${RUN_LOGS_DIR}`);
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

/** Remove logs/.running if it names a process that is gone (a run killed with SIGKILL). */
export function clearStaleMarker(base: string): void {
  const marker = readRunningMarker(base);
  if (marker !== null && !processAlive(marker.pid)) rmSync(join(base, RUNNING_MARKER_PATH), { force: true });
}
