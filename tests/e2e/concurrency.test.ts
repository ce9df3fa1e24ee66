// Concurrent runs in one project (issue 7, item 6): four `ukernel run` at once, each with its own
// argument, all succeed; each run's log, events device and report hold its own output only;
// `logs RUN` shows the right one; `logs`, `trace` and `perf` without RUN all mean the same run
// (the one started last, which logs/console.log points at); no running marker is left behind.
// Needs the image attached read-only (QEMU takes a write lock on a writable drive, so a second
// concurrent run of the same image fails with `Failed to get "write" lock`).
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readAt } from '../../cli/src/io.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accels,
  initProject,
  qemuDescendants,
  requireBuilt,
  spawnUkernel,
  tempDir,
  ukernelOk,
  waitFor,
  type RunResult,
} from './helpers.js';

const BUILD_MS = 180_000;
const RUNS = 4;
let work: ReturnType<typeof tempDir>;
let project: string;

// Prints, logs and traces its first argument; sleeps so that the runs overlap.
const MAIN = `const std = @import("std");
const ukernel = @import("ukernel");

pub fn main(context: ukernel.Context) u8 {
    const tag: []const u8 = if (context.args.len > 1) std.mem.span(context.args[1]) else "untagged";
    ukernel.print("run tag={s} begins\\n", .{tag});
    ukernel.log.fields(ukernel.abi.log_level_info, "tagged", &.{.{ .key = "tag", .value = tag }});
    const span = ukernel.trace.begin("work");
    ukernel.sleep(1500 * std.time.ns_per_ms);
    _ = span.end();
    ukernel.trace.event("tag_length", tag.len);
    ukernel.print("run tag={s} ends\\n", .{tag});
    return 0;
}
`;

const expectOk = (args: string[], cwd: string): Promise<RunResult> => ukernelOk(args, cwd, BUILD_MS);

/** `ukernel ARGS`, collecting its output; `done` never rejects (the test checks the result). */
function start(args: string[]): { pid: number; done: Promise<RunResult> } {
  const child = spawnUkernel(args, project);
  const done = new Promise<RunResult>((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_MS - 10_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { pid: child.pid!, done };
}

/** The first `bytes` of an events device (it is 256 MiB, mostly holes: never read it whole). */
function eventsHead(path: string, bytes = 64 << 10): Buffer {
  try {
    const fd = openSync(path, 'r');
    try {
      return readAt(fd, 0, bytes);
    } finally {
      closeSync(fd);
    }
  } catch {
    return Buffer.alloc(0);
  }
}

/** An events device with at least one block written after its header sector. */
function hasBlocks(path: string): boolean {
  return eventsHead(path, 516).subarray(512).toString('latin1') === 'UKEB';
}

const tagsIn = (text: string): string[] => [...new Set([...text.matchAll(/tag=(t\d)/g)].map((m) => m[1]!))].sort();

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  project = await initProject(work.path, 'conc', MAIN, BUILD_MS);
}, BUILD_MS);
afterAll(() => work.remove());

describe(`${RUNS} parallel ukernel run in one project (${accels[0]})`, () => {
  it(
    'all succeed, each with its own log, events and report; logs/trace/perf agree on the last run',
    async () => {
      const runsDir = join(project, 'logs/runs');
      const tags = Array.from({ length: RUNS }, (_, i) => `t${i}`);
      const running = tags.map((tag) => start(['run', '--accel', accels[0]!, '--json', '--', tag]));
      // While they go: how many VMs ran at once, and `logs --follow` once all four were printing.
      let overlap = 0;
      let follow: Promise<RunResult> | null = null;
      let settled = false;
      void Promise.all(running.map((r) => r.done)).then(() => (settled = true));
      for (const deadline = Date.now() + BUILD_MS - 20_000; !settled && Date.now() < deadline; ) {
        const vms = running.filter((r) => qemuDescendants(r.pid).length > 0).length;
        overlap = Math.max(overlap, vms);
        let printing = 0;
        try {
          // The workload's output travels on the events device: past its header (one sector), it printed.
          printing = readdirSync(runsDir).filter((f) => f.endsWith('.events') && hasBlocks(join(runsDir, f))).length;
        } catch {
          // logs/runs not made yet, or a file was renamed meanwhile
        }
        // Each run points logs/console.log at itself before its VM prints anything.
        if (follow === null && vms === RUNS && printing === RUNS) follow = start(['logs', '--follow']).done;
        await new Promise((r) => setTimeout(r, 20));
      }
      const results = await Promise.all(running.map((r) => r.done));

      for (const [i, result] of results.entries()) {
        expect(result.code, `run ${tags[i]}\n${result.stdout}\n${result.stderr}`).toBe(0);
      }
      expect(overlap, 'the VMs did not overlap: nothing concurrent was tested').toBe(RUNS);
      const reports = results.map((r) => JSON.parse(r.stdout));
      const names = reports.map((r) => r.run_log.replace(/^.*\//, '').replace(/\.log$/, ''));
      expect(new Set(names).size).toBe(RUNS);
      for (const [i, report] of reports.entries()) {
        expect(report.status).toBe(0);
        expect(tagsIn(readFileSync(report.events, 'latin1'))).toEqual([tags[i]]);
        expect(report.events).toBe(join(runsDir, `${names[i]}.events`));
        const stored = JSON.parse(readFileSync(join(runsDir, `${names[i]}.json`), 'utf8'));
        expect(stored).toEqual(report);
        // `logs RUN`: that run's console and its events device's log record, nobody else's.
        const logs = await expectOk(['logs', names[i]!], project);
        expect(logs.stdout).toContain(`run tag=${tags[i]} begins`);
        expect(logs.stdout).toMatch(new RegExp(`info  \\[task 0\\] tagged tag=${tags[i]}$`, 'm'));
        expect(tagsIn(logs.stdout)).toEqual([tags[i]]);
      }

      const list = JSON.parse((await expectOk(['logs', '--list', '--json'], project)).stdout);
      expect(list.runs.map((r: { name: string }) => r.name).sort()).toEqual([...names].sort());
      expect(list.runs.map((r: { state: string; status: number }) => [r.state, r.status])).toEqual(
        Array(RUNS).fill(['finished', 0]),
      );
      expect(readdirSync(runsDir).filter((f) => f.endsWith('.running'))).toEqual([]);

      // Without RUN: one run, the last started, whichever that was, for every command.
      const last: string = list.last;
      expect(names).toContain(last);
      const lastTag = tags[names.indexOf(last)]!;
      expect(readlinkSync(join(project, 'logs/console.log'))).toBe(`runs/${last}.log`);
      expect(tagsIn((await expectOk(['logs'], project)).stdout)).toEqual([lastTag]);
      const trace = JSON.parse((await expectOk(['trace', '--json'], project)).stdout);
      const perf = JSON.parse((await expectOk(['perf', '--json'], project)).stdout);
      expect([trace.run, perf.run]).toEqual([last, last]);
      expect(trace.events).toEqual([{ name: 'tag_length', count: 1, min: 2, max: 2, last: 2 }]);
      expect(trace.spans.map((s: { name: string; count: number }) => [s.name, s.count])).toEqual([['work', 1]]);
      expect(perf.status).toBe(0);
      expect(perf.cold_start.total_ns).toBe(reports[names.indexOf(last)].host.total_ns);

      // `logs --follow`, started once all four were going, followed the last of them to its end.
      expect(follow, 'logs --follow never started: the four runs were never all running at once').not.toBeNull();
      const followed = await follow!;
      expect(followed.code, followed.stderr).toBe(0);
      expect(tagsIn(followed.stdout)).toEqual([lastTag]);
      expect(followed.stdout).toContain(`run tag=${lastTag} ends`);
    },
    BUILD_MS,
  );

  it(
    'a run whose ukernel process is SIGKILLed is listed as killed, and --follow of it ends',
    async () => {
      const runsDir = join(project, 'logs/runs');
      const before = new Set(readdirSync(runsDir));
      const victim = start(['run', '--accel', accels[0]!, '--', 'tk']);
      let log = '';
      await waitFor(
        'the run to print',
        () => {
          log = readdirSync(runsDir).find((f) => f.endsWith('.log') && !before.has(f)) ?? '';
          const events = join(runsDir, log.replace(/\.log$/, '.events'));
          return log !== '' && hasBlocks(events) && eventsHead(events).includes('run tag=tk begins');
        },
        60_000,
      );
      const name = log.slice(0, -'.log'.length);
      const follow = start(['logs', '--follow', name]).done;
      await new Promise((r) => setTimeout(r, 300));
      process.kill(victim.pid, 'SIGKILL');
      expect((await victim.done).signal).toBe('SIGKILL');
      const followed = await follow;
      expect(followed.code, followed.stderr).toBe(0);
      expect(followed.stdout).toContain('run tag=tk begins');
      expect(followed.stderr).toMatch(
        new RegExp(`run ${name} (was killed before it finished|is not running \\(killed before it finished\\))`),
      );
      const list = JSON.parse((await expectOk(['logs', '--list', '--json'], project)).stdout);
      expect(list.runs.find((r: { name: string }) => r.name === name)).toMatchObject({ state: 'killed', status: null });
      expect(list.last).toBe(name);
      expect((await expectOk(['logs', '--list'], project)).stdout).toMatch(new RegExp(`^${name} +\\S+ +killed +- `, 'm'));
    },
    BUILD_MS,
  );
});
