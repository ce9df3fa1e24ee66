#!/usr/bin/env node
// bench/image — image workflow benchmark (a benchmark, not a timed test).
//
// For N runs (default 5):
//   (a) size of the native hello image (`ukernel init` template, `ukernel pack`); target ≤ 200 KB;
//   (b) `ukernel build` + `ukernel pack` wall time, cold: a fresh project directory, so an empty
//       Zig cache (the cache lives in the project's build/);
//   (c) the same, warm: again in the same project, nothing changed;
//   (d) `ukernel run` wall time with nothing to rebuild (the fast path: check inputs, verify the
//       image, boot);
//   (e) guest kernel entry → workload main, from the `@uk:workload event=start` record's t_ns
//       ("n/a" when the kernel sends no such record).
// Prints median/min/max of each.
//
// usage: node bench/image/run.mjs [--runs N] [--accel auto|kvm|tcg] [--json]
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { failer, kvmUsable, row, run, stats } from '../lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(root, 'cli/bin/ukernel.mjs');
const fail = failer('image');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    accel: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
  },
});
const runs = Number.parseInt(values.runs, 10);
if (!Number.isInteger(runs) || runs < 1 || runs > 100) fail(`--runs must be 1..100, got ${values.runs}`);
const accel = values.accel === 'auto' ? (kvmUsable() ? 'kvm' : 'tcg') : values.accel;
if (!['kvm', 'tcg'].includes(accel)) fail(`--accel must be auto, kvm or tcg, got ${values.accel}`);

// One command may take at most this long before it is killed and the benchmark fails.
const commandTimeoutMs = 300_000;
const IMAGE_BYTES_TARGET = 200 * 1000;
const work = mkdtempSync(join(tmpdir(), 'ukernel-bench-image-'));

const sizes = [];
const cold = [];
const warm = [];
const runWall = [];
const entryToWorkload = [];
try {
  for (let index = 0; index < runs; index++) {
    const project = join(work, `demo-${index}`);
    mkdirSync(project);
    await ukernel(['init', '--name', 'demo'], project);
    cold.push(await buildAndPack(project));
    warm.push(await buildAndPack(project));
    sizes.push(statSync(join(project, 'dist/demo.img')).size);
    const started = process.hrtime.bigint();
    const result = await ukernel(['run', '--accel', accel, '--json'], project);
    runWall.push(Number(process.hrtime.bigint() - started) / 1e6);
    const report = JSON.parse(result.stdout);
    if (report.status !== 0) fail(`ukernel run exited with guest status ${report.status}`);
    if (report.workload?.start_ns != null) entryToWorkload.push(report.workload.start_ns / 1e6);
    rmSync(project, { recursive: true, force: true });
    if (!values.json && process.stderr.isTTY) process.stderr.write(`\rrun ${index + 1}/${runs}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (!values.json && process.stderr.isTTY) process.stderr.write('\r');

const result = {
  accel,
  runs,
  image_bytes: stats(sizes),
  build_pack_cold_ms: stats(cold),
  build_pack_warm_ms: stats(warm),
  run_unchanged_wall_ms: stats(runWall),
  guest_entry_to_workload_ms: entryToWorkload.length === runs ? stats(entryToWorkload) : null,
  targets: { image_bytes_max: IMAGE_BYTES_TARGET },
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} else {
  console.log(`bench/image: ${runs} runs, accel ${accel}`);
  console.log(row('(a) hello image size', result.image_bytes, 'KB', 1, 1000));
  console.log(row('(b) build + pack, cold', result.build_pack_cold_ms, 'ms', 0));
  console.log(row('(c) build + pack, warm', result.build_pack_warm_ms, 'ms', 0));
  console.log(row('(d) run, nothing changed', result.run_unchanged_wall_ms, 'ms', 1));
  console.log(
    result.guest_entry_to_workload_ms === null
      ? '(e) entry → workload main   n/a (no @uk:workload event=start record)'
      : row('(e) entry → workload main', result.guest_entry_to_workload_ms, 'ms', 3),
  );
  console.log(
    `target: (a) ≤ ${IMAGE_BYTES_TARGET / 1000} KB (${result.image_bytes.max <= IMAGE_BYTES_TARGET ? 'met' : 'NOT met'})`,
  );
}

async function buildAndPack(project) {
  const started = process.hrtime.bigint();
  await ukernel(['build'], project);
  await ukernel(['pack'], project);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Runs the CLI, which must succeed; its stderr on failure. */
async function ukernel(args, cwd) {
  const result = await run(process.execPath, [cli, ...args], { cwd, timeoutMs: commandTimeoutMs });
  if (result.code !== 0) throw new Error(`ukernel ${args.join(' ')} exited ${result.code}:\n${result.stderr.slice(-2000)}`);
  return result;
}
