// One VM run, shared by every VMM backend. The guest talks to us on two channels:
//  - the serial console, which the VMM writes to the run's console log (a regular file, so a VMM
//    that makes its stdout non-blocking can never drop bytes) and we tail: early boot, the
//    kernel's own messages and fault reports, and — only without an events device — the
//    workload's output (the kernel escapes it so that it cannot parse as a record);
//  - the events device (docs/observability.md), a file the guest writes in CRC'd blocks and we
//    tail: the workload's console output, its log and trace records, and the kernel's records.
// Kernel records (`@uk:boot`, `workload`, `exit`) are taken from either channel; workload bytes
// can reach neither as records. The session enforces the boot and run timeouts, forwards
// SIGINT/SIGTERM, and always leaves no VMM process behind.
import { closeSync, fstatSync, openSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import {
  CONSOLE_READ_BYTES_MAX,
  OUTPUT_TAIL_CHARS_MAX,
  EXIT_AFTER_RECORD_MS,
  EXIT_SIGINT,
  EXIT_SIGTERM,
  KILL_GRACE_MS,
  PIPE_DRAIN_MS,
  SERIAL_HOLD_MS,
  SESSION_POLL_MS,
  VMM_LOG_TAIL_BYTES,
  VMM_STDERR_TAIL_BYTES,
  VMM_STDERR_TAIL_LINES,
} from '../constants.js';
import { ConsoleDecoder, type ConsoleEvent } from '../console/stream.js';
import {
  parseRecordLine,
  type BootRecord,
  type ExitRecord,
  type NetRecord,
  type NetStatsRecord,
  type UkRecord,
  type WorkloadRecord,
} from '../console/records.js';
import { sanitizeLine } from '../console/sanitize.js';
import { readAt } from '../io.js';
import { fileError, Interrupted, UkernelError } from '../errors.js';
import { makeDirectory } from '../fsutil.js';
import { formatDuration } from '../format.js';
import { EventsReader, openEventsFile, type ChannelRecord, type EventsStats } from '../observe/events.js';
import type { Accel } from './accel.js';
import { settlesWithin, spawnVmm, type ExitInfo, type VmmProcess } from './process.js';

export type VmmName = 'qemu' | 'firecracker';

export interface SessionOptions {
  vmm: VmmName;
  binary: string;
  args: readonly string[];
  accel: Accel;
  bootTimeoutMs: number;
  runTimeoutMs: number | null;
  /** Where the VMM's serial console goes (created, truncated); its stdout. */
  consoleLogPath: string;
  /** How to name the log in messages (relative to cwd). */
  consoleLogDisplay: string;
  /** The run's events device file (already created), or null when none is attached. */
  eventsPath?: string | null;
  /** The VMM's own log file (Firecracker's logger), quoted when the VMM fails; null: none. */
  vmmLogPath?: string | null;
  /** Guest text (already sanitised): one or more lines joined by "\n", without a final "\n";
   *  null = do not echo (--json). */
  echo: ((lines: string) => void) | null;
  /** One-line notices and warnings for stderr. */
  warn: (line: string) => void;
  /** Called once the VMM runs. */
  onStart?: (pid: number) => void;
  /** Called when the guest reports its network configuration (`@uk:net`), as it happens. */
  onNet?: (record: NetRecord) => void;
}

/** A kernel record and the host time (process.hrtime) it was seen. */
export interface Seen<T> {
  record: T;
  atNs: bigint;
}

export interface SessionResult {
  spawnedAtNs: bigint;
  firstByteAtNs: bigint | null;
  /** Host time of kernel entry, estimated from the first record that dates it (see entryFrom). */
  entryAtNs: bigint | null;
  boot: Seen<BootRecord> | null;
  exit: Seen<ExitRecord> | null;
  /** `@uk:workload event=start` / `event=exit`, when the guest sent them. */
  workloadStart: Seen<WorkloadRecord> | null;
  workloadExit: Seen<WorkloadRecord> | null;
  /** `@uk:net`: the guest's network configuration, when it has a NIC. */
  net: Seen<NetRecord> | null;
  /** `@uk:netstat`: the network stack's counters at exit. */
  netStats: Seen<NetStatsRecord> | null;
  vmmExit: ExitInfo;
  /** Sanitised last lines of the VMM's own stderr (and its log file, when it has one). */
  stderrTail: string[];
  /** The end of the guest's console text (at most OUTPUT_TAIL_CHARS_MAX; sanitised, untrusted),
   *  kept with or without echo: what run-hints.ts reads after a failed run. */
  outputTail: string;
  /** The events device as read (null: none attached or unreadable). */
  events: EventsStats | null;
}

type Outcome =
  | { kind: 'exited' }
  | { kind: 'boot-timeout' }
  | { kind: 'run-timeout' }
  | { kind: 'exit-grace' }
  | { kind: 'signal'; signal: 'SIGINT' | 'SIGTERM' };

export async function runSession(opts: SessionOptions): Promise<SessionResult> {
  return new VmSession(opts).run();
}

/** Reads a file from where it last stopped, in bounded chunks. */
class FileTail {
  private offset = 0;
  constructor(private readonly fd: number) {}

  /** The bytes appended since the last call (at most CONSOLE_READ_BYTES_MAX), or null. */
  read(): Buffer | null {
    const bytes = readAt(this.fd, this.offset, CONSOLE_READ_BYTES_MAX);
    if (bytes.length === 0) return null;
    this.offset += bytes.length;
    return bytes;
  }
}

/** The console log: written by the VMM (its stdout), read here from where it last stopped. */
class ConsoleLog {
  private writer: number | null;
  private readonly reader: number;
  readonly tail: FileTail;

  constructor(path: string, display: string) {
    this.writer = openConsoleLog(path, display);
    try {
      this.reader = openSync(path, 'r');
    } catch (err) {
      closeSync(this.writer);
      throw err;
    }
    this.tail = new FileTail(this.reader);
  }

  writeFd(): number {
    if (this.writer === null) throw new Error('console log: the writer is closed');
    return this.writer;
  }

  /** Closed once the VMM holds its copy, and forgotten: the number is soon reused. */
  closeWriter(): void {
    if (this.writer !== null) closeSync(this.writer);
    this.writer = null;
  }

  close(): void {
    this.closeWriter();
    closeSync(this.reader);
  }
}

class VmSession {
  private readonly serial = new ConsoleDecoder();
  private readonly output = new ConsoleDecoder({ serial: false });
  private readonly stderrTail = new TailBuffer(VMM_STDERR_TAIL_BYTES);
  private events: { reader: EventsReader; close(): void } | null = null;
  private boot: SessionResult['boot'] = null;
  private exit: SessionResult['exit'] = null;
  private workloadStart: SessionResult['workloadStart'] = null;
  private workloadExit: SessionResult['workloadExit'] = null;
  private net: SessionResult['net'] = null;
  private netStats: SessionResult['netStats'] = null;
  private entryAtNs: bigint | null = null;
  private timers: NodeJS.Timeout[] = [];
  private watchers: FSWatcher[] = [];
  private settle: (outcome: Outcome) => void = () => {};
  private readonly outcome: Promise<Outcome>;
  private vmm: VmmProcess | null = null;
  private bootTimer: NodeJS.Timeout | null = null;
  /** The latest guest time seen on the events device. */
  private eventsLatestNs = 0;
  /** Serial text waiting for the events device to reach `untilNs` (see handleSerial). */
  private held: { sinceNs: bigint; untilNs: number; events: ConsoleEvent[] } | null = null;

  constructor(private readonly opts: SessionOptions) {
    this.outcome = new Promise<Outcome>((resolve) => {
      let settled = false;
      this.settle = (o) => {
        if (!settled) {
          settled = true;
          resolve(o);
        }
      };
    });
  }

  /** The session's steps: console log, signals, spawn, wait for an outcome, stop, collect. */
  async run(): Promise<SessionResult> {
    const log = new ConsoleLog(this.opts.consoleLogPath, this.opts.consoleLogDisplay);
    const untrap = this.trapSignals();
    try {
      const proc = await this.start(log);
      const stderrDone = this.collectStderr(proc);
      const result = await this.outcome;
      this.stopTimers();
      await this.stopVmm(proc, result);
      if (!(await settlesWithin(stderrDone, PIPE_DRAIN_MS))) {
        this.opts.warn(`warning: ${this.opts.vmm} stderr still open after exit; its messages may be cut short`);
      }
      this.pump(log.tail, true);
      return this.finish(proc, result);
    } finally {
      this.stopTimers();
      untrap();
      log.close();
      this.events?.close();
      // Belt and braces: whatever path we took, the VMM must be gone.
      if (this.vmm !== null && this.vmm.exitInfo() === null) await this.vmm.stop(0);
    }
  }

  /** SIGINT/SIGTERM end the session (the VM is stopped, then Interrupted); a second one kills the VMM. */
  private trapSignals(): () => void {
    let signalled = false;
    const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
      if (signalled) {
        this.vmm?.child.kill('SIGKILL'); // second signal: stop waiting politely
        return;
      }
      signalled = true;
      this.settle({ kind: 'signal', signal });
    };
    const onSigint = (): void => onSignal('SIGINT');
    const onSigterm = (): void => onSignal('SIGTERM');
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigterm);
    return () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
    };
  }

  /** Spawn the VMM on the console log, then start the timers and the readers of its channels. */
  private async start(log: ConsoleLog): Promise<VmmProcess> {
    this.vmm = await this.spawn(log.writeFd());
    log.closeWriter(); // The VMM has its own copy.
    const proc = this.vmm;
    this.opts.onStart?.(proc.pid);
    this.startTimers();
    const pump = (): void => this.pump(log.tail, false);
    this.timers.push(setInterval(pump, SESSION_POLL_MS));
    this.watch(this.opts.consoleLogPath, pump);
    if (this.opts.eventsPath != null) this.watch(this.opts.eventsPath, pump);
    void proc.exited.then(() => this.settle({ kind: 'exited' }));
    return proc;
  }

  /** Keep the end of the VMM's stderr; resolves once the pipe closes. */
  private collectStderr(proc: VmmProcess): Promise<void> {
    const stderr = proc.child.stderr!;
    const done = new Promise<void>((resolve) => stderr.once('close', resolve));
    stderr.on('data', (chunk: Buffer) => this.stderrTail.push(chunk));
    return done;
  }

  private async spawn(consoleFd: number): Promise<VmmProcess> {
    try {
      return await spawnVmm(this.opts.binary, this.opts.args, { stdoutFd: consoleFd });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new UkernelError('VmmSpawnFailed', `could not start ${this.opts.vmm} (${this.opts.binary}): ${code}`, {
        cause: err,
      });
    }
  }

  private startTimers(): void {
    this.bootTimer = this.after(this.opts.bootTimeoutMs, { kind: 'boot-timeout' });
    if (this.opts.runTimeoutMs !== null) this.after(this.opts.runTimeoutMs, { kind: 'run-timeout' });
  }

  private after(ms: number, outcome: Outcome): NodeJS.Timeout {
    const timer = setTimeout(() => this.settle(outcome), ms);
    this.timers.push(timer);
    return timer;
  }

  private stopTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  /** inotify tells us about new bytes at once; the interval timer covers filesystems without it. */
  private watch(path: string, pump: () => void): void {
    try {
      const watcher = watch(path, { persistent: false }, pump);
      watcher.on('error', () => watcher.close());
      this.watchers.push(watcher);
    } catch {
      // polling alone then
    }
  }

  private async stopVmm(proc: VmmProcess, result: Outcome): Promise<void> {
    if (proc.exitInfo() !== null) return;
    if (result.kind === 'exit-grace') {
      this.opts.warn(
        `notice: ${this.opts.vmm} still running ${formatDuration(EXIT_AFTER_RECORD_MS * 1e6)} after @uk:exit; stopping it`,
      );
    }
    const stopped = await proc.stop(KILL_GRACE_MS);
    if (!stopped.exited) this.opts.warn(`warning: ${this.opts.vmm} (pid ${proc.pid}) did not exit after SIGKILL`);
  }

  /** Guest lines to echo, written together once per pump (one write for many lines). */
  private echoed: string[] = [];
  /** The last guest lines, OUTPUT_TAIL_CHARS_MAX in all at most (each line cut to that). */
  private tailLines: string[] = [];
  private tailChars = 0;

  private keepTail(line: string): void {
    const kept = line.length > OUTPUT_TAIL_CHARS_MAX ? line.slice(-OUTPUT_TAIL_CHARS_MAX) : line;
    this.tailLines.push(kept);
    this.tailChars += kept.length + 1;
    while (this.tailChars > OUTPUT_TAIL_CHARS_MAX && this.tailLines.length > 1) {
      this.tailChars -= this.tailLines.shift()!.length + 1;
    }
  }

  private echo(line: string): void {
    this.keepTail(line);
    if (this.opts.echo !== null) this.echoed.push(line);
  }

  private flushEcho(): void {
    if (this.echoed.length === 0) return;
    const lines = this.echoed;
    this.echoed = [];
    this.opts.echo?.(lines.join('\n'));
  }

  /** Reads what both channels have added. `final`: the VMM is gone, read everything. */
  private pump(tail: FileTail, final: boolean): void {
    try {
      this.pumpChannels(tail, final);
    } finally {
      this.flushEcho();
    }
  }

  private pumpChannels(tail: FileTail, final: boolean): void {
    const atNs = process.hrtime.bigint();
    // Bounded per call: a guest that floods the console cannot starve the timers.
    for (let chunk = tail.read(), n = 0; chunk !== null; chunk = final || n < 16 ? tail.read() : null, n++) {
      for (const event of this.serial.push(chunk, atNs)) this.handleSerial(event);
    }
    this.pumpEvents(atNs, final);
    if (final) {
      for (const event of this.output.end()) this.handleConsole(event);
      for (const event of this.serial.end()) this.handleSerial(event);
      this.releaseSerial();
    } else if (this.held !== null && atNs - this.held.sinceNs > BigInt(SERIAL_HOLD_MS) * 1_000_000n) {
      this.releaseSerial(); // the events device fell silent: show the text rather than wait
    }
  }

  /**
   * Serial text stamped by `@uk:mark` (the kernel wrote it while the events device was in use)
   * waits until the events device has caught up with that guest time, so that live output comes
   * in guest-time order: e.g. a fault report after the workload's last lines, which the kernel
   * flushes only once the report is out.
   */
  private handleSerial(event: ConsoleEvent): void {
    if (event.type === 'record' && event.record.kind === 'mark') {
      if (event.record.tNs > this.eventsLatestNs) {
        this.held ??= { sinceNs: event.atNs, untilNs: 0, events: [] };
        this.held.untilNs = Math.max(this.held.untilNs, event.record.tNs);
      }
      return;
    }
    if (this.held !== null && event.type !== 'record') this.held.events.push(event);
    else this.handleConsole(event);
  }

  private releaseSerial(): void {
    const held = this.held;
    this.held = null;
    for (const event of held?.events ?? []) this.handleConsole(event);
  }

  private pumpEvents(atNs: bigint, final: boolean): void {
    if (this.opts.eventsPath == null) return;
    if (this.events === null) {
      const opened = openEventsFile(this.opts.eventsPath);
      if (opened === null || 'error' in opened) return;
      this.events = { reader: new EventsReader(opened.source), close: opened.close };
    }
    const reader = this.events.reader;
    const hadBlocks = reader.stats.blocks > 0;
    const records = reader.poll(final);
    // The first block's flush time on the guest clock, seen now on the host, dates kernel entry.
    if (!hadBlocks && reader.stats.blocks > 0 && reader.stats.firstBlockFlushNs !== null && !final) {
      this.entryAtNs ??= atNs - BigInt(reader.stats.firstBlockFlushNs);
    }
    for (const record of records) {
      this.eventsLatestNs = Math.max(this.eventsLatestNs, record.tNs);
      this.handleChannelRecord(record, atNs);
    }
    if (this.held !== null && this.eventsLatestNs >= this.held.untilNs) this.releaseSerial();
  }

  private handleChannelRecord(record: ChannelRecord, atNs: bigint): void {
    if (record.kind === 'output') {
      for (const event of this.output.push(record.bytes, atNs)) this.handleConsole(event);
    } else if (record.kind === 'kernel') {
      const parsed = parseRecordLine(record.line);
      if (parsed.type === 'record') this.handleRecord(parsed.record, atNs, 'events');
      else if (parsed.type === 'malformed')
        this.opts.warn(`warning: malformed kernel record on the events device (${parsed.reason})`);
    }
    // Log and trace records stay in the events file for `ukernel logs` and `ukernel trace`.
  }

  private handleConsole(event: ConsoleEvent): void {
    switch (event.type) {
      case 'text':
        this.echo(event.text);
        return;
      case 'malformed':
        this.echo(event.text);
        this.opts.warn(`warning: malformed @uk: record shown as text (${event.reason})`);
        return;
      case 'record':
        this.handleRecord(event.record, event.atNs, 'serial');
        return;
    }
  }

  private handleRecord(record: UkRecord, atNs: bigint, channel: 'serial' | 'events'): void {
    switch (record.kind) {
      case 'trace':
        return; // stays in the log for `ukernel trace`
      case 'boot':
        if (this.boot !== null) {
          this.opts.warn('warning: duplicate @uk:boot record ignored');
          return;
        }
        this.boot = { record, atNs };
        // On the console the record is sent at `ready`: its arrival dates kernel entry.
        if (channel === 'serial') this.entryAtNs ??= atNs - BigInt(record.readyNs);
        if (this.bootTimer !== null) clearTimeout(this.bootTimer);
        return;
      case 'workload': {
        const slot = record.event === 'start' ? this.workloadStart : this.workloadExit;
        if (slot !== null) {
          this.opts.warn(`warning: duplicate @uk:workload event=${record.event} record ignored`);
          return;
        }
        if (record.event === 'start') this.workloadStart = { record, atNs };
        else this.workloadExit = { record, atNs };
        return;
      }
      case 'net':
        if (this.net !== null) {
          this.opts.warn('warning: duplicate @uk:net record ignored');
          return;
        }
        this.net = { record, atNs };
        this.opts.onNet?.(record);
        return;
      case 'netstat':
        this.netStats ??= { record, atNs };
        return;
      case 'exit':
        if (this.exit !== null) {
          this.opts.warn('warning: duplicate @uk:exit record ignored');
          return;
        }
        this.exit = { record, atNs };
        this.after(EXIT_AFTER_RECORD_MS, { kind: 'exit-grace' });
        return;
    }
  }

  private finish(proc: VmmProcess, result: Outcome): SessionResult {
    const { opts } = this;
    const stderrTail = [...tailLines(this.stderrTail.contents(), opts.vmm), ...vmmLogTail(opts.vmmLogPath, opts.vmm)];
    if (result.kind === 'signal') throw new Interrupted(result.signal, result.signal === 'SIGINT' ? EXIT_SIGINT : EXIT_SIGTERM);
    if (result.kind === 'boot-timeout' && this.boot === null) {
      throw new UkernelError(
        'BootTimeout',
        `no @uk:boot record within ${formatDuration(opts.bootTimeoutMs * 1e6)} on ${opts.vmm}/${opts.accel}; ` +
          `VM stopped; console output is in ${opts.consoleLogDisplay}`,
        { details: stderrTail },
      );
    }
    if (result.kind === 'run-timeout') {
      throw new UkernelError(
        'RunTimeout',
        `run exceeded --timeout ${formatDuration((opts.runTimeoutMs ?? 0) * 1e6)}; VM stopped; ` +
          `console output is in ${opts.consoleLogDisplay}`,
      );
    }
    return {
      spawnedAtNs: proc.spawnedAtNs,
      firstByteAtNs: this.serial.firstByteNs,
      entryAtNs: this.entryAtNs,
      boot: this.boot,
      exit: this.exit,
      workloadStart: this.workloadStart,
      workloadExit: this.workloadExit,
      net: this.net,
      netStats: this.netStats,
      vmmExit: proc.exitInfo() ?? { code: null, signal: 'SIGKILL', atNs: process.hrtime.bigint() },
      stderrTail,
      outputTail: this.tailLines.join('\n'),
      events: this.events?.reader.stats ?? null,
    };
  }
}

/**
 * Turn a finished session into the guest status, or the error that explains why there is none.
 * The kernel's `@uk:exit` record gives the status; on QEMU the isa-debug-exit code (which only
 * the kernel can write: port I/O needs ring 0) is the cross-check and wins a disagreement. A
 * run with an image whose workload never started is never a success.
 */
export function decideStatus(
  result: Pick<SessionResult, 'exit' | 'vmmExit' | 'stderrTail'> & Partial<Pick<SessionResult, 'workloadStart'>>,
  vmm: VmmName,
  context: { imageAttached?: boolean; warn?: (line: string) => void } = {},
): number {
  const status = statusOf(result, vmm, context.warn ?? (() => {}));
  if (context.imageAttached === true && (result.workloadStart ?? null) === null && status === 0) {
    throw new UkernelError('WorkloadNotStarted', 'the guest exited 0 but never started the workload from the image', {
      details: result.stderrTail,
    });
  }
  return status;
}

function statusOf(
  result: Pick<SessionResult, 'exit' | 'vmmExit' | 'stderrTail'>,
  vmm: VmmName,
  warn: (line: string) => void,
): number {
  const { code, signal } = result.vmmExit;
  // isa-debug-exit makes QEMU exit (status << 1) | 1, cut to 8 bits: the low 7 bits of the
  // status. QEMU's own errors exit 1 with a message.
  const debugExit =
    vmm === 'qemu' && code !== null && code % 2 === 1 && (code > 1 || result.stderrTail.length === 0) ? (code - 1) / 2 : null;
  if (result.exit !== null) {
    const recorded = result.exit.record.status;
    if (debugExit !== null && debugExit !== (recorded & 0x7f)) {
      warn(
        `warning: the exit record says status ${recorded} but the guest wrote ${debugExit} to isa-debug-exit; using ${debugExit}`,
      );
      return debugExit;
    }
    return recorded;
  }
  if (code === 0) {
    throw new UkernelError(
      'GuestNoStatus',
      `guest stopped without reporting a status (reset or triple fault): no @uk:exit record and ${vmm} exited 0`,
      { details: result.stderrTail },
    );
  }
  const how = code !== null ? `exited with code ${code}` : `was killed by ${signal ?? 'an unknown signal'}`;
  let message = `${vmm} ${how} and the guest sent no @uk:exit record`;
  if (debugExit !== null) message += ` (if the guest wrote isa-debug-exit, its status was ${debugExit})`;
  throw new UkernelError('VmmFailed', message, { details: result.stderrTail });
}

function openConsoleLog(path: string, display: string): number {
  makeDirectory(dirname(path), dirname(display));
  try {
    return openSync(path, 'w');
  } catch (err) {
    throw fileError(err, { op: 'create', display: `console log ${display}` });
  }
}

/** Keeps the last `capacity` bytes pushed into it. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  constructor(private readonly capacity: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
    while (this.bytes - this.chunks[0]!.length >= this.capacity) this.bytes -= this.chunks.shift()!.length;
  }

  contents(): Buffer {
    const all = Buffer.concat(this.chunks, this.bytes);
    return all.subarray(Math.max(0, all.length - this.capacity));
  }
}

const TERMINATING_RE = /terminating on signal [0-9]+/;

/** The last lines of `text`, sanitised, each prefixed (`qemu: …`). */
function tailLines(text: Buffer, prefix: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i === text.length || text[i] === 0x0a) {
      const line = text.subarray(start, i);
      // Our own stop request is not news ("qemu-system-x86_64: terminating on signal 15 from pid …").
      if (line.length > 0 && !TERMINATING_RE.test(line.toString('latin1')))
        lines.push(`${prefix}: ${sanitizeLine(line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line)}`);
      start = i + 1;
    }
  }
  return lines.slice(-VMM_STDERR_TAIL_LINES);
}

/** The last lines of the VMM's own log file (Firecracker's logger), when it has one. */
function vmmLogTail(path: string | null | undefined, vmm: VmmName): string[] {
  if (path == null) return [];
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, VMM_LOG_TAIL_BYTES);
    return tailLines(readAt(fd, size - length, length), `${vmm} log`);
  } finally {
    closeSync(fd);
  }
}
