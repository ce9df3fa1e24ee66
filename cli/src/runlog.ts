// Run logs and per-run state (docs/observability.md, "Files of a run"). Each run is one name,
// `<UTC start second>-<ukernel pid>`, and every file of the run is derived from it once:
//   logs/runs/NAME.log      the raw console
//   logs/runs/NAME.events   the events device
//   logs/runs/NAME.json     the report, written when the run is over
//   logs/runs/NAME.running  present while the run goes on: which process runs it (pid + the
//                           process's start time, so a reused pid is not taken for it)
// logs/console.log is a symlink to the log of the run that started last: each run swaps it in
// with one rename when it starts, so it never dangles half-way and concurrent runs cannot
// corrupt it. "The last run" (what `logs`, `trace` and `perf` show without RUN) is that run.
import {
  copyFileSync,
  linkSync,
  lstatSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import {
  CONSOLE_LOG_PATH,
  RUN_EVENTS_SUFFIX,
  RUN_LOG_SUFFIX,
  RUN_LOGS_DIR,
  RUN_LOGS_KEPT_MAX,
  RUN_MARKER_BYTES_MAX,
  RUN_MARKER_SUFFIX,
  RUN_REPORT_SUFFIX,
  RUN_VM_CONFIG_SUFFIX,
  RUN_VMM_LOG_SUFFIX,
  RUNNING_MARKER_LEGACY_PATH,
} from './constants.js';
import { fileError, UkernelError } from './errors.js';
import { errnoCode, makeDirectory, removeQuietly, tempPathFor, writeFileAtomic } from './fsutil.js';

const RUN_NAME = String.raw`(\d{8}T\d{6}Z)-(\d{1,10})`;
const RUN_NAME_RE = new RegExp(`^${RUN_NAME}$`);
const RUN_LOG_RE = new RegExp(`^${RUN_NAME}\\.log$`);
/** Every file that belongs to a run: its log, events device, report, running marker and VMM log. */
const RUN_FILE_RE = new RegExp(`^(${RUN_NAME.replace(/[()]/g, '')})\\.(log|events|json|running|vmm\\.log|firecracker\\.json)$`);
/** /proc/sys/kernel/random/boot_id: a UUID. */
const BOOT_ID_RE = /^[0-9a-f-]{36}$/;

/** 2025-11-23T09:04:12.345Z → 20251123T090412Z */
export function runStamp(now: Date): string {
  return now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** Where one run's files go: all derived from its name, never looked up separately. */
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
  /** Firecracker's config file for the run, logs/runs/NAME.firecracker.json. */
  vmConfigPath: string;
  /** Present while the run goes on, logs/runs/NAME.running. */
  markerPath: string;
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
    vmConfigPath: join(runsDir, `${name}${RUN_VM_CONFIG_SUFFIX}`),
    markerPath: join(runsDir, `${name}${RUN_MARKER_SUFFIX}`),
  };
}

/**
 * Which process runs a run, robust to pid reuse: the pid, the process's start time in clock ticks
 * since boot (field 22 of /proc/PID/stat, proc(5)) and the boot it belongs to. Null fields: not
 * known (no /proc), then only the pid is checked.
 */
export interface ProcessIdentity {
  pid: number;
  startTicks: number | null;
  bootId: string | null;
}

/** Field 22 (starttime) of /proc/PID/stat; the command name (field 2) may hold spaces and `)`. */
export function readStartTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]); // fields[0] is field 3 (state)
  return Number.isSafeInteger(ticks) && ticks >= 0 ? ticks : null;
}

function readBootId(): string | null {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    return BOOT_ID_RE.test(id) ? id : null;
  } catch {
    return null;
  }
}

export function processIdentity(pid: number = process.pid): ProcessIdentity {
  return { pid, startTicks: readStartTicks(pid), bootId: readBootId() };
}

/** Alive, not a zombie, and the same process (same start time, same boot) as `id`. */
export function identityAlive(id: ProcessIdentity): boolean {
  if (id.bootId !== null) {
    const boot = readBootId();
    if (boot !== null && boot !== id.bootId) return false; // the machine rebooted since
  }
  let stat: string | null = null;
  try {
    stat = readFileSync(`/proc/${id.pid}/stat`, 'latin1');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ESRCH') {
      if (procMounted()) return false;
    }
  }
  if (stat === null) return killZero(id.pid); // no /proc: the pid is all there is
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return false;
  return id.startTicks === null || Number(fields[19]) === id.startTicks;
}

function procMounted(): boolean {
  try {
    statSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
}

function killZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/**
 * The marker's content, checked (it is a project file: untrusted). Null when it is absent;
 * 'invalid' when it exists but is not one `startRunLog` wrote (its run counts as killed).
 */
export function readRunMarker(markerPath: string): ProcessIdentity | 'invalid' | null {
  let text: string;
  try {
    if (statSync(markerPath).size > RUN_MARKER_BYTES_MAX) return 'invalid';
    text = readFileSync(markerPath, 'utf8');
  } catch (err) {
    return errnoCode(err) === 'ENOENT' ? null : 'invalid';
  }
  try {
    const m = JSON.parse(text) as Record<string, unknown>;
    const pid = m.pid;
    if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return 'invalid';
    const ticks = m.start_ticks;
    const boot = m.boot_id;
    return {
      pid,
      startTicks: typeof ticks === 'number' && Number.isSafeInteger(ticks) && ticks >= 0 ? ticks : null,
      bootId: typeof boot === 'string' && BOOT_ID_RE.test(boot) ? boot : null,
    };
  } catch {
    return 'invalid';
  }
}

/**
 * running: its marker names a live process (the same one that started it);
 * killed: its marker is there but that process is gone (SIGKILL, crash, reboot) — it never
 * finished; finished: no marker (removed once the run's report was written).
 */
export type RunState = 'running' | 'finished' | 'killed';

export function runState(markerPath: string): RunState {
  const marker = readRunMarker(markerPath);
  if (marker === null) return 'finished';
  return marker !== 'invalid' && identityAlive(marker) ? 'running' : 'killed';
}

export interface RunLog extends RunPaths {
  /** logs/console.log. */
  consolePath: string;
  /** Call once the run is over and its report written (whatever happened); removes the marker. */
  finish(): void;
}

/**
 * Start a run: mark it as running (pid + process start time), create its log, point
 * logs/console.log at it (an atomic symlink swap), and prune old runs (never one still going).
 * `planned` (from planRun) when the paths were needed before, e.g. for the VMM's argv.
 * Throws UK109 (OutputUnwritable) when the marker or the log cannot be created.
 */
export function startRunLog(base: string, now: Date = new Date(), pid: number = process.pid, planned?: RunPaths): RunLog {
  const runsDir = join(base, RUN_LOGS_DIR);
  const paths = planned ?? planRun(base, now, pid);
  const id = processIdentity(pid);
  // The marker first: from then on pruning skips this run, even before its log exists.
  const marker = { pid, start_ticks: id.startTicks, boot_id: id.bootId, log: `${RUN_LOGS_DIR}/${paths.name}${RUN_LOG_SUFFIX}` };
  writeFileAtomic(paths.markerPath, `${JSON.stringify(marker)}\n`, {
    display: `${RUN_LOGS_DIR}/${paths.name}${RUN_MARKER_SUFFIX}`,
  });
  try {
    makeDirectory(runsDir, RUN_LOGS_DIR);
    closeSync(openSync(paths.path, 'wx', 0o644));
  } catch (err) {
    removeQuietly(paths.markerPath);
    throw fileError(err, { op: 'create', display: `run log ${RUN_LOGS_DIR}/${paths.name}${RUN_LOG_SUFFIX}` });
  }
  const consolePath = join(base, CONSOLE_LOG_PATH);
  const linked = pointConsoleAt(consolePath, paths);
  removeQuietly(join(base, RUNNING_MARKER_LEGACY_PATH)); // the single marker of older versions
  pruneRunLogs(runsDir, RUN_LOGS_KEPT_MAX);
  let finished = false;
  return {
    ...paths,
    consolePath,
    finish() {
      if (finished) return;
      finished = true;
      // No link possible: a copy, and only while no later run has started.
      if (!linked && newestRunName(runsDir) === paths.name) copyInto(consolePath, paths.path);
      removeQuietly(paths.markerPath);
    },
  };
}

/**
 * logs/console.log → runs/NAME.log, swapped in with rename(2): readers see the old link or the
 * new one. A file system without symlinks gets a hard link; false when neither works (then a
 * copy at the end).
 */
function pointConsoleAt(consolePath: string, paths: RunPaths): boolean {
  const temp = tempPathFor(consolePath);
  const target = relative(dirname(consolePath), paths.path); // runs/NAME.log
  const attempts: Array<() => void> = [() => symlinkSync(target, temp), () => linkSync(paths.path, temp)];
  for (const make of attempts) {
    try {
      removeQuietly(temp);
      make();
      renameSync(temp, consolePath);
      return true;
    } catch {
      removeQuietly(temp); // e.g. logs/console.log is a directory: the run goes on without it
    }
  }
  return false;
}

function copyInto(target: string, source: string): void {
  const temp = tempPathFor(target);
  try {
    copyFileSync(source, temp);
    renameSync(temp, target);
  } catch {
    removeQuietly(temp);
  }
}

/** Run names in start order: by start second, then by pid (numerically). */
export function compareRunNames(a: string, b: string): number {
  const ma = RUN_NAME_RE.exec(a);
  const mb = RUN_NAME_RE.exec(b);
  if (ma === null || mb === null) return a < b ? -1 : a > b ? 1 : 0;
  if (ma[1] !== mb[1]) return ma[1]! < mb[1]! ? -1 : 1;
  return Number(ma[2]) - Number(mb[2]);
}

/**
 * Delete the oldest runs (all their files) so that at most `keep` remain; a run still going
 * (its marker names a live process) is never deleted, whatever its age.
 */
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
  const runs = [...byRun.keys()].sort(compareRunNames);
  for (const run of runs.slice(0, Math.max(0, runs.length - keep))) {
    const files = byRun.get(run)!;
    if (files.includes(`${run}${RUN_MARKER_SUFFIX}`) && runState(join(runsDir, `${run}${RUN_MARKER_SUFFIX}`)) === 'running')
      continue;
    for (const file of files) removeQuietly(join(runsDir, file));
  }
}

function listRunLogNames(runsDir: string): string[] {
  try {
    return readdirSync(runsDir)
      .filter((file) => RUN_LOG_RE.test(file))
      .map((file) => file.slice(0, -RUN_LOG_SUFFIX.length))
      .sort(compareRunNames);
  } catch {
    return [];
  }
}

function newestRunName(runsDir: string): string | null {
  return listRunLogNames(runsDir).at(-1) ?? null;
}

export interface RunEntry extends RunPaths {
  started: Date;
  pid: number;
  bytes: number;
  state: RunState;
}

function runEntry(runsDir: string, name: string): RunEntry {
  const [, stamp, pid] = RUN_NAME_RE.exec(name)!;
  const iso = `${stamp!.slice(0, 4)}-${stamp!.slice(4, 6)}-${stamp!.slice(6, 8)}T${stamp!.slice(9, 11)}:${stamp!.slice(11, 13)}:${stamp!.slice(13, 15)}Z`;
  const paths = runPaths(runsDir, name);
  // The disk space the run takes: its console log, and what the guest wrote of its (sparse)
  // events device.
  const bytes = fileBytes(paths.path, 'size') + fileBytes(paths.eventsPath, 'allocated');
  return { ...paths, started: new Date(iso), pid: Number(pid), bytes, state: runState(paths.markerPath) };
}

/** A file's length, or the bytes it occupies on disk (a sparse file takes less); 0 when gone. */
function fileBytes(path: string, which: 'size' | 'allocated'): number {
  try {
    const stat = statSync(path);
    return which === 'size' ? stat.size : Math.min(stat.size, stat.blocks * 512);
  } catch {
    return 0; // deleted meanwhile, or never made
  }
}

/** The recorded runs, oldest first (compareRunNames). */
export function listRuns(base: string): RunEntry[] {
  const runsDir = join(base, RUN_LOGS_DIR);
  return listRunLogNames(runsDir).map((name) => runEntry(runsDir, name));
}

/**
 * The name of the run that started last: the one logs/console.log points at. When that link is
 * missing, damaged or not a link (a copy, or a hard link from an older version), the run whose
 * log it is, else the newest run by name. Null when no run is recorded.
 */
export function lastRunName(base: string): string | null {
  const runsDir = join(base, RUN_LOGS_DIR);
  const consolePath = join(base, CONSOLE_LOG_PATH);
  const names = listRunLogNames(runsDir);
  try {
    const st = lstatSync(consolePath);
    if (st.isSymbolicLink()) {
      // Only a link to a log in logs/runs is followed (the link is a project file: untrusted).
      const target = resolve(dirname(consolePath), readlinkSync(consolePath));
      const name = basename(target).slice(0, -RUN_LOG_SUFFIX.length);
      if (target === join(runsDir, `${name}${RUN_LOG_SUFFIX}`) && names.includes(name)) return name;
    } else if (st.isFile()) {
      const same = names.findLast((name) => {
        const s = statSync(join(runsDir, `${name}${RUN_LOG_SUFFIX}`), { throwIfNoEntry: false });
        return s !== undefined && s.ino === st.ino && s.dev === st.dev;
      });
      if (same !== undefined) return same;
    }
  } catch {
    // No console.log (or unreadable): the newest by name.
  }
  return names.at(-1) ?? null;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false; // missing, a dangling or looping link, unreadable
  }
}

/** A run as `logs`, `trace` and `perf` see it: every path from one name, and its state. */
export interface ResolvedRun {
  name: string;
  path: string;
  /** The run's events device, report and marker (which may not exist); null for a bare console.log. */
  eventsPath: string | null;
  reportPath: string | null;
  markerPath: string | null;
  state: RunState;
}

/**
 * The run a `ukernel logs|trace|perf [RUN]` means: the named run (full name, unique prefix, or
 * one of its file names) or, without RUN, the last started (lastRunName). Resolved once: the
 * caller uses these paths and never looks the run up again. Throws UK128 (RunLogNotFound).
 */
export function resolveRunLog(base: string, run: string | undefined): ResolvedRun {
  const runsDir = join(base, RUN_LOGS_DIR);
  const of = (name: string): ResolvedRun => {
    const entry = runEntry(runsDir, name);
    return {
      name,
      path: entry.path,
      eventsPath: entry.eventsPath,
      reportPath: entry.reportPath,
      markerPath: entry.markerPath,
      state: entry.state,
    };
  };
  if (run === undefined) {
    const last = lastRunName(base);
    if (last !== null) return of(last);
    const consolePath = join(base, CONSOLE_LOG_PATH);
    if (isFile(consolePath)) {
      // A log from before logs/runs existed: the console only.
      return { name: 'console', path: consolePath, eventsPath: null, reportPath: null, markerPath: null, state: 'finished' };
    }
    throw new UkernelError('RunLogNotFound', `no runs recorded yet: ${RUN_LOGS_DIR} has no run logs under ${base}`, {
      hint: 'Start one with `ukernel run`.',
    });
  }
  const wanted = run.replace(/^.*\//, '').replace(/\.(log|events|json|running)$/, '');
  const matches = listRunLogNames(runsDir).filter((name) => name.startsWith(wanted));
  if (matches.length === 1) return of(matches[0]!);
  const why = matches.length === 0 ? 'no such run' : `"${wanted.slice(0, 40)}" matches ${matches.length} runs`;
  throw new UkernelError('RunLogNotFound', `${why} in ${RUN_LOGS_DIR}`);
}
