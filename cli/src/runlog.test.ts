// Run logs and `ukernel logs`: one log per run, logs/console.log linked to the latest, the
// running marker, listing, and output sanitized with records hidden unless --raw.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logs } from './commands/logs.js';
import { listRuns, pruneRunLogs, readRunningMarker, resolveRunLog, runStamp, startRunLog } from './runlog.js';

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
