// Run logs and `ukernel logs`: one log per run, logs/console.log linked to the latest, the
// running marker, listing, and output sanitized with records hidden unless --raw.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logs } from './commands/logs.js';
import { encodeEventsFile } from './observe/fixtures.js';
import { listRuns, planRun, pruneRunLogs, readRunningMarker, resolveRunLog, runStamp, startRunLog } from './runlog.js';

const base = mkdtempSync(join(tmpdir(), 'uk-runlog-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const LOG = '@uk:boot v=1 proto=pvh clock=cpuid tsc_khz=3000000 phase.ready=2500\nhello \x1b[2J\r\n@uk:exit v=1 status=7 reason=return\n';

async function logsOutput(args: Parameters<typeof logs>, cwd = base): Promise<{ out: string[]; notices: string[] }> {
  const out: string[] = [];
  const notices: string[] = [];
  await logs(args[0], args[1], { cwd, out: (l) => out.push(l), notice: (l) => notices.push(l), pollMs: 20 });
  return { out, notices };
}

describe('run logs', () => {
  it('stamps runs in UTC, sortable', () => {
    expect(runStamp(new Date('2026-11-23T09:04:12.345Z'))).toBe('20261123T090412Z');
  });

  it('writes each run to logs/runs/, links logs/console.log to it, marks and unmarks the run', () => {
    const first = startRunLog(base, new Date('2026-01-01T00:00:00Z'), 111);
    expect(first.path).toBe(join(base, 'logs/runs/20260101T000000Z-111.log'));
    expect(readRunningMarker(base)).toEqual({ pid: 111, log: 'logs/runs/20260101T000000Z-111.log' });
    appendFileSync(first.path, LOG);
    expect(readFileSync(join(base, 'logs/console.log'), 'utf8')).toBe(LOG); // a hard link: live
    first.finish();
    expect(existsSync(join(base, 'logs/.running'))).toBe(false);

    const second = startRunLog(base, new Date('2026-01-01T00:00:05Z'), 222);
    appendFileSync(second.path, 'second run\n');
    second.finish();
    expect(readFileSync(join(base, 'logs/console.log'), 'utf8')).toBe('second run\n');
    expect(readFileSync(first.path, 'utf8')).toBe(LOG);
    expect(statSync(second.path).ino).toBe(statSync(join(base, 'logs/console.log')).ino);
    expect(listRuns(base).map((r) => [r.name, r.pid])).toEqual([['20260101T000000Z-111', 111], ['20260101T000005Z-222', 222]]);
  });

  it('finds runs by name or unique prefix; the latest by default', () => {
    expect(resolveRunLog(base, undefined).name).toBe('20260101T000005Z-222');
    expect(resolveRunLog(base, '20260101T000000Z').name).toBe('20260101T000000Z-111');
    expect(resolveRunLog(base, 'logs/runs/20260101T000000Z-111.log').name).toBe('20260101T000000Z-111');
    expect(() => resolveRunLog(base, '2026')).toThrow(expect.objectContaining({ code: 'UK128', message: expect.stringMatching(/matches 2 runs/) }));
    expect(() => resolveRunLog(base, 'nope')).toThrow(expect.objectContaining({ code: 'UK128' }));
    const empty = mkdtempSync(join(tmpdir(), 'uk-runlog-empty-'));
    expect(() => resolveRunLog(empty, undefined)).toThrow(expect.objectContaining({ code: 'UK128', message: expect.stringMatching(/no runs recorded yet/) }));
    rmSync(empty, { recursive: true });
  });

  it('prunes the oldest logs beyond the limit', () => {
    const runs = join(base, 'prune/logs/runs');
    for (let i = 0; i < 5; i++) startRunLog(join(base, 'prune'), new Date(Date.UTC(2026, 0, 1, 0, 0, i)), 10 + i).finish();
    pruneRunLogs(runs, 2);
    expect(readdirSync(runs)).toEqual(['20260101T000003Z-13.log', '20260101T000004Z-14.log']);
  });
});

describe('ukernel logs', () => {
  it('prints a run sanitized, records hidden; --raw shows them', async () => {
    expect((await logsOutput(['20260101T000000Z', {}])).out).toEqual(['hello \\x1b[2J']);
    expect((await logsOutput(['20260101T000000Z', { raw: true }])).out).toEqual([
      '@uk:boot v=1 proto=pvh clock=cpuid tsc_khz=3000000 phase.ready=2500',
      'hello \\x1b[2J',
      '@uk:exit v=1 status=7 reason=return',
    ]);
  });

  it('--list shows each run with its status', async () => {
    const { out } = await logsOutput([undefined, { list: true }]);
    expect(out[0]).toMatch(/^RUN +STARTED +STATUS +SIZE$/);
    expect(out[1]).toMatch(/^20260101T000000Z-111 +2026-01-01T00:00:00Z +7 +\d+ bytes$/);
    expect(out[2]).toMatch(/^20260101T000005Z-222 +2026-01-01T00:00:05Z +- +11 bytes$/);
  });

  it('--follow on a finished run prints it and says there is nothing to follow', async () => {
    const { out, notices } = await logsOutput([undefined, { follow: true }]);
    expect(out).toEqual(['second run']);
    expect(notices).toEqual(['ukernel: run 20260101T000005Z-222 is not running; nothing to follow']);
  });

  it('--follow prints what a live run writes until its process is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-follow-'));
    const writer = spawn('sleep', ['0.5']);
    const run = startRunLog(dir, new Date(), writer.pid!);
    writeFileSync(run.path, 'line one\n');
    const following = logsOutput([undefined, { follow: true }], dir);
    setTimeout(() => appendFileSync(run.path, 'line two\n@uk:exit v=1 status=0\npartial'), 150);
    const { out, notices } = await following;
    expect(out).toEqual(['line one', 'line two', 'partial']);
    expect(notices).toEqual([expect.stringMatching(/^ukernel: run \S+ ended \(ukernel pid \d+ exited\)$/)]);
    rmSync(dir, { recursive: true });
  });
});

describe('run files beside the log', () => {
  it('plans .log, .events and .json under one name; resolves them; prunes them together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-runfiles-'));
    const plan = planRun(dir, new Date('2026-02-01T00:00:00Z'), 5);
    expect(plan).toEqual({
      name: '20260201T000000Z-5',
      path: join(dir, 'logs/runs/20260201T000000Z-5.log'),
      eventsPath: join(dir, 'logs/runs/20260201T000000Z-5.events'),
      reportPath: join(dir, 'logs/runs/20260201T000000Z-5.json'),
      vmmLogPath: join(dir, 'logs/runs/20260201T000000Z-5.vmm.log'),
    });
    const runs = join(dir, 'logs/runs');
    for (let i = 0; i < 4; i++) {
      const run = startRunLog(dir, new Date(Date.UTC(2026, 1, 1, 0, 0, i)), 20 + i);
      writeFileSync(run.eventsPath, '');
      writeFileSync(run.reportPath, '{}');
      run.finish();
    }
    writeFileSync(join(runs, '20250101T000000Z-1.events'), ''); // an orphan, oldest
    writeFileSync(join(runs, 'notes.txt'), '');
    expect(resolveRunLog(dir, '20260201T000001Z')).toMatchObject({
      name: '20260201T000001Z-21',
      eventsPath: join(runs, '20260201T000001Z-21.events'),
      reportPath: join(runs, '20260201T000001Z-21.json'),
    });
    expect(resolveRunLog(dir, '20260201T000001Z-21.events').name).toBe('20260201T000001Z-21');
    pruneRunLogs(runs, 2);
    expect(readdirSync(runs).sort()).toEqual([
      '20260201T000002Z-22.events', '20260201T000002Z-22.json', '20260201T000002Z-22.log',
      '20260201T000003Z-23.events', '20260201T000003Z-23.json', '20260201T000003Z-23.log',
      'notes.txt',
    ]);
    rmSync(dir, { recursive: true });
  });
});

describe('ukernel logs with an events device', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uk-logs-events-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const CONSOLE =
    '@uk:boot v=1 proto=pvh clock=cpuid tsc_khz=3000000 phase.ready=2500\n' +
    'kernel line\n' +
    '@uk:workload v=1 event=start t_ns=10000\n' +
    'hello from the workload\n' +
    '@uk:workload v=1 event=exit status=0 t_ns=50000\n' +
    '@uk:exit v=1 status=0 reason=return\n';
  const run = startRunLog(dir, new Date('2026-03-01T00:00:00Z'), 31);
  writeFileSync(run.path, CONSOLE);
  writeFileSync(
    run.eventsPath,
    encodeEventsFile([
      { records: [{ kind: 'log', tNs: 30_000, level: 2, task: 1, message: 'slow \x1b[5m', fields: [['ms', '12'], ['path', 'a b']] }, { kind: 'log', tNs: 5_000, level: 0, message: 'early' }] },
      { records: [{ kind: 'begin', tNs: 20_000, span: 1n, name: 's' }, { kind: 'log', tNs: 20_000, level: 1, message: 'working', fields: [['n', '']] }, { kind: 'log', tNs: 60_000, level: 3, message: 'late' }] },
      { records: [{ kind: 'log', tNs: 1, message: 'lost' }], badCrc: true },
    ]),
  );
  run.finish();

  it('merges: console lines as they came, log records in t_ns order around the stamped records', async () => {
    const { out, notices } = await logsOutput([undefined, {}], dir);
    expect(out).toEqual([
      'kernel line',
      '+0.005ms debug [task 0] early',
      'hello from the workload',
      '+0.020ms info  [task 0] working n=""',
      '+0.030ms warn  [task 1] slow \\x1b[5m ms=12 path="a b"',
      '+0.060ms error [task 0] late',
    ]);
    expect(notices).toEqual([expect.stringMatching(/^ukernel: logs\/runs\/20260301T000000Z-31\.events: block 2 \(sequence 2\) at byte \d+: CRC mismatch, skipped$/)]);
  });

  it('--level filters log records; console text counts as info', async () => {
    expect((await logsOutput([undefined, { level: 'info' }], dir)).out).toEqual([
      'kernel line',
      'hello from the workload',
      '+0.020ms info  [task 0] working n=""',
      '+0.030ms warn  [task 1] slow \\x1b[5m ms=12 path="a b"',
      '+0.060ms error [task 0] late',
    ]);
    expect((await logsOutput([undefined, { level: 'warn' }], dir)).out).toEqual([
      '+0.030ms warn  [task 1] slow \\x1b[5m ms=12 path="a b"',
      '+0.060ms error [task 0] late',
    ]);
    await expect(logsOutput([undefined, { level: 'loud' }], dir)).rejects.toMatchObject({ code: 'UK101' });
  });

  it('--json: one object per line; --raw adds the records', async () => {
    const { out } = await logsOutput([undefined, { json: true, level: 'info', raw: true }], dir);
    const lines = out.map((line) => JSON.parse(line));
    expect(lines[0]).toEqual({ type: 'record', text: '@uk:boot v=1 proto=pvh clock=cpuid tsc_khz=3000000 phase.ready=2500' });
    expect(lines[1]).toEqual({ type: 'console', text: 'kernel line' });
    expect(lines).toContainEqual({ type: 'log', t_ns: 30000, level: 'warn', task: 1, message: 'slow \\x1b[5m', fields: { ms: '12', path: 'a b' } });
    expect(lines.map((l) => l.type)).toEqual(['record', 'console', 'record', 'console', 'log', 'log', 'record', 'record', 'log']);
  });

  it('--follow shows log records while the run goes on, then reads the rest once it ended', async () => {
    const live = mkdtempSync(join(tmpdir(), 'uk-follow-events-'));
    const writer = spawn('sleep', ['0.6']);
    const running = startRunLog(live, new Date(), writer.pid!);
    writeFileSync(running.path, 'booting\n');
    const full = encodeEventsFile([{ records: [{ kind: 'log', tNs: 1_000, message: 'one' }] }, { records: [{ kind: 'log', tNs: 2_000, message: 'two' }] }], 8192);
    const partial = Buffer.from(full);
    partial.fill(0, 1024 + 40, 1536); // block 1 is still being written: not damaged yet
    writeFileSync(running.eventsPath, partial);
    const following = logsOutput([undefined, { follow: true }], live);
    setTimeout(() => appendFileSync(running.path, 'more\n'), 150);
    setTimeout(() => writeFileSync(running.eventsPath, full), 300);
    const { out, notices } = await following;
    expect(out).toEqual(['booting', '+0.001ms info  [task 0] one', 'more', '+0.002ms info  [task 0] two']);
    expect(notices).toEqual([expect.stringMatching(/ended/)]);
    rmSync(live, { recursive: true });
  });
});
