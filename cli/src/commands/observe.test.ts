// `ukernel trace` and `ukernel perf` over recorded runs: events device, console fallback, report.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEventsFile } from '../observe/fixtures.js';
import { chromeTraceProblems } from '../observe/trace.js';
import { startRunLog } from '../runlog.js';
import { perf } from './perf.js';
import { trace } from './trace.js';

const dir = mkdtempSync(join(tmpdir(), 'uk-observe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONSOLE =
  '@uk:boot v=1 proto=pvh clock=kvmclock tsc_khz=2600000 phase.ring3=195000 phase.clock=221000 phase.ready=232000\n' +
  '@uk:workload v=1 event=start t_ns=7200000 disk_ns=5600000 image_ns=1300000 load_ns=100000\n' +
  'hello\n' +
  '@uk:workload v=1 event=exit status=0 t_ns=10400000\n' +
  '@uk:exit v=1 status=0 reason=return events_dropped=3\n';

function makeRun(base: string, second: number, console: string, events: Buffer | null, report: unknown): string {
  const run = startRunLog(base, new Date(Date.UTC(2026, 3, 1, 0, 0, second)), 40 + second);
  writeFileSync(run.path, console);
  if (events !== null) writeFileSync(run.eventsPath, events);
  if (report !== undefined) writeFileSync(run.reportPath, typeof report === 'string' ? report : JSON.stringify(report));
  run.finish();
  return run.name;
}

const spans = (n: number, name: string, first: bigint, durationNs: (i: number) => number) =>
  Array.from({ length: n }, (_, i) => [
    { kind: 'begin' as const, tNs: 8_000_000 + i * 10_000, span: first + BigInt(i), name, task: 1 },
    { kind: 'end' as const, tNs: 8_000_000 + i * 10_000 + durationNs(i), span: first + BigInt(i), task: 1 },
  ]).flat();

const EVENTS = encodeEventsFile(
  [
    { records: [{ kind: 'log', tNs: 7_300_000, message: 'started' }, ...spans(10, 'request', 1n, (i) => (i + 1) * 1000)] },
    {
      records: [
        ...spans(2, 'db', 100n, () => 500),
        { kind: 'event', tNs: 9_000_000, value: 7n, name: 'queue_depth' },
        { kind: 'event', tNs: 9_100_000, value: 3n, name: 'queue_depth' },
        { kind: 'begin', tNs: 9_500_000, span: 500n, name: 'shutdown' },
      ],
      final: true,
    },
  ],
  64 * 1024,
);
const REPORT = { status: 0, vmm: 'qemu', accel: 'kvm', host: { spawn_to_entry_ns: 45_500_000, total_ns: 68_000_000 } };
const main = makeRun(dir, 0, CONSOLE, EVENTS, REPORT);

async function capture(fn: (deps: { cwd: string; out: (l: string) => void; notice: (l: string) => void }) => Promise<number>) {
  const out: string[] = [];
  const notices: string[] = [];
  const code = await fn({ cwd: dir, out: (l) => out.push(l), notice: (l) => notices.push(l) });
  return { code, out, notices };
}

describe('ukernel trace', () => {
  it('summarises spans per name and events', async () => {
    const { code, out, notices } = await capture((deps) => trace(undefined, undefined, {}, deps));
    expect(code).toBe(0);
    expect(out[0]).toBe(`Run ${main}: 13 span(s), 2 event(s); 28 record(s) from the events device`);
    expect(out.slice(2, 6)).toEqual([
      'SPAN      COUNT  UNCLOSED  TOTAL     P50     P90     P99     MAX',
      'request      10         0  55 µs    5 µs    9 µs   10 µs   10 µs',
      'db            2         0   1 µs  500 ns  500 ns  500 ns  500 ns',
      'shutdown      0         1      -       -       -       -       -',
    ]);
    expect(out).toContain('EVENT        COUNT  MIN  MAX  LAST');
    expect(out).toContain('queue_depth      2    3    7     3');
    expect(notices).toEqual(['ukernel: the guest dropped 3 record(s) it could not write (events device full)']);
  });

  it('--json gives the same as one object', async () => {
    const { out } = await capture((deps) => trace(main.slice(0, 10), undefined, { json: true }, deps));
    const json = JSON.parse(out[0]!);
    expect(json).toMatchObject({
      run: main,
      records: { events_device: 28, console: 0 },
      unclosed_spans: 1,
      dropped_records: { in_blocks: 0, at_exit: 3 },
    });
    expect(json.spans[0]).toEqual({
      name: 'request',
      count: 10,
      unclosed: 0,
      total_ns: 55000,
      p50_ns: 5000,
      p90_ns: 9000,
      p99_ns: 10000,
      max_ns: 10000,
    });
    expect(json.events).toEqual([{ name: 'queue_depth', count: 2, min: 3, max: 7, last: 3 }]);
  });

  it('--export chrome|perfetto writes a valid Trace Event Format file atomically', async () => {
    mkdirSync(join(dir, 'out'));
    for (const format of ['chrome', 'perfetto']) {
      const { out } = await capture((deps) => trace(undefined, `out/${format}.json`, { export: format }, deps));
      expect(out[0]).toBe(`Trace written: out/${format}.json (13 spans, 2 events, run ${main})`);
      const exported = JSON.parse(readFileSync(join(dir, `out/${format}.json`), 'utf8'));
      expect(chromeTraceProblems(exported)).toEqual([]);
      expect(exported.traceEvents.filter((e: { ph: string }) => e.ph === 'X')).toHaveLength(13);
      const unclosed = exported.traceEvents.find((e: { name: string }) => e.name === 'shutdown');
      expect(unclosed).toMatchObject({ ts: 9500, dur: 900, args: { unclosed: true } }); // ends at the workload's exit
    }
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['chrome.json', 'perfetto.json']);
  });

  it('refuses unknown formats, a missing FILE and stray operands', async () => {
    await expect(capture((deps) => trace(undefined, 'x.json', { export: 'speedscope' }, deps))).rejects.toMatchObject({
      code: 'UK101',
    });
    await expect(capture((deps) => trace(undefined, undefined, { export: 'chrome' }, deps))).rejects.toMatchObject({
      code: 'UK100',
    });
    await expect(capture((deps) => trace(undefined, 'x.json', {}, deps))).rejects.toMatchObject({ code: 'UK100' });
    await expect(capture((deps) => trace('nope', undefined, {}, deps))).rejects.toMatchObject({ code: 'UK128' });
    writeFileSync(join(dir, 'plain'), '');
    await expect(capture((deps) => trace(undefined, 'plain/x.json', { export: 'chrome' }, deps))).rejects.toMatchObject({
      code: 'UK151',
      hint: expect.stringContaining('--export'),
    });
    // A missing directory is refused, not created.
    await expect(capture((deps) => trace(undefined, 'missing/x.json', { export: 'chrome' }, deps))).rejects.toMatchObject({
      code: 'UK156',
      message: 'cannot write missing/x.json: the directory missing does not exist',
      hint: expect.stringContaining('mkdir -p missing'),
    });
    expect(existsSync(join(dir, 'missing'))).toBe(false);
  });

  it('reads @uk:trace console records when the run had no events device', async () => {
    const base = mkdtempSync(join(tmpdir(), 'uk-observe-console-'));
    const name = makeRun(
      base,
      1,
      '@uk:trace v=1 kind=begin span=1 parent=0 task=0 t_ns=100 name=step\n@uk:trace v=1 kind=event value=5 task=0 t_ns=150 name=n\n' +
        '@uk:trace v=1 kind=end span=1 task=0 t_ns=400\n@uk:trace v=1 kind=end span=9 task=0 t_ns=500\n',
      null,
      undefined,
    );
    const out: string[] = [];
    const notices: string[] = [];
    await trace(undefined, undefined, {}, { cwd: base, out: (l) => out.push(l), notice: (l) => notices.push(l) });
    expect(out[0]).toBe(`Run ${name}: 1 span(s), 1 event(s); 4 record(s) from the console (no events device)`);
    expect(out[3]).toMatch(/^step +1 +300 ns +300 ns/);
    expect(notices).toEqual(['ukernel: 1 span end(s) without a begin ignored']);
    rmSync(base, { recursive: true });
  });

  it('a damaged events file is reported, not fatal', async () => {
    const base = mkdtempSync(join(tmpdir(), 'uk-observe-bad-'));
    makeRun(base, 2, CONSOLE, Buffer.from('not an events file at all'), undefined);
    const out: string[] = [];
    const notices: string[] = [];
    await trace(undefined, undefined, {}, { cwd: base, out: (l) => out.push(l), notice: (l) => notices.push(l) });
    expect(out[1]).toMatch(/^No spans or events recorded/);
    expect(notices[0]).toMatch(/\.events: shorter than its 512-byte header; its records are skipped$/);
    rmSync(base, { recursive: true });
  });
});

describe('ukernel perf', () => {
  it('breaks the cold start down and lists span latencies', async () => {
    const { out } = await capture((deps) => perf(undefined, {}, deps));
    expect(out).toEqual([
      `Cold start of run ${main} on qemu/kvm, status 0`,
      '',
      'STEP                         TOOK  AT (since entry)  CLOCK',
      'vmm start → kernel entry  45.5 ms                    host',
      '  boot phase ring3         195 µs            195 µs  guest',
      '  boot phase clock          26 µs            221 µs  guest',
      '  boot phase ready          11 µs            232 µs  guest',
      'ready → workload start       7 ms            7.2 ms  guest',
      '  disk                     5.6 ms                    guest',
      '  image                    1.3 ms                    guest',
      '  load                     100 µs                    guest',
      'entry → first event        7.3 ms            7.3 ms  guest',
      'workload run               3.2 ms           10.4 ms  guest',
      'total (vmm start → exit)    68 ms                    host',
      '',
      'SPAN      COUNT     P50     P90     P99     MAX',
      'request      10    5 µs    9 µs   10 µs   10 µs',
      'db            2  500 ns  500 ns  500 ns  500 ns',
      'shutdown      0       -       -       -       -',
    ]);
  });

  it('--json', async () => {
    const { out } = await capture((deps) => perf(undefined, { json: true }, deps));
    const json = JSON.parse(out[0]!);
    expect(json).toMatchObject({
      run: main,
      vmm: 'qemu',
      accel: 'kvm',
      status: 0,
      cold_start: {
        vmm_start_to_entry_ns: 45_500_000,
        phases: [
          { name: 'ring3', at_ns: 195_000, took_ns: 195_000 },
          { name: 'clock', at_ns: 221_000, took_ns: 26_000 },
          { name: 'ready', at_ns: 232_000, took_ns: 11_000 },
        ],
        entry_to_workload_start_ns: 7_200_000,
        workload_steps_ns: { disk: 5_600_000, image: 1_300_000, load: 100_000 },
        entry_to_first_event_ns: 7_300_000,
        workload_run_ns: 3_200_000,
        total_ns: 68_000_000,
      },
    });
    expect(json.spans[0]).toEqual({ name: 'request', count: 10, p50_ns: 5000, p90_ns: 9000, p99_ns: 10000, max_ns: 10000 });
  });

  it('without a report (or with a forged one) the host side is unknown, the rest is there', async () => {
    const base = mkdtempSync(join(tmpdir(), 'uk-perf-'));
    makeRun(base, 3, CONSOLE, null, undefined);
    let out: string[] = [];
    let notices: string[] = [];
    await perf(undefined, {}, { cwd: base, out: (l) => out.push(l), notice: (l) => notices.push(l) });
    expect(out[0]).toMatch(/^Cold start of run \S+, status 0$/);
    expect(out[3]).toMatch(/^vmm start → kernel entry +- +host$/);
    expect(notices).toContainEqual(expect.stringMatching(/no run report logs\/runs\/\S+\.json: host timings unknown/));
    makeRun(base, 4, CONSOLE, null, { vmm: '\x1b[2J', accel: 7, host: { spawn_to_entry_ns: -5, total_ns: 1e300 } });
    out = [];
    notices = [];
    await perf(undefined, { json: true }, { cwd: base, out: (l) => out.push(l), notice: (l) => notices.push(l) });
    expect(JSON.parse(out[0]!)).toMatchObject({
      vmm: null,
      accel: null,
      cold_start: { vmm_start_to_entry_ns: null, total_ns: null },
    });
    makeRun(base, 5, CONSOLE, null, '{not json');
    notices = [];
    await perf(undefined, {}, { cwd: base, out: () => {}, notice: (l) => notices.push(l) });
    expect(notices).toContainEqual(expect.stringMatching(/is not valid JSON: host timings unknown/));
    rmSync(base, { recursive: true });
  });
});

describe('trace and perf without RUN while runs overlap', () => {
  it('take the last started run: its name, log, events and report together; say that it is still going', async () => {
    const base = mkdtempSync(join(tmpdir(), 'uk-observe-overlap-'));
    // Started first, but its name sorts last (a later second): it is not "the last run".
    const early = startRunLog(base, new Date(Date.UTC(2026, 3, 2, 0, 0, 9)), 11);
    writeFileSync(early.path, CONSOLE.replace('status=0', 'status=5'));
    early.finish();
    const late = startRunLog(base, new Date(Date.UTC(2026, 3, 2, 0, 0, 1)), process.pid); // still going
    writeFileSync(late.path, CONSOLE);
    writeFileSync(late.eventsPath, EVENTS);
    const notices: string[] = [];
    const out: string[] = [];
    const deps = { cwd: base, out: (l: string) => out.push(l), notice: (l: string) => notices.push(l) };
    await trace(undefined, undefined, { json: true }, deps);
    await perf(undefined, { json: true }, deps);
    const [t, p] = out.map((line) => JSON.parse(line));
    expect(t).toMatchObject({ run: late.name, state: 'running', records: { events_device: 28 } });
    expect(p).toMatchObject({ run: late.name, state: 'running', status: 0 });
    expect(notices).toContain(`ukernel: run ${late.name} is still running: what it has written so far`);
    late.finish();
    rmSync(base, { recursive: true });
  });
});
