// Logs and traces end to end (docs/observability.md): a workload that logs with fields, opens
// spans and records events runs under QEMU with the events device attached; `ukernel logs`,
// `trace`, `trace --export` and `perf` read what the real kernel wrote. Then the same image
// without an events device, where the kernel falls back to the console (`@uk:trace` records).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromeTraceProblems } from '../../cli/src/observe/trace.js';
import { qemuArgs } from '../../cli/src/vmm/qemu.js';
import { accels, initProject, kernelPath, requireBuilt, tempDir, ukernel, ukernelOk, type RunResult } from './helpers.js';

const BUILD_MS = 180_000;
let work: ReturnType<typeof tempDir>;
let project: string;

const MAIN = `const ukernel = @import("ukernel");

pub fn main(context: ukernel.Context) u8 {
    _ = context;
    ukernel.print("console line from the workload\\n", .{});
    ukernel.log.info("starting", .{});
    ukernel.log.fields(ukernel.abi.log_level_warn, "with fields", &.{ .{ .key = "n", .value = "3" }, .{ .key = "mode", .value = "fast lane" } });
    ukernel.log.debug("detail \\x1b[2J", .{});
    const outer = ukernel.trace.begin("request");
    var i: u64 = 0;
    while (i < 20) : (i += 1) {
        const span = ukernel.trace.begin("parse");
        _ = span.end();
        ukernel.trace.event("tokens", i * 7);
    }
    _ = outer.end();
    _ = ukernel.trace.begin("never_closed");
    ukernel.log.err("done", .{});
    return 0;
}
`;

const expectOk = (args: string[], cwd: string): Promise<RunResult> => ukernelOk(args, cwd, BUILD_MS);

/** The newest run's files. */
function latestRun(): { name: string; log: string; events: string; report: string } {
  const runs = readdirSync(join(project, 'logs/runs'))
    .filter((f) => f.endsWith('.log'))
    .sort();
  const name = runs.at(-1)!.slice(0, -'.log'.length);
  const at = (suffix: string) => join(project, 'logs/runs', `${name}${suffix}`);
  return { name, log: at('.log'), events: at('.events'), report: at('.json') };
}

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  project = await initProject(work.path, 'obs', MAIN, BUILD_MS);
}, BUILD_MS);
afterAll(() => work.remove());

describe.each(accels)('events device (%s)', (accel) => {
  it(
    'ukernel run attaches it and keeps the events file and report beside the log',
    async () => {
      const result = await expectOk(['run', '--accel', accel, '--json'], project);
      const report = JSON.parse(result.stdout);
      const files = latestRun();
      expect(report.events).toBe(files.events);
      expect(statSync(files.events).size).toBe(256 << 20);
      expect(readFileSync(files.events).toString('latin1', 512, 516)).toBe('UKEB'); // the guest wrote blocks
      expect(JSON.parse(readFileSync(files.report, 'utf8'))).toEqual(report);
    },
    BUILD_MS,
  );

  it(
    'ukernel logs merges the console with the decoded log records; --level and --json',
    async () => {
      const logs = await expectOk(['logs'], project);
      const lines = logs.stdout.trimEnd().split('\n');
      const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
      expect(at(/^console line from the workload$/)).toBeGreaterThanOrEqual(0);
      expect(lines).toContainEqual(expect.stringMatching(/^\+\d+\.\d{3}ms info  \[task 0\] starting$/));
      expect(lines).toContainEqual(expect.stringMatching(/^\+\d+\.\d{3}ms warn  \[task 0\] with fields n=3 mode="fast lane"$/));
      expect(lines).toContainEqual(expect.stringMatching(/^\+\d+\.\d{3}ms debug \[task 0\] detail \\x1b\[2J$/));
      expect(at(/ starting$/)).toBeLessThan(at(/ with fields /));
      expect(at(/ with fields /)).toBeLessThan(at(/ done$/));
      expect(logs.stdout).not.toContain('\x1b');

      const warn = await expectOk(['logs', '--level', 'warn'], project);
      expect(warn.stdout.trimEnd().split('\n')).toEqual([
        expect.stringMatching(/ warn  \[task 0\] with fields n=3 mode="fast lane"$/),
        expect.stringMatching(/ error \[task 0\] done$/),
      ]);
      const json = (await expectOk(['logs', '--json'], project)).stdout
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(json).toContainEqual({
        type: 'log',
        t_ns: expect.any(Number),
        level: 'warn',
        task: 0,
        message: 'with fields',
        fields: { n: '3', mode: 'fast lane' },
      });
      expect(json).toContainEqual({ type: 'console', text: 'console line from the workload' });
    },
    BUILD_MS,
  );

  it(
    'ukernel trace summarises the spans and events; --export writes a loadable trace',
    async () => {
      const summary = JSON.parse((await expectOk(['trace', '--json'], project)).stdout);
      expect(summary.records).toEqual({ events_device: 67, console: 0 }); // 4 logs, 22 begins, 21 ends, 20 events
      const byName = Object.fromEntries(summary.spans.map((s: { name: string }) => [s.name, s]));
      expect(byName.request).toMatchObject({ count: 1, unclosed: 0 });
      expect(byName.parse).toMatchObject({ count: 20, unclosed: 0 });
      expect(byName.never_closed).toMatchObject({ count: 0, unclosed: 1 });
      expect(byName.parse.p50_ns).toBeLessThanOrEqual(byName.parse.p99_ns);
      expect(byName.request.total_ns).toBeGreaterThanOrEqual(byName.parse.total_ns);
      expect(summary.events).toEqual([{ name: 'tokens', count: 20, min: 0, max: 133, last: 133 }]);
      const table = await expectOk(['trace'], project);
      expect(table.stdout).toMatch(/^SPAN +COUNT +UNCLOSED +TOTAL +P50 +P90 +P99 +MAX$/m);
      expect(table.stdout).toMatch(/^parse +20 +0 /m);

      mkdirSync(join(project, 'out'), { recursive: true }); // --export does not create directories
      await expectOk(['trace', '--export', 'perfetto', 'out/trace.json'], project);
      const exported = JSON.parse(readFileSync(join(project, 'out/trace.json'), 'utf8'));
      expect(chromeTraceProblems(exported)).toEqual([]);
      expect(exported.traceEvents.filter((e: { ph: string }) => e.ph === 'X')).toHaveLength(22);
      expect(exported.traceEvents.filter((e: { ph: string }) => e.ph === 'i')).toHaveLength(20);
      expect(exported.traceEvents.find((e: { name: string }) => e.name === 'never_closed').args.unclosed).toBe(true);
    },
    BUILD_MS,
  );

  it(
    'ukernel perf breaks the cold start down',
    async () => {
      const perf = JSON.parse((await expectOk(['perf', '--json'], project)).stdout);
      const cold = perf.cold_start;
      expect(perf).toMatchObject({ vmm: 'qemu', accel, status: 0 });
      expect(cold.vmm_start_to_entry_ns).toBeGreaterThan(0);
      expect(cold.phases.at(-1).name).toBe('ready');
      expect(cold.entry_to_workload_start_ns).toBeGreaterThan(cold.phases.at(-1).at_ns);
      expect(cold.entry_to_first_event_ns).toBeGreaterThanOrEqual(cold.entry_to_workload_start_ns);
      expect(cold.workload_run_ns).toBeGreaterThan(0);
      expect(cold.total_ns).toBeGreaterThan(cold.vmm_start_to_entry_ns);
      expect(perf.spans.map((s: { name: string }) => s.name).sort()).toEqual(['never_closed', 'parse', 'request']);
      const text = (await expectOk(['perf'], project)).stdout;
      expect(text).toMatch(/^vmm start → kernel entry +\S+ \S+ +host$/m);
      expect(text).toMatch(/^entry → first event /m);
    },
    BUILD_MS,
  );
});

describe('without an events device', () => {
  it(
    'the kernel falls back to the console, and ukernel trace reads its @uk:trace records',
    async () => {
      // QEMU by hand, with the image but no events disk; its console becomes a recorded run.
      const args = qemuArgs({
        kernel: kernelPath,
        accel: 'tcg',
        memoryMib: 128,
        vcpus: 1,
        cmdline: '',
        image: { path: join(project, 'dist/obs.img') },
      });
      const qemu = spawnSync('qemu-system-x86_64', args, { timeout: 60_000 });
      const name = '20200101T000000Z-1';
      writeFileSync(join(project, `logs/runs/${name}.log`), qemu.stdout);
      expect(qemu.stdout.toString()).toMatch(/^warn: with fields n=3 mode=fast lane$/m);
      const summary = JSON.parse((await expectOk(['trace', name, '--json'], project)).stdout);
      expect(summary.records).toEqual({ events_device: 0, console: 63 });
      expect(summary.spans.find((s: { name: string }) => s.name === 'parse')).toMatchObject({ count: 20 });
      const logs = await expectOk(['logs', name], project);
      expect(logs.stdout).toMatch(/^info: starting$/m);
    },
    BUILD_MS,
  );
});

describe('bare kernel runs', () => {
  it(
    '--kernel runs get an events device too, and still boot',
    async () => {
      const dir = join(work.path, 'bare');
      mkdirSync(dir);
      const bare = await ukernel(['run', '--kernel', kernelPath, '--accel', 'tcg', '--json'], dir, 60_000);
      expect(bare.code, bare.stderr).toBe(0);
      const report = JSON.parse(bare.stdout);
      expect(report.events).toMatch(/logs\/runs\/\d{8}T\d{6}Z-\d+\.events$/);
      expect(statSync(report.events).size).toBe(256 << 20);
    },
    BUILD_MS,
  );
});
