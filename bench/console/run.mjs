#!/usr/bin/env node
// bench/console — the workload's console, and the path to its main (a benchmark, not a timed test).
//
// The workload is tests/workloads/console-probe, built once. For N runs (default 3), in one run:
//   (a) events channel: `ukernel run -- flood BYTES` (default 10 MiB): the guest's own figure
//       (bytes / guest time from the first write to the last, as the probe prints it) and the
//       end-to-end figure (bytes / host wall time of the whole `ukernel run`, output included);
//   (b) the baseline, the serial console: the same probe under bare QEMU without an events device
//       (the kernel's fallback), for BASELINE_BYTES (a VM exit per byte makes more too slow);
//   (c) kernel entry → workload main: the start record's t_ns from `ukernel run --json -- args`.
// Prints median/min/max, the ratio (a)/(b), and the targets: console ≥ 10 MB/s, entry → main
// ≤ 2 ms (both under KVM on the development machine).
//
// usage: node bench/console/run.mjs [--runs N] [--bytes N] [--accel auto|kvm|tcg] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildProjectCopy, failer, kvmUsable, round, row, run, stats } from '../lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(root, 'cli/bin/ukernel.mjs');
const fail = failer('console');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    bytes: { type: 'string', default: String(10 << 20) },
    accel: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number.parseInt(values.runs, 10);
if (!Number.isInteger(runs) || runs < 1 || runs > 100) fail(`--runs must be 1..100, got ${values.runs}`);
const bytes = Number.parseInt(values.bytes, 10);
if (!Number.isInteger(bytes) || bytes < 4096 || bytes > 200 << 20)
  fail(`--bytes must be 4096..${200 << 20}, got ${values.bytes}`);
const accel = values.accel === 'auto' ? (kvmUsable() ? 'kvm' : 'tcg') : values.accel;
if (!['kvm', 'tcg'].includes(accel)) fail(`--accel must be auto, kvm or tcg, got ${values.accel}`);

const BASELINE_BYTES = 64 * 1024;
const CONSOLE_MB_S_TARGET = 10;
const ENTRY_TO_MAIN_MS_TARGET = 2;
const commandTimeoutMs = 300_000;
const { qemuArgs } = await import(join(root, 'cli/dist/lib.js'));
const work = mkdtempSync(join(tmpdir(), 'ukernel-bench-console-'));

const guestMBs = [];
const serialMBs = [];
const entryToMainMs = [];
try {
  const { project, image } = await buildProjectCopy(root, 'console-probe', work);
  for (let index = 0; index < runs; index++) {
    guestMBs.push(...(await eventsChannel(project, image)));
    serialMBs.push(await serialConsole(image));
    entryToMainMs.push(await entryToMain(project, image));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const guest = stats(
  guestMBs.filter((_, i) => i % 2 === 0),
  2,
);
const endToEnd = stats(
  guestMBs.filter((_, i) => i % 2 === 1),
  2,
);
const serial = stats(serialMBs, 4);
const entry = stats(entryToMainMs, 3);
if (values.json) {
  console.log(
    JSON.stringify({
      accel,
      runs,
      bytes,
      events_guest_mb_s: guest,
      events_end_to_end_mb_s: endToEnd,
      serial_mb_s: serial,
      entry_to_main_ms: entry,
    }),
  );
} else {
  console.log(`bench/console: ${runs} run(s) on ${accel}, ${bytes} bytes of console output per run`);
  console.log(row('events channel (guest)', guest, 'MB/s', 2));
  console.log(row('events channel (end to end)', endToEnd, 'MB/s', 2));
  console.log(row(`serial console (${BASELINE_BYTES / 1024} KiB)`, serial, 'MB/s', 4));
  console.log(`ratio events (end to end) / serial: ${round(endToEnd.median / serial.median, 0)}×`);
  console.log(row('entry → workload main', entry, 'ms', 3));
  const met = (ok) => (ok ? 'met' : 'NOT met');
  console.log(
    `targets (KVM): console ≥ ${CONSOLE_MB_S_TARGET} MB/s end to end: ${met(endToEnd.median >= CONSOLE_MB_S_TARGET)}; ` +
      `entry → main ≤ ${ENTRY_TO_MAIN_MS_TARGET} ms: ${met(entry.median <= ENTRY_TO_MAIN_MS_TARGET)}`,
  );
}

/** [guest MB/s, end-to-end MB/s] of one flood through `ukernel run`. */
async function eventsChannel(project, image) {
  const result = await run(process.execPath, [cli, 'run', '--image', image, '--accel', accel, '--', 'flood', String(bytes)], {
    cwd: project,
    timeoutMs: commandTimeoutMs,
  });
  if (result.code !== 0) fail(`ukernel run -- flood exited ${result.code}: ${result.stderr.slice(-500)}`);
  const match = /^flood: (\d+) bytes in (\d+) ns$/m.exec(result.stdout);
  if (match === null) fail('the flood run printed no `flood:` line');
  if (result.stdout.length < bytes) fail(`only ${result.stdout.length} of ${bytes} bytes of output arrived`);
  return [(Number(match[1]) / Number(match[2])) * 1e3, bytes / result.ms / 1e3];
}

/** MB/s of the serial fallback: bare QEMU, no events device, BASELINE_BYTES of output. */
async function serialConsole(image) {
  const cmdline = `uk.argc=2 -- flood ${BASELINE_BYTES}`;
  const args = qemuArgs({
    kernel: join(root, 'kernel/zig-out/bin/ukernel.elf'),
    accel,
    memoryMib: 128,
    vcpus: 1,
    cmdline,
    image: { path: image },
  });
  const result = await run('qemu-system-x86_64', args, { cwd: work, timeoutMs: commandTimeoutMs });
  const match = /^flood: (\d+) bytes in (\d+) ns$/m.exec(result.stdout);
  if (match === null) fail(`the serial flood printed no \`flood:\` line (qemu exit ${result.code})`);
  return (Number(match[1]) / Number(match[2])) * 1e3;
}

/** Kernel entry → the workload's main, in ms of guest time. */
async function entryToMain(project, image) {
  const result = await run(process.execPath, [cli, 'run', '--image', image, '--accel', accel, '--json', '--', 'args'], {
    cwd: project,
    timeoutMs: commandTimeoutMs,
  });
  if (result.code !== 0) fail(`ukernel run -- args exited ${result.code}: ${result.stderr.slice(-500)}`);
  const start = JSON.parse(result.stdout).workload?.start_ns;
  if (typeof start !== 'number') fail('no workload start record in the report');
  return start / 1e6;
}
