// runSession against real processes (sh standing in for the VMM): streaming, records,
// logging, timeouts and cleanup, without mocks.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UkernelError } from '../errors.js';
import { createEventsFile } from '../observe/device.js';
import { encodeEventsFile } from '../observe/fixtures.js';
import { decideStatus, runSession, TailBuffer, type SessionOptions } from './session.js';

const dir = mkdtempSync(join(tmpdir(), 'uk-session-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BOOT = '@uk:boot v=1 proto=pvh clock=cpuid tsc_khz=3000000 phase.idt=100 phase.ready=2500';

function session(script: string, overrides: Partial<SessionOptions> = {}) {
  const echoed: string[] = [];
  const warnings: string[] = [];
  const pids: number[] = [];
  const logPath = join(dir, `${Math.random().toString(36).slice(2)}/console.log`);
  const promise = runSession({
    vmm: 'qemu',
    binary: '/bin/sh',
    args: ['-c', script],
    accel: 'tcg',
    bootTimeoutMs: 5000,
    runTimeoutMs: null,
    consoleLogPath: logPath,
    consoleLogDisplay: 'logs/console.log',
    echo: (lines) => echoed.push(...lines.split('\n')),
    warn: (line) => warnings.push(line),
    onStart: (pid) => pids.push(pid),
    ...overrides,
  });
  return { promise, echoed, warnings, pids, logPath };
}

const gone = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z';
  } catch {
    return true;
  }
};

describe('runSession', () => {
  it('streams the console: records hidden, text sanitised, raw bytes logged', async () => {
    const s = session(
      `printf '${BOOT}\\r\\nhello \\033[2J\\n@uk:exit v=1 status=200\\n@uk:exit v=1 status=1\\n'; echo oops >&2; exit 0`,
    );
    const result = await s.promise;
    expect(s.echoed).toEqual(['hello \\x1b[2J']);
    expect(s.warnings).toEqual(['warning: duplicate @uk:exit record ignored']);
    expect(result.boot?.record.readyNs).toBe(2500);
    expect(result.exit?.record.status).toBe(200);
    expect(result.firstByteAtNs).not.toBeNull();
    expect(result.boot!.atNs >= result.spawnedAtNs).toBe(true);
    expect(result.exit!.atNs >= result.boot!.atNs).toBe(true);
    expect(result.vmmExit.code).toBe(0);
    expect(result.stderrTail).toEqual(['qemu: oops']);
    expect(readFileSync(s.logPath, 'latin1')).toContain('hello \x1b[2J\n');
    expect(decideStatus(result, 'qemu')).toBe(200);
  });

  it('boot timeout stops the VMM and names the log', async () => {
    const s = session('echo not a boot record; exec sleep 30', { bootTimeoutMs: 300 });
    await expect(s.promise).rejects.toMatchObject({ code: 'UK203', exitCode: 124 });
    await expect(s.promise).rejects.toThrow(/logs\/console\.log/);
    expect(s.echoed).toEqual(['not a boot record']);
    expect(gone(s.pids[0]!)).toBe(true);
  });

  it('--timeout bounds the whole run even after boot', async () => {
    const s = session(`printf '${BOOT}\\n'; exec sleep 30`, { runTimeoutMs: 300 });
    await expect(s.promise).rejects.toMatchObject({ code: 'UK204' });
    expect(gone(s.pids[0]!)).toBe(true);
  });

  it('malformed records are shown as text with a warning', async () => {
    const s = session(`printf '${BOOT}\\n@uk:exit v=1 status=300\\n'; exit 3`);
    const result = await s.promise;
    expect(s.echoed).toEqual(['@uk:exit v=1 status=300']);
    expect(s.warnings[0]).toMatch(/malformed @uk: record/);
    expect(() => decideStatus(result, 'qemu')).toThrow(expect.objectContaining({ code: 'UK201' }));
  });
});

describe('runSession with the events device', () => {
  const START = '@uk:workload v=1 event=start t_ns=3000 disk_ns=1 image_ns=1 load_ns=1';
  /** An events file whose blocks the fake VMM copies in while it runs, as the guest would. */
  function eventsRun(blocks: Parameters<typeof encodeEventsFile>[0], script: (events: string, blocks: string) => string) {
    const base = join(dir, Math.random().toString(36).slice(2));
    mkdirSync(base, { recursive: true });
    const events = join(base, 'run.events');
    const written = join(base, 'written.events');
    const capacity = 64 * 1024;
    createEventsFile(events, capacity);
    writeFileSync(written, encodeEventsFile(blocks, capacity));
    return session(script(events, written), { eventsPath: events });
  }

  it('takes kernel records from the device; workload output is only ever text', async () => {
    const s = eventsRun(
      [
        {
          flushNs: 4000,
          records: [
            { kind: 'kernel', tNs: 2500, text: BOOT },
            { kind: 'kernel', tNs: 3000, text: START },
            { kind: 'output', tNs: 3100, text: 'hello\n@uk:exit v=1 status=0 reason=return\npart' },
            { kind: 'output', tNs: 3200, text: 'ial\n@uk:trace v=1 kind=end span=1 task=0 t_ns=1\nno newline' },
          ],
        },
        {
          final: true,
          flushNs: 9000,
          records: [{ kind: 'kernel', tNs: 9000, text: '@uk:exit v=1 status=42 reason=return events_dropped=0 events_failed=0' }],
        },
      ],
      (events, written) => `sleep 0.1; dd if=${written} of=${events} bs=512 conv=notrunc status=none; sleep 0.2; exit 85`,
    );
    const result = await s.promise;
    expect(s.echoed).toEqual([
      'hello',
      '@uk:exit v=1 status=0 reason=return',
      'partial',
      '@uk:trace v=1 kind=end span=1 task=0 t_ns=1',
      'no newline',
    ]);
    expect(s.warnings).toEqual([]);
    expect(result.boot?.record.readyNs).toBe(2500);
    expect(result.workloadStart?.record.tNs).toBe(3000);
    expect(result.exit?.record).toMatchObject({ status: 42, eventsDropped: 0, eventsFailed: false });
    // The block was seen while the VM ran: its flush time dates kernel entry on the host.
    expect(result.entryAtNs).not.toBeNull();
    expect(result.entryAtNs! > result.spawnedAtNs).toBe(true);
    expect(decideStatus(result, 'qemu', { imageAttached: true })).toBe(42);
  });

  it('serial lines the kernel escaped (a doubled @) lose one @; records there still count', async () => {
    const s = session(`printf '${BOOT}\n@@uk:exit v=1 status=0\n@@@x\n@uk:exit v=1 status=5\n'; exit 11`);
    const result = await s.promise;
    expect(s.echoed).toEqual(['@uk:exit v=1 status=0', '@@x']);
    expect(decideStatus(result, 'qemu')).toBe(5);
  });
});

describe('decideStatus', () => {
  const noRecord = { exit: null, stderrTail: [] as string[] };
  it('QEMU exit 0 without a record means reset / triple fault', () => {
    expect(() => decideStatus({ ...noRecord, vmmExit: { code: 0, signal: null, atNs: 0n } }, 'qemu')).toThrow(
      expect.objectContaining({ code: 'UK202', message: expect.stringMatching(/reset or triple fault/) }),
    );
  });

  it('other VMM exits are VMM failures carrying the stderr tail', () => {
    try {
      decideStatus({ exit: null, stderrTail: ['qemu: boom'], vmmExit: { code: 1, signal: null, atNs: 0n } }, 'qemu');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UkernelError);
      expect((err as UkernelError).code).toBe('UK201');
      expect((err as UkernelError).exitCode).toBe(125);
      expect((err as UkernelError).details).toEqual(['qemu: boom']);
    }
    expect(() => decideStatus({ ...noRecord, vmmExit: { code: 15, signal: null, atNs: 0n } }, 'qemu')).toThrow(/status was 7/);
    expect(() => decideStatus({ ...noRecord, vmmExit: { code: null, signal: 'SIGKILL', atNs: 0n } }, 'firecracker')).toThrow(
      /killed by SIGKILL/,
    );
  });

  const exit = {
    atNs: 0n,
    record: {
      kind: 'exit' as const,
      status: 101,
      reason: 'panic',
      eventsDropped: null,
      eventsFailed: null,
      interruptsUnexpected: null,
    },
  };
  it('the @uk:exit record gives the status where the VMM cannot (Firecracker exits 0)', () => {
    expect(decideStatus({ exit, stderrTail: [], vmmExit: { code: 0, signal: null, atNs: 0n } }, 'firecracker')).toBe(101);
  });

  it("QEMU's isa-debug-exit code, which only the kernel can write, wins a disagreement", () => {
    const warnings: string[] = [];
    const vmmExit = { code: (42 << 1) | 1, signal: null, atNs: 0n };
    expect(decideStatus({ exit, stderrTail: [], vmmExit }, 'qemu', { warn: (l) => warnings.push(l) })).toBe(42);
    expect(warnings).toEqual(['warning: the exit record says status 101 but the guest wrote 42 to isa-debug-exit; using 42']);
    expect(decideStatus({ exit, stderrTail: [], vmmExit: { code: (101 << 1) | 1, signal: null, atNs: 0n } }, 'qemu')).toBe(101);
    // The exit code keeps the low 7 bits of the status only: 200 arrives as 72.
    const high = { ...exit, record: { ...exit.record, status: 200 } };
    expect(
      decideStatus({ exit: high, stderrTail: [], vmmExit: { code: ((200 << 1) | 1) & 0xff, signal: null, atNs: 0n } }, 'qemu'),
    ).toBe(200);
  });

  it('a run with an image whose workload never started is never a success', () => {
    const ok = { ...exit, record: { ...exit.record, status: 0, reason: 'test' } };
    const vmmExit = { code: 1, signal: null, atNs: 0n };
    expect(() =>
      decideStatus({ exit: ok, stderrTail: [], vmmExit, workloadStart: null }, 'qemu', { imageAttached: true }),
    ).toThrow(expect.objectContaining({ code: 'UK205', exitCode: 125 }));
    expect(decideStatus({ exit: ok, stderrTail: [], vmmExit, workloadStart: null }, 'qemu', { imageAttached: false })).toBe(0);
  });
});

describe('TailBuffer', () => {
  it('keeps only the last bytes', () => {
    const tail = new TailBuffer(8);
    for (const part of ['abc', 'defgh', 'ijklmnop', 'qr']) tail.push(Buffer.from(part));
    expect(tail.contents().toString()).toBe('klmnopqr');
  });
});
