#!/usr/bin/env node
// bench/abi — costs of the ABI's task, channel, poll, timer and trace calls inside the guest,
// next to their Linux counterparts on this host, in the same run (a benchmark, not a test).
//
// For N runs (default 5), interleaved so drift hits both sides alike:
//   guest (bench/abi/guest, built with --release, booted with `ukernel run --image`):
//     task.yield round trip between two tasks; channel throughput (one producer, one consumer,
//     16-byte messages); channel ping-pong round trip; io.poll wake-up (send → poller awake);
//     sleep accuracy (100 µs, 1 ms, 10 ms: median and worst of 21, lateness beside nanosleep's);
//     trace records per second leaving the guest
//     (N trace.event calls, from the loop's start to the workload's exit record, which comes
//     after the final flush of the events buffer; dropped records do not count);
//   host (bench/abi/linux_baseline.c, compiled with the system cc into a temporary directory):
//     sched_yield round trip between two threads pinned to one CPU; pipe and eventfd ping-pong
//     (unpinned and both threads on one CPU); pipe throughput (16-byte messages); poll() wake-up
//     on an eventfd; nanosleep accuracy (median and worst of 21).
// Prints medians with min and max, each guest figure next to its Linux counterpart and the
// ratio, and the targets: yield round trip ≤ 100 ns; channel ping-pong ≥ 10× faster than the
// faster Linux pipe ping-pong; every sleep ends ≤ 10 µs after its deadline.
//
// usage: node bench/abi/run.mjs [--runs N] [--accel auto|kvm|tcg] [--trace-events N] [--json]
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { failer, kvmUsable, round, run, stats } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const cli = join(root, 'cli/bin/ukernel.mjs');
const fail = failer('abi');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    accel: { type: 'string', default: 'auto' },
    'trace-events': { type: 'string', default: '200000' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number.parseInt(values.runs, 10);
if (!Number.isInteger(runs) || runs < 1 || runs > 100) fail(`--runs must be 1..100, got ${values.runs}`);
const accel = values.accel === 'auto' ? (kvmUsable() ? 'kvm' : 'tcg') : values.accel;
if (!['kvm', 'tcg'].includes(accel)) fail(`--accel must be auto, kvm or tcg, got ${values.accel}`);
const traceEvents = Number.parseInt(values['trace-events'], 10);
if (!Number.isInteger(traceEvents) || traceEvents < 1000 || traceEvents > 10_000_000)
  fail(`--trace-events must be 1000..10000000, got ${values['trace-events']}`);

// One command may take at most this long before it is killed and the benchmark fails.
const commandTimeoutMs = accel === 'kvm' ? 120_000 : 600_000;
const YIELD_RT_TARGET_NS = 100;
const PINGPONG_SPEEDUP_TARGET = 10;
// Every task.sleep ends within this long after its deadline (issue 7).
const SLEEP_LATE_TARGET_NS = 10_000;
const SLEEPS = [
  ['100us', 100_000],
  ['1ms', 1_000_000],
  ['10ms', 10_000_000],
];

const work = mkdtempSync(join(tmpdir(), 'ukernel-bench-abi-'));
const project = join(work, 'guest');
const baseline = join(work, 'linux_baseline');
const samples = { guest: {}, linux: {} };
const add = (side, key, value) => {
  samples[side][key] ??= [];
  samples[side][key].push(value);
};

try {
  const source = join(here, 'guest');
  cpSync(source, project, {
    recursive: true,
    filter: (path) => path === source || !['build', 'dist', 'logs'].includes(basename(path)),
  });
  await command(process.execPath, [cli, 'build', '--release'], project);
  await command(process.execPath, [cli, 'pack'], project);
  await command('cc', ['-O2', '-pthread', '-o', baseline, join(here, 'linux_baseline.c')], work);
  const image = join(project, 'dist/abi-bench.img');

  for (let index = 0; index < runs; index++) {
    // Guest: the call costs.
    const bench = await guest(image, ['bench']);
    for (const [key, value] of Object.entries(bench.values)) add('guest', key, value);
    if (bench.values.done !== 1) fail(`guest bench did not finish:\n${bench.log.slice(-2000)}`);
    // Guest: trace records leaving the guest.
    const trace = await guest(image, ['trace', String(traceEvents)]);
    const start = trace.values.trace_start_ns;
    const exit = trace.report.workload?.exit_ns;
    if (start == null || exit == null) fail(`trace run gave no start or exit time:\n${trace.log.slice(-2000)}`);
    const dropped = trace.report.events_dropped ?? 0;
    add('guest', 'trace_records_per_s', ((traceEvents - dropped) * 1e9) / (exit - start));
    add('guest', 'trace_call_ns', trace.values.trace_call_ns);
    add('guest', 'trace_dropped', dropped);
    // Host.
    const linux = await command(baseline, [], work);
    for (const line of linux.stdout.split('\n')) {
      const match = /^linux: (\w+)=([\d.]+)$/.exec(line);
      if (match) add('linux', match[1], Number(match[2]));
    }
    if (!values.json && process.stderr.isTTY) process.stderr.write(`\rrun ${index + 1}/${runs}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (!values.json && process.stderr.isTTY) process.stderr.write('\r');

const s = (side, key, digits = 1) => {
  const list = samples[side][key];
  if (!list || list.length === 0) fail(`no samples for ${side} ${key}`);
  return stats(list, digits);
};
const g = {
  yield_rt_ns: s('guest', 'yield_rt_ns'),
  chan_msgs_per_s: s('guest', 'chan_msgs_per_s', 0),
  chan_pingpong_rt_ns: s('guest', 'chan_pingpong_rt_ns'),
  poll_wake_ns: s('guest', 'poll_wake_ns', 0),
  sleep_100us_ns: s('guest', 'sleep_100us_ns', 0),
  sleep_1ms_ns: s('guest', 'sleep_1ms_ns', 0),
  sleep_10ms_ns: s('guest', 'sleep_10ms_ns', 0),
  sleep_100us_max_ns: s('guest', 'sleep_100us_max_ns', 0),
  sleep_1ms_max_ns: s('guest', 'sleep_1ms_max_ns', 0),
  sleep_10ms_max_ns: s('guest', 'sleep_10ms_max_ns', 0),
  trace_records_per_s: s('guest', 'trace_records_per_s', 0),
  trace_call_ns: s('guest', 'trace_call_ns'),
  trace_dropped: s('guest', 'trace_dropped', 0),
};
const l = {
  sched_yield_rt_ns: s('linux', 'sched_yield_rt_ns'),
  pipe_pingpong_rt_ns: s('linux', 'pipe_pingpong_rt_ns'),
  pipe_pingpong_1cpu_rt_ns: s('linux', 'pipe_pingpong_1cpu_rt_ns'),
  eventfd_pingpong_rt_ns: s('linux', 'eventfd_pingpong_rt_ns'),
  eventfd_pingpong_1cpu_rt_ns: s('linux', 'eventfd_pingpong_1cpu_rt_ns'),
  pipe_msgs_per_s: s('linux', 'pipe_msgs_per_s', 0),
  poll_wake_ns: s('linux', 'poll_wake_ns', 0),
  poll_wake_1cpu_ns: s('linux', 'poll_wake_1cpu_ns', 0),
  nanosleep_100us_ns: s('linux', 'nanosleep_100us_ns', 0),
  nanosleep_1ms_ns: s('linux', 'nanosleep_1ms_ns', 0),
  nanosleep_10ms_ns: s('linux', 'nanosleep_10ms_ns', 0),
  nanosleep_100us_max_ns: s('linux', 'nanosleep_100us_max_ns', 0),
  nanosleep_1ms_max_ns: s('linux', 'nanosleep_1ms_max_ns', 0),
  nanosleep_10ms_max_ns: s('linux', 'nanosleep_10ms_max_ns', 0),
};
const fastestPipe = Math.min(l.pipe_pingpong_rt_ns.median, l.pipe_pingpong_1cpu_rt_ns.median);
const pingpongSpeedup = fastestPipe / g.chan_pingpong_rt_ns.median;
const result = {
  accel,
  runs,
  trace_events: traceEvents,
  host_cpus: samples.linux.cpus?.[0] ?? null,
  guest: g,
  linux: l,
  ratios: {
    yield_linux_over_guest: round(l.sched_yield_rt_ns.median / g.yield_rt_ns.median, 1),
    pingpong_pipe_fastest_over_guest: round(pingpongSpeedup, 1),
    pingpong_eventfd_1cpu_over_guest: round(l.eventfd_pingpong_1cpu_rt_ns.median / g.chan_pingpong_rt_ns.median, 1),
    throughput_guest_over_pipe: round(g.chan_msgs_per_s.median / l.pipe_msgs_per_s.median, 1),
    poll_wake_linux_1cpu_over_guest: round(l.poll_wake_1cpu_ns.median / g.poll_wake_ns.median, 1),
  },
  // Lateness (achieved - requested) of task.sleep and nanosleep: the median run's median, and
  // the worst sleep of all runs.
  sleep_late_ns: Object.fromEntries(
    SLEEPS.map(([name, requested]) => [
      name,
      {
        guest_median: g[`sleep_${name}_ns`].median - requested,
        guest_worst: g[`sleep_${name}_max_ns`].max - requested,
        linux_median: l[`nanosleep_${name}_ns`].median - requested,
        linux_worst: l[`nanosleep_${name}_max_ns`].max - requested,
      },
    ]),
  ),
  targets: {
    sleep_late_ns_max: SLEEP_LATE_TARGET_NS,
    sleep_met: SLEEPS.every(([name, requested]) => g[`sleep_${name}_max_ns`].max - requested <= SLEEP_LATE_TARGET_NS),
    yield_rt_ns_max: YIELD_RT_TARGET_NS,
    yield_met: g.yield_rt_ns.median <= YIELD_RT_TARGET_NS,
    pingpong_speedup_min: PINGPONG_SPEEDUP_TARGET,
    pingpong_met: pingpongSpeedup >= PINGPONG_SPEEDUP_TARGET,
  },
};

if (values.json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  const fmt = (x, unit, digits) => {
    if (unit === 'ns' && x >= 10_000) return `${(x / 1000).toFixed(1)} µs`;
    if (unit === '/s') return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(1)} k/s`;
    return `${x.toFixed(digits)} ${unit}`;
  };
  const cell = (st, unit, digits = 1) =>
    `${fmt(st.median, unit, digits)} [${fmt(st.min, unit, digits)}–${fmt(st.max, unit, digits)}]`.padEnd(36);
  const line = (label, guestCell, linuxLabel, linuxCell, ratio) =>
    console.log(`${label.padEnd(30)} ${guestCell} ${linuxLabel.padEnd(28)} ${linuxCell} ${ratio}`);
  console.log(`bench/abi: ${runs} runs, accel ${accel}; host Linux with ${result.host_cpus ?? '?'} CPUs; medians [min–max]`);
  console.log(
    `${'guest (ukernel ABI)'.padEnd(30)} ${''.padEnd(36)} ${'Linux counterpart'.padEnd(28)} ${''.padEnd(36)} linux/guest`,
  );
  line(
    'task.yield round trip',
    cell(g.yield_rt_ns, 'ns'),
    'sched_yield rt, 1 CPU',
    cell(l.sched_yield_rt_ns, 'ns'),
    `${result.ratios.yield_linux_over_guest}×`,
  );
  line(
    'channel ping-pong round trip',
    cell(g.chan_pingpong_rt_ns, 'ns'),
    'pipe ping-pong, 1 CPU',
    cell(l.pipe_pingpong_1cpu_rt_ns, 'ns'),
    `${round(l.pipe_pingpong_1cpu_rt_ns.median / g.chan_pingpong_rt_ns.median, 1)}×`,
  );
  line(
    '',
    ''.padEnd(36),
    'pipe ping-pong, unpinned',
    cell(l.pipe_pingpong_rt_ns, 'ns'),
    `${round(l.pipe_pingpong_rt_ns.median / g.chan_pingpong_rt_ns.median, 1)}×`,
  );
  line(
    '',
    ''.padEnd(36),
    'eventfd ping-pong, 1 CPU',
    cell(l.eventfd_pingpong_1cpu_rt_ns, 'ns'),
    `${result.ratios.pingpong_eventfd_1cpu_over_guest}×`,
  );
  line(
    '',
    ''.padEnd(36),
    'eventfd ping-pong, unpinned',
    cell(l.eventfd_pingpong_rt_ns, 'ns'),
    `${round(l.eventfd_pingpong_rt_ns.median / g.chan_pingpong_rt_ns.median, 1)}×`,
  );
  line(
    'channel throughput, 16 B',
    cell(g.chan_msgs_per_s, '/s', 0),
    'pipe, 16 B writes',
    cell(l.pipe_msgs_per_s, '/s', 0),
    `guest ${result.ratios.throughput_guest_over_pipe}× the messages`,
  );
  line(
    'io.poll wake (send → awake)',
    cell(g.poll_wake_ns, 'ns', 0),
    'poll() on eventfd, 1 CPU',
    cell(l.poll_wake_1cpu_ns, 'ns', 0),
    `${result.ratios.poll_wake_linux_1cpu_over_guest}×`,
  );
  line(
    '',
    ''.padEnd(36),
    'poll() on eventfd, unpinned',
    cell(l.poll_wake_ns, 'ns', 0),
    `${round(l.poll_wake_ns.median / g.poll_wake_ns.median, 1)}×`,
  );
  for (const [name] of SLEEPS) {
    const gs = g[`sleep_${name}_ns`];
    const ls = l[`nanosleep_${name}_ns`];
    const late = result.sleep_late_ns[name];
    line(
      `sleep ${name} (achieved)`,
      cell(gs, 'ns', 0),
      `nanosleep ${name}`,
      cell(ls, 'ns', 0),
      `late ${fmt(late.guest_median, 'ns', 0)} vs ${fmt(late.linux_median, 'ns', 0)}`,
    );
    line(
      '',
      `worst late ${fmt(late.guest_worst, 'ns', 0)}`.padEnd(36),
      '',
      `worst late ${fmt(late.linux_worst, 'ns', 0)}`.padEnd(36),
      '',
    );
  }
  line(
    'trace records leaving guest',
    cell(g.trace_records_per_s, '/s', 0),
    'n/a',
    ''.padEnd(36),
    `(${traceEvents} events; trace.event ${g.trace_call_ns.median} ns; dropped ${g.trace_dropped.median})`,
  );
  const worst = Math.max(...SLEEPS.map(([name]) => result.sleep_late_ns[name].guest_worst));
  console.log(
    `target: every task.sleep ends ≤ ${SLEEP_LATE_TARGET_NS / 1000} µs late: worst ${fmt(worst, 'ns', 0)} (${result.targets.sleep_met ? 'met' : 'NOT met'})`,
  );
  console.log(
    `target: task.yield round trip ≤ ${YIELD_RT_TARGET_NS} ns: ${g.yield_rt_ns.median} ns (${result.targets.yield_met ? 'met' : 'NOT met'})`,
  );
  console.log(
    `target: channel ping-pong ≥ ${PINGPONG_SPEEDUP_TARGET}× faster than the faster Linux pipe ping-pong: ${round(pingpongSpeedup, 1)}× (${result.targets.pingpong_met ? 'met' : 'NOT met'})`,
  );
}

/** Boots the image with `--json`; returns the report, the console log and its `bench:` values. */
async function guest(image, args) {
  const { stdout } = await command(
    process.execPath,
    [cli, 'run', '--image', image, '--accel', accel, '--json', '--', ...args],
    project,
  );
  const report = JSON.parse(stdout);
  if (report.status !== 0) fail(`guest ${args.join(' ')} exited with status ${report.status} (log: ${report.run_log})`);
  // The workload's output travels on the run's events device: `ukernel logs RUN` shows it.
  const name = basename(report.run_log).replace(/\.log$/, '');
  const log = (await command(process.execPath, [cli, 'logs', name], project)).stdout;
  const found = {};
  for (const line of log.split('\n')) {
    if (!line.startsWith('bench: ')) continue;
    for (const pair of line.slice(7).split(' ')) {
      const [key, value] = pair.split('=');
      if (key && value !== undefined && !Number.isNaN(Number(value))) found[key] = Number(value);
    }
  }
  return { report, log, values: found };
}

/** Runs a command that must succeed; its output on failure. */
async function command(file, args, cwd) {
  const result = await run(file, args, { cwd, timeoutMs: commandTimeoutMs });
  if (result.code !== 0) {
    throw new Error(
      `${basename(file)} ${args.join(' ')} exited ${result.code}:\n${result.stderr.slice(-2000)}${result.stdout.slice(-2000)}`,
    );
  }
  return result;
}
