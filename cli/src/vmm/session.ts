// One VM run, shared by every VMM backend: spawn, stream the console (raw bytes to
// logs/console.log, records parsed, text sanitised and echoed), enforce the boot and run
// timeouts, forward SIGINT/SIGTERM, and always leave no VMM process behind.
import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  EXIT_AFTER_RECORD_MS,
  EXIT_SIGINT,
  EXIT_SIGTERM,
  KILL_GRACE_MS,
  PIPE_DRAIN_MS,
  VMM_STDERR_TAIL_BYTES,
  VMM_STDERR_TAIL_LINES,
} from '../constants.js';
import { ConsoleDecoder, type ConsoleEvent } from '../console/stream.js';
import type { BootRecord, ExitRecord, WorkloadRecord } from '../console/records.js';
import { sanitizeLine } from '../console/sanitize.js';
import { fileError, Interrupted, UkernelError } from '../errors.js';
import { makeDirectory } from '../fsutil.js';
import { formatDuration } from '../format.js';
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
  /** Where raw console bytes go (created, truncated). */
  consoleLogPath: string;
  /** How to name the log in messages (relative to cwd). */
  consoleLogDisplay: string;
  /** Guest text lines (already sanitised); null = do not echo (--json). */
  echo: ((line: string) => void) | null;
  /** One-line notices and warnings for stderr. */
  warn: (line: string) => void;
  /** Called once the VMM runs. */
  onStart?: (pid: number) => void;
}

export interface SessionResult {
  spawnedAtNs: bigint;
  firstByteAtNs: bigint | null;
  boot: { record: BootRecord; atNs: bigint } | null;
  exit: { record: ExitRecord; atNs: bigint } | null;
  /** `@uk:workload event=start` / `event=exit`, when the guest sent them. */
  workloadStart: { record: WorkloadRecord; atNs: bigint } | null;
  workloadExit: { record: WorkloadRecord; atNs: bigint } | null;
  vmmExit: ExitInfo;
  /** Sanitised last lines of the VMM's own stderr. */
  stderrTail: string[];
}

type Outcome =
  | { kind: 'exited' }
  | { kind: 'boot-timeout' }
  | { kind: 'run-timeout' }
  | { kind: 'exit-grace' }
  | { kind: 'signal'; signal: 'SIGINT' | 'SIGTERM' };

export async function runSession(opts: SessionOptions): Promise<SessionResult> {
  const logFd = openConsoleLog(opts.consoleLogPath, opts.consoleLogDisplay);
  const decoder = new ConsoleDecoder();
  const stderrTail = new TailBuffer(VMM_STDERR_TAIL_BYTES);
  let boot: SessionResult['boot'] = null;
  let exit: SessionResult['exit'] = null;
  let workloadStart: SessionResult['workloadStart'] = null;
  let workloadExit: SessionResult['workloadExit'] = null;
  let logFailed = false;

  let settle: (outcome: Outcome) => void = () => {};
  const outcome = new Promise<Outcome>((resolve) => {
    let settled = false;
    settle = (o) => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
  });
  const timers: NodeJS.Timeout[] = [];
  const after = (ms: number, o: Outcome): NodeJS.Timeout => {
    const t = setTimeout(() => settle(o), ms);
    timers.push(t);
    return t;
  };

  let vmm: VmmProcess | null = null;
  let signalled: 'SIGINT' | 'SIGTERM' | null = null;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (signalled !== null) {
      vmm?.child.kill('SIGKILL'); // second signal: stop waiting politely
      return;
    }
    signalled = signal;
    settle({ kind: 'signal', signal });
  };
  const onSigint = (): void => onSignal('SIGINT');
  const onSigterm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  const handle = (event: ConsoleEvent): void => {
    switch (event.type) {
      case 'text':
        opts.echo?.(event.text);
        return;
      case 'malformed':
        opts.echo?.(event.text);
        opts.warn(`warning: malformed @uk: record shown as text (${event.reason})`);
        return;
      case 'record':
        // Trace records (no events device) stay in the log for `ukernel trace`.
        if (event.record.kind === 'trace') return;
        if (event.record.kind === 'boot') {
          if (boot !== null) return opts.warn('warning: duplicate @uk:boot record ignored');
          boot = { record: event.record, atNs: event.atNs };
          clearTimeout(bootTimer);
        } else if (event.record.kind === 'workload') {
          const slot = event.record.event === 'start' ? workloadStart : workloadExit;
          if (slot !== null) return opts.warn(`warning: duplicate @uk:workload event=${event.record.event} record ignored`);
          if (event.record.event === 'start') workloadStart = { record: event.record, atNs: event.atNs };
          else workloadExit = { record: event.record, atNs: event.atNs };
        } else if (event.record.kind === 'exit') {
          if (exit !== null) return opts.warn('warning: duplicate @uk:exit record ignored');
          exit = { record: event.record, atNs: event.atNs };
          after(EXIT_AFTER_RECORD_MS, { kind: 'exit-grace' });
        }
        return;
    }
  };

  const bootTimer = after(opts.bootTimeoutMs, { kind: 'boot-timeout' });
  if (opts.runTimeoutMs !== null) after(opts.runTimeoutMs, { kind: 'run-timeout' });

  try {
    try {
      vmm = await spawnVmm(opts.binary, opts.args);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new UkernelError('VmmSpawnFailed', `could not start ${opts.vmm} (${opts.binary}): ${code}`, {
        cause: err,
      });
    }
    const proc = vmm;
    opts.onStart?.(proc.pid);

    const stdoutDone = new Promise<void>((resolve) => proc.child.stdout!.once('close', resolve));
    const stderrDone = new Promise<void>((resolve) => proc.child.stderr!.once('close', resolve));
    proc.child.stdout!.on('data', (chunk: Buffer) => {
      const atNs = process.hrtime.bigint();
      if (!logFailed) {
        try {
          writeAll(logFd, chunk);
        } catch (err) {
          logFailed = true;
          opts.warn(`warning: cannot write ${opts.consoleLogDisplay} (${(err as NodeJS.ErrnoException).code}); log is incomplete`);
        }
      }
      for (const event of decoder.push(chunk, atNs)) handle(event);
    });
    proc.child.stderr!.on('data', (chunk: Buffer) => stderrTail.push(chunk));
    void proc.exited.then(() => settle({ kind: 'exited' }));

    const result = await outcome;
    for (const t of timers) clearTimeout(t);

    if (proc.exitInfo() === null) {
      if (result.kind === 'exit-grace') {
        opts.warn(
          `notice: ${opts.vmm} still running ${formatDuration(EXIT_AFTER_RECORD_MS * 1e6)} after @uk:exit; stopping it`,
        );
      }
      const stopped = await proc.stop(KILL_GRACE_MS);
      if (!stopped.exited) opts.warn(`warning: ${opts.vmm} (pid ${proc.pid}) did not exit after SIGKILL`);
    }
    const drained = await settlesWithin(Promise.all([stdoutDone, stderrDone]), PIPE_DRAIN_MS);
    if (!drained) opts.warn(`warning: ${opts.vmm} output pipes still open after exit; console may be cut short`);
    for (const event of decoder.end()) handle(event);

    if (result.kind === 'signal') throw new Interrupted(result.signal, result.signal === 'SIGINT' ? EXIT_SIGINT : EXIT_SIGTERM);
    if (result.kind === 'boot-timeout' && boot === null) {
      throw new UkernelError(
        'BootTimeout',
        `no @uk:boot record within ${formatDuration(opts.bootTimeoutMs * 1e6)} on ${opts.vmm}/${opts.accel}; ` +
          `VM stopped; console output is in ${opts.consoleLogDisplay}`,
        { details: tailLines(stderrTail, opts.vmm) },
      );
    }
    if (result.kind === 'run-timeout') {
      throw new UkernelError(
        'RunTimeout',
        `run exceeded --timeout ${formatDuration((opts.runTimeoutMs ?? 0) * 1e6)}; VM stopped; ` +
          `console output is in ${opts.consoleLogDisplay}`,
      );
    }
    const vmmExit = proc.exitInfo() ?? { code: null, signal: 'SIGKILL', atNs: process.hrtime.bigint() };
    return {
      spawnedAtNs: proc.spawnedAtNs,
      firstByteAtNs: decoder.firstByteNs,
      boot,
      exit,
      workloadStart,
      workloadExit,
      vmmExit,
      stderrTail: tailLines(stderrTail, opts.vmm),
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    closeSync(logFd);
    // Belt and braces: whatever path we took, the VMM must be gone.
    if (vmm !== null && vmm.exitInfo() === null) await vmm.stop(0);
  }
}

/**
 * Turn a finished session into the guest status, or the error that explains why there
 * is none. The `@uk:exit` record is authoritative; the VMM exit code is the fallback.
 */
export function decideStatus(result: Pick<SessionResult, 'exit' | 'vmmExit' | 'stderrTail'>, vmm: VmmName): number {
  if (result.exit !== null) return result.exit.record.status;
  const { code, signal } = result.vmmExit;
  if (code === 0) {
    throw new UkernelError(
      'GuestNoStatus',
      `guest stopped without reporting a status (reset or triple fault): no @uk:exit record and ${vmm} exited 0`,
      { details: result.stderrTail },
    );
  }
  const how = code !== null ? `exited with code ${code}` : `was killed by ${signal ?? 'an unknown signal'}`;
  let message = `${vmm} ${how} and the guest printed no @uk:exit record`;
  // isa-debug-exit makes QEMU exit (status << 1) | 1; QEMU's own errors exit 1 with a message.
  if (vmm === 'qemu' && code !== null && code % 2 === 1 && (code > 1 || result.stderrTail.length === 0)) {
    message += ` (if the guest wrote isa-debug-exit, its status was ${(code - 1) / 2})`;
  }
  return throwVmmFailed(message, result.stderrTail);
}

function throwVmmFailed(message: string, details: string[]): never {
  throw new UkernelError('VmmFailed', message, { details });
}

function openConsoleLog(path: string, display: string): number {
  makeDirectory(dirname(path), dirname(display));
  try {
    return openSync(path, 'w');
  } catch (err) {
    throw fileError(err, { op: 'create', display: `console log ${display}` });
  }
}

function writeAll(fd: number, chunk: Uint8Array): void {
  let offset = 0;
  while (offset < chunk.length) offset += writeSync(fd, chunk, offset, chunk.length - offset);
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

function tailLines(tail: TailBuffer, prefix: string): string[] {
  const text = tail.contents();
  const lines: string[] = [];
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i === text.length || text[i] === 0x0a) {
      const line = text.subarray(start, i);
      // Our own stop request is not news ("qemu-system-x86_64: terminating on signal 15 from pid …").
      if (line.length > 0 && !TERMINATING_RE.test(line.toString('latin1'))) lines.push(`${prefix}: ${sanitizeLine(line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line)}`);
      start = i + 1;
    }
  }
  return lines.slice(-VMM_STDERR_TAIL_LINES);
}
