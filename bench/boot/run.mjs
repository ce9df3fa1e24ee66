#!/usr/bin/env node
// bench/boot — boot-time benchmark (a benchmark, not a timed test).
//
// For N runs (default 20), interleaved so drift hits both sides alike:
//   (a) guest entry → ready, from the kernel's own TSC timestamps (`@uk:boot` phase.ready);
//   (b) wall time of `ukernel run --kernel K` (Node start, CLI, QEMU, guest, exit);
//   (c) wall time of a bare qemu-system-x86_64 run of the same kernel with the same argv (the
//       same devices too: an events device, as `ukernel run` attaches to every run);
//   (d) wall time of `node -e 0`: Node's own start-up, which (b) pays before any CLI code runs.
// Prints median/min/max of each, (b) − (c) and (b) / (c) from the medians, and (b) − (c) − (d):
// what the CLI's own code costs.
//
// usage: node bench/boot/run.mjs [--runs N] [--accel auto|kvm|tcg] [--kernel ELF] [--json]
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { failer, kvmUsable, round, row, run, stats } from '../lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { qemuArgs, parseRecordLine, createEventsFile, constants, decodeEvents, bufferSource } = await import(
  join(root, 'cli/dist/lib.js')
);

const fail = failer('boot');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    accel: { type: 'string', default: 'auto' },
    kernel: { type: 'string', default: join(root, 'kernel/zig-out/bin/ukernel.elf') },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number.parseInt(values.runs, 10);
if (!Number.isInteger(runs) || runs < 1 || runs > 1000) fail(`--runs must be 1..1000, got ${values.runs}`);
if (!existsSync(values.kernel)) fail(`kernel not found: ${values.kernel} (build it: cd kernel && zig build)`);
const accel = values.accel === 'auto' ? (kvmUsable() ? 'kvm' : 'tcg') : values.accel;
if (!['kvm', 'tcg'].includes(accel)) fail(`--accel must be auto, kvm or tcg, got ${values.accel}`);

// One run may take at most this long before it is killed and the benchmark fails.
const runTimeoutMs = accel === 'kvm' ? 20_000 : 60_000;
const cli = join(root, 'cli/bin/ukernel.mjs');
const work = mkdtempSync(join(tmpdir(), 'ukernel-bench-'));
const events = join(work, 'bare.events');
const bare = qemuArgs({ kernel: values.kernel, accel, memoryMib: 128, vcpus: 1, cmdline: '', events });

const guest = [];
const cliWall = [];
const bareWall = [];
const nodeWall = [];
try {
  for (let index = 0; index < runs; index++) {
    const viaCli = await timed(process.execPath, [cli, 'run', '--kernel', values.kernel, '--accel', accel, '--json']);
    const report = JSON.parse(viaCli.stdout);
    if (report.status !== 0) fail(`ukernel run exited with guest status ${report.status}`);
    cliWall.push(viaCli.ms);
    guest.push(report.boot.phases_ns.ready / 1e6);
    createEventsFile(events, constants.EVENTS_CAPACITY_BYTES); // fresh, as each `ukernel run` has
    const viaQemu = await timed('qemu-system-x86_64', bare);
    // The kernel sends its boot record on the events device, as in every `ukernel run`.
    const { records } = decodeEvents(bufferSource(readFileSync(events)));
    const ready = records
      .filter((record) => record.kind === 'kernel')
      .map((record) => parseRecordLine(record.line))
      .find((parsed) => parsed.type === 'record' && parsed.record.kind === 'boot');
    if (!ready) fail('bare qemu run wrote no @uk:boot record to its events device');
    bareWall.push(viaQemu.ms);
    nodeWall.push((await timed(process.execPath, ['-e', '0'])).ms);
    if (!values.json && process.stderr.isTTY) process.stderr.write(`\rrun ${index + 1}/${runs}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (!values.json && process.stderr.isTTY) process.stderr.write('\r');

const a = stats(guest);
const b = stats(cliWall);
const c = stats(bareWall);
const d = stats(nodeWall);
const result = {
  accel,
  runs,
  kernel: values.kernel,
  guest_entry_to_ready_ms: a,
  ukernel_run_wall_ms: b,
  bare_qemu_wall_ms: c,
  node_startup_wall_ms: d,
  cli_overhead_ms: round(b.median - c.median),
  cli_overhead_without_node_startup_ms: round(b.median - c.median - d.median),
  cli_ratio: round(b.median / c.median, 3),
  targets: { guest_entry_to_ready_ms_max: 0.1, cli_overhead_ms_max: 60 },
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  console.log(`bench/boot: ${runs} runs, accel ${accel}, kernel ${values.kernel}`);
  console.log(row('(a) guest entry → ready', a, 'ms', 3));
  console.log(row('(b) ukernel run, wall', b, 'ms', 1));
  console.log(row('(c) bare qemu, wall', c, 'ms', 1));
  console.log(row('(d) node -e 0, wall', d, 'ms', 1));
  console.log(`(b) − (c) = ${result.cli_overhead_ms} ms   (b) / (c) = ${result.cli_ratio}`);
  console.log(`(b) − (c) − (d) = ${result.cli_overhead_without_node_startup_ms} ms (the CLI's own code)`);
  console.log(`targets under KVM: (a) ≤ 0.1 ms, (b) − (c) ≤ 60 ms`);
}

function timed(command, args) {
  return run(command, args, { cwd: work, timeoutMs: runTimeoutMs });
}
