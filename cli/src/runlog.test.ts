// Run logs and `ukernel logs`: one log per run, logs/console.log a symlink to the run started
// last, per-run running markers that survive pid reuse, concurrent runs, pruning that spares
// running runs, listing, and output sanitized with records hidden unless --raw.
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { logs } from './commands/logs.js';
import { encodeEventsFile } from './observe/fixtures.js';
import {
  identityAlive,
  lastRunName,
  listRuns,
  planRun,
  processIdentity,
  pruneRunLogs,
  readRunMarker,
  readStartTicks,
  resolveRunLog,
  runStamp,
  runState,
  startRunLog,
} from './runlog.js';

const base = mkdtempSync(join(tmpdir(), 'uk-runlog-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const LOG =
  '@uk:boot v=1 proto=pvh clock=cpuid tsc_khz=3000000 phase.ready=2500\nhello \x1b[2J\r\n@uk:exit v=1 status=7 reason=return\n';

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

  it('writes each run to logs/runs/, points logs/console.log at it, marks and unmarks the run', () => {
    writeFileSync(join(mkdirp(join(base, 'logs')), '.running'), '{"pid":1,"log":"x"}'); // an older version's marker
    const first = startRunLog(base, new Date('2026-01-01T00:00:00Z'), process.pid);
    expect(first.path).toBe(join(base, `logs/runs/20260101T000000Z-${process.pid}.log`));
    expect(readRunMarker(first.markerPath)).toEqual(processIdentity(process.pid));
    expect(readStartTicks(process.pid)).toEqual(expect.any(Number));
    expect(runState(first.markerPath)).toBe('running');
    expect(existsSync(join(base, 'logs/.running'))).toBe(false);
    appendFileSync(first.path, LOG);
    expect(readlinkSync(join(base, 'logs/console.log'))).toBe(`runs/20260101T000000Z-${process.pid}.log`);
    expect(readFileSync(join(base, 'logs/console.log'), 'utf8')).toBe(LOG); // a link: live
    first.finish();
    expect(existsSync(first.markerPath)).toBe(false);
    expect(runState(first.markerPath)).toBe('finished');

    const second = startRunLog(base, new Date('2026-01-01T00:00:05Z'), 222);
    appendFileSync(second.path, 'second run\n');
    second.finish();
    expect(readFileSync(join(base, 'logs/console.log'), 'utf8')).toBe('second run\n');
    expect(readFileSync(first.path, 'utf8')).toBe(LOG);
    expect(lstatSync(join(base, 'logs/console.log')).isSymbolicLink()).toBe(true);
    expect(listRuns(base).map((r) => [r.name, r.pid, r.state])).toEqual([
      [`20260101T000000Z-${process.pid}`, process.pid, 'finished'],
      ['20260101T000005Z-222', 222, 'finished'],
    ]);
    // The same name twice is refused, not shared.
    expect(() => startRunLog(base, new Date('2026-01-01T00:00:05Z'), 222)).toThrow(expect.objectContaining({ code: 'UK109' }));
  });

  it('finds runs by name or unique prefix; the latest by default', () => {
    expect(resolveRunLog(base, undefined).name).toBe('20260101T000005Z-222');
    expect(resolveRunLog(base, '20260101T000000Z').name).toBe(`20260101T000000Z-${process.pid}`);
    expect(resolveRunLog(base, `logs/runs/20260101T000000Z-${process.pid}.log`).name).toBe(`20260101T000000Z-${process.pid}`);
    expect(() => resolveRunLog(base, '2026')).toThrow(
      expect.objectContaining({ code: 'UK128', message: expect.stringMatching(/matches 2 runs/) }),
    );
    expect(() => resolveRunLog(base, 'nope')).toThrow(expect.objectContaining({ code: 'UK128' }));
    const empty = mkdtempSync(join(tmpdir(), 'uk-runlog-empty-'));
    expect(() => resolveRunLog(empty, undefined)).toThrow(
      expect.objectContaining({ code: 'UK128', message: expect.stringMatching(/no runs recorded yet/) }),
    );
    rmSync(empty, { recursive: true });
  });

  it('prunes the oldest logs beyond the limit', () => {
    const runs = join(base, 'prune/logs/runs');
    for (let i = 0; i < 5; i++) startRunLog(join(base, 'prune'), new Date(Date.UTC(2026, 0, 1, 0, 0, i)), 10 + i).finish();
    pruneRunLogs(runs, 2);
    expect(readdirSync(runs)).toEqual(['20260101T000003Z-13.log', '20260101T000004Z-14.log']);
  });
});

function mkdirp(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/** A process that stays alive for `seconds` (killed at the end of the file at the latest). */
const sleepers: Array<ReturnType<typeof spawn>> = [];
afterAll(() => {
  for (const s of sleepers) s.kill('SIGKILL');
});
function sleeper(seconds: number): number {
  const child = spawn('sleep', [String(seconds)], { stdio: 'ignore' });
  sleepers.push(child);
  return child.pid!;
}

describe('concurrent runs', () => {
  it('each run has its own marker; the last started owns logs/console.log; finishing one leaves the other running', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-concurrent-'));
    const a = startRunLog(dir, new Date('2026-05-01T00:00:07Z'), sleeper(30));
    // Started later, but within the same second and with a smaller pid: "last" is start order,
    // not name order.
    const b = startRunLog(dir, new Date('2026-05-01T00:00:07Z'), 1);
    writeFileSync(b.markerPath, JSON.stringify({ pid: process.pid, start_ticks: readStartTicks(process.pid) }));
    appendFileSync(a.path, 'from a\n');
    appendFileSync(b.path, 'from b\n');
    expect(lastRunName(dir)).toBe(b.name);
    expect(resolveRunLog(dir, undefined)).toMatchObject({
      name: b.name,
      path: b.path,
      eventsPath: b.eventsPath,
      reportPath: b.reportPath,
      state: 'running',
    });
    a.finish();
    expect(runState(a.markerPath)).toBe('finished');
    expect(runState(b.markerPath)).toBe('running');
    expect(readlinkSync(join(dir, 'logs/console.log'))).toBe(`runs/${b.name}.log`);
    expect(listRuns(dir).map((r) => [r.name, r.state])).toEqual([
      [b.name, 'running'],
      [a.name, 'finished'],
    ]); // by pid within a second
    b.finish();
    rmSync(dir, { recursive: true });
  });

  it('a marker whose pid now belongs to another process (pid reuse, or another boot) means killed', () => {
    const me = processIdentity();
    expect(identityAlive(me)).toBe(true);
    expect(identityAlive({ ...me, startTicks: me.startTicks! + 1 })).toBe(false);
    expect(identityAlive({ ...me, bootId: '00000000-0000-0000-0000-000000000000' })).toBe(false);
    expect(identityAlive({ ...me, startTicks: null, bootId: null })).toBe(true); // no /proc facts: the pid only
    const dir = mkdtempSync(join(tmpdir(), 'uk-reuse-'));
    const run = startRunLog(dir, new Date('2026-05-02T00:00:00Z'));
    expect(runState(run.markerPath)).toBe('running');
    writeFileSync(run.markerPath, JSON.stringify({ pid: process.pid, start_ticks: me.startTicks! + 1, boot_id: me.bootId }));
    expect(runState(run.markerPath)).toBe('killed');
    writeFileSync(run.markerPath, 'garbage');
    expect(runState(run.markerPath)).toBe('killed');
    const dead = spawnSync('true').pid!;
    writeFileSync(run.markerPath, JSON.stringify({ pid: dead, start_ticks: null }));
    expect(runState(run.markerPath)).toBe('killed');
    rmSync(dir, { recursive: true });
  });

  it('pruning never deletes a run that is still going, and does delete killed ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-prune-live-'));
    const runs = join(dir, 'logs/runs');
    const old = startRunLog(dir, new Date('2026-06-01T00:00:00Z'), sleeper(30)); // oldest, still going
    const killed = startRunLog(dir, new Date('2026-06-01T00:00:01Z'), spawnSync('true').pid!); // never finished
    for (let i = 2; i < 6; i++) startRunLog(dir, new Date(Date.UTC(2026, 5, 1, 0, 0, i)), 60 + i).finish();
    expect(runState(killed.markerPath)).toBe('killed');
    pruneRunLogs(runs, 2);
    expect(readdirSync(runs).sort()).toEqual([
      `${old.name}.log`,
      `${old.name}.running`,
      '20260601T000004Z-64.log',
      '20260601T000005Z-65.log',
    ]);
    old.finish();
    pruneRunLogs(runs, 2);
    expect(readdirSync(runs).sort()).toEqual(['20260601T000004Z-64.log', '20260601T000005Z-65.log']);
    rmSync(dir, { recursive: true });
  });

  it('the last run: a damaged or foreign console.log link is not followed; an older hard link still resolves', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-last-'));
    const one = startRunLog(dir, new Date('2026-07-01T00:00:00Z'), 71);
    one.finish();
    const two = startRunLog(dir, new Date('2026-07-01T00:00:01Z'), 72);
    two.finish();
    const consolePath = join(dir, 'logs/console.log');
    for (const target of ['../../../etc/passwd', 'runs/20260701T000000Z-71.events', 'runs/20990101T000000Z-1.log']) {
      rmSync(consolePath);
      symlinkSync(target, consolePath);
      expect(resolveRunLog(dir, undefined).name).toBe(two.name);
    }
    rmSync(consolePath);
    linkSync(one.path, consolePath); // what older versions made
    expect(resolveRunLog(dir, undefined)).toMatchObject({ name: one.name, path: one.path, eventsPath: one.eventsPath });
    rmSync(consolePath);
    mkdirSync(consolePath); // not even a file: runs go on, the newest is the last
    const three = startRunLog(dir, new Date('2026-07-01T00:00:02Z'), 73);
    three.finish();
    expect(resolveRunLog(dir, undefined).name).toBe(three.name);
    rmSync(dir, { recursive: true });
  });

  it('logs/console.log is never missing or half-made while processes start runs concurrently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-swap-'));
    const bundle = join(dir, 'runlog.mjs');
    buildSync({
      entryPoints: [fileURLToPath(new URL('./runlog.ts', import.meta.url))],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: bundle,
      logLevel: 'error',
    });
    const script = `const { startRunLog } = await import(${JSON.stringify(bundle)});
      const worker = Number(process.argv[1]);
      for (let i = 0; i < 20; i++) startRunLog(${JSON.stringify(dir)}, new Date(Date.UTC(2026, 7, 1, 0, worker, i))).finish();`;
    const first = startRunLog(dir, new Date('2026-08-01T00:00:00Z'), 80);
    first.finish();
    const children = [1, 2, 3, 4].map((w) =>
      spawn(process.execPath, ['--input-type=module', '-e', script, String(w)], { stdio: 'inherit' }),
    );
    const consolePath = join(dir, 'logs/console.log');
    let checks = 0;
    const deadline = Date.now() + 30_000;
    while (children.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) {
      expect(readlinkSync(consolePath)).toMatch(/^runs\/20260801T00\d{4}Z-\d+\.log$/);
      expect(statSync(consolePath).isFile()).toBe(true); // and its target exists
      checks++;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(checks).toBeGreaterThan(0);
    expect(children.map((c) => c.exitCode)).toEqual([0, 0, 0, 0]);
    expect(listRuns(dir)).toHaveLength(1 + 4 * 20); // fewer than RUN_LOGS_KEPT_MAX: none pruned
    rmSync(dir, { recursive: true });
  }, 60_000);
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

  it('--list shows each run with its state and status; --json prints one JSON object', async () => {
    const { out } = await logsOutput([undefined, { list: true }]);
    expect(out[0]).toMatch(/^RUN +STARTED +STATE +STATUS +SIZE$/);
    expect(out[1]).toMatch(new RegExp(`^20260101T000000Z-${process.pid} +2026-01-01T00:00:00Z +finished +7 +\\d+ bytes$`));
    expect(out[2]).toMatch(/^20260101T000005Z-222 +2026-01-01T00:00:05Z +finished +- +11 bytes$/);
    const json = await logsOutput([undefined, { list: true, json: true }]);
    expect(json.out).toHaveLength(1);
    const list = JSON.parse(json.out[0]!);
    expect(list.last).toBe('20260101T000005Z-222');
    expect(list.runs[0]).toEqual({
      name: `20260101T000000Z-${process.pid}`,
      started: '2026-01-01T00:00:00Z',
      pid: process.pid,
      state: 'finished',
      status: 7,
      bytes: Buffer.byteLength(LOG),
      log: join(base, `logs/runs/20260101T000000Z-${process.pid}.log`),
      events: join(base, `logs/runs/20260101T000000Z-${process.pid}.events`),
      report: join(base, `logs/runs/20260101T000000Z-${process.pid}.json`),
    });
  });

  it("--list: running, killed and finished runs; a report's status wins over the log", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-list-'));
    const going = startRunLog(dir, new Date('2026-01-02T00:00:00Z'), sleeper(30));
    startRunLog(dir, new Date('2026-01-02T00:00:01Z'), spawnSync('true').pid!); // killed: never finished
    const done = startRunLog(dir, new Date('2026-01-02T00:00:02Z'), 93);
    writeFileSync(done.path, LOG);
    writeFileSync(done.reportPath, JSON.stringify({ status: 9 }));
    done.finish();
    const { out } = await logsOutput([undefined, { list: true }], dir);
    expect(out.slice(1).map((line) => line.split(/ +/).slice(2, 4))).toEqual([
      ['running', '-'],
      ['killed', '-'],
      ['finished', '9'],
    ]);
    going.finish();
    rmSync(dir, { recursive: true });
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
    expect(notices).toEqual([expect.stringMatching(/^ukernel: run \S+ was killed before it finished$/)]);
    rmSync(dir, { recursive: true });
  });

  it('--follow follows the last started of concurrent runs (or the one named) until it finishes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-follow-two-'));
    const a = startRunLog(dir, new Date('2026-01-03T00:00:09Z'), sleeper(30));
    const b = startRunLog(dir, new Date('2026-01-03T00:00:01Z'), sleeper(30)); // started last, older name
    writeFileSync(a.path, 'a one\n');
    writeFileSync(b.path, 'b one\n');
    const followB = logsOutput([undefined, { follow: true }], dir);
    const followA = logsOutput([a.name, { follow: true }], dir);
    setTimeout(() => {
      appendFileSync(a.path, 'a two\n');
      appendFileSync(b.path, 'b two\n');
    }, 100);
    setTimeout(() => b.finish(), 200); // over once its marker is gone, though its process lives on
    setTimeout(() => a.finish(), 300);
    expect(await followB).toEqual({ out: ['b one', 'b two'], notices: [`ukernel: run ${b.name} ended`] });
    expect(await followA).toEqual({ out: ['a one', 'a two'], notices: [`ukernel: run ${a.name} ended`] });
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
      vmConfigPath: join(dir, 'logs/runs/20260201T000000Z-5.firecracker.json'),
      markerPath: join(dir, 'logs/runs/20260201T000000Z-5.running'),
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
      '20260201T000002Z-22.events',
      '20260201T000002Z-22.json',
      '20260201T000002Z-22.log',
      '20260201T000003Z-23.events',
      '20260201T000003Z-23.json',
      '20260201T000003Z-23.log',
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
      {
        records: [
          {
            kind: 'log',
            tNs: 30_000,
            level: 2,
            task: 1,
            message: 'slow \x1b[5m',
            fields: [
              ['ms', '12'],
              ['path', 'a b'],
            ],
          },
          { kind: 'log', tNs: 5_000, level: 0, message: 'early' },
        ],
      },
      {
        records: [
          { kind: 'begin', tNs: 20_000, span: 1n, name: 's' },
          { kind: 'log', tNs: 20_000, level: 1, message: 'working', fields: [['n', '']] },
          { kind: 'log', tNs: 60_000, level: 3, message: 'late' },
        ],
      },
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
    expect(notices).toEqual([
      expect.stringMatching(
        /^ukernel: logs\/runs\/20260301T000000Z-31\.events: block 2 \(sequence 2\) at byte \d+: CRC mismatch, skipped$/,
      ),
    ]);
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
    expect(lines).toContainEqual({
      type: 'log',
      t_ns: 30000,
      level: 'warn',
      task: 1,
      message: 'slow \\x1b[5m',
      fields: { ms: '12', path: 'a b' },
    });
    expect(lines.map((l) => l.type)).toEqual(['record', 'console', 'record', 'console', 'log', 'log', 'record', 'record', 'log']);
  });

  it('--follow shows log records while the run goes on, then reads the rest once it ended', async () => {
    const live = mkdtempSync(join(tmpdir(), 'uk-follow-events-'));
    const writer = spawn('sleep', ['0.6']);
    const running = startRunLog(live, new Date(), writer.pid!);
    writeFileSync(running.path, 'booting\n');
    const full = encodeEventsFile(
      [{ records: [{ kind: 'log', tNs: 1_000, message: 'one' }] }, { records: [{ kind: 'log', tNs: 2_000, message: 'two' }] }],
      8192,
    );
    const partial = Buffer.from(full);
    partial.fill(0, 1024 + 40, 1536); // block 1 is still being written: not damaged yet
    writeFileSync(running.eventsPath, partial);
    const following = logsOutput([undefined, { follow: true }], live);
    setTimeout(() => appendFileSync(running.path, 'more\n'), 150);
    setTimeout(() => writeFileSync(running.eventsPath, full), 300);
    const { out, notices } = await following;
    expect(out).toEqual(['booting', '+0.001ms info  [task 0] one', 'more', '+0.002ms info  [task 0] two']);
    expect(notices).toEqual([expect.stringMatching(/was killed before it finished/)]); // sleep exited first
    rmSync(live, { recursive: true });
  });
});
