// runSession against real processes (sh standing in for the VMM): streaming, records,
// logging, timeouts and cleanup, without mocks.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UkernelError } from '../errors.js';
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
    echo: (line) => echoed.push(line),
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

  it('the @uk:exit record wins over the VMM exit code', () => {
    const exit = { atNs: 0n, record: { kind: 'exit' as const, status: 101, reason: 'panic', eventsDropped: null } };
    expect(decideStatus({ exit, stderrTail: [], vmmExit: { code: 0, signal: null, atNs: 0n } }, 'firecracker')).toBe(101);
  });
});

describe('TailBuffer', () => {
  it('keeps only the last bytes', () => {
    const tail = new TailBuffer(8);
    for (const part of ['abc', 'defgh', 'ijklmnop', 'qr']) tail.push(Buffer.from(part));
    expect(tail.contents().toString()).toBe('klmnopqr');
  });
});
