// Helpers shared by the benchmarks in bench/*/run.mjs: summary statistics, table rows, and
// whether KVM is usable (the built CLI's probe: needs `node cli/build.mjs`). Benchmarks report
// medians with min and max, never single samples.
import { spawn } from 'node:child_process';
import { cpSync } from 'node:fs';
import { basename, join } from 'node:path';
import { probeKvm } from '../cli/dist/lib.js';

/** Median, min and max of `samples`, rounded to `digits` decimals. */
export function stats(samples, digits = 3) {
  if (samples.length === 0) throw new Error('stats: no samples');
  const sorted = [...samples].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median: round(median, digits), min: round(sorted[0], digits), max: round(sorted.at(-1), digits) };
}

/** One aligned line: label, then median/min/max in `unit` (values divided by `divisor`). */
export function row(label, s, unit, digits, divisor = 1) {
  const f = (x) => (x / divisor).toFixed(digits).padStart(9);
  return `${label.padEnd(27)} median ${f(s.median)} ${unit}  min ${f(s.min)} ${unit}  max ${f(s.max)} ${unit}`;
}

export function round(x, digits = 1) {
  const scale = 10 ** digits;
  return Math.round(x * scale) / scale;
}

/** The CLI's own KVM probe (cli/src/vmm/accel.ts), so benchmarks, tests and `--accel auto` agree. */
export function kvmUsable() {
  return probeKvm().ok;
}

/** Prints `bench/NAME: message` and exits 2. */
export function failer(name) {
  return (message) => {
    process.stderr.write(`bench/${name}: ${message}\n`);
    process.exit(2);
  };
}

/**
 * A command-line option that must be a decimal integer in [min, max] (exactly as written: no
 * sign, no leading zeros, no trailing text); `fail` (from failer) says so otherwise.
 */
export function integerOption(fail, name, text, min, max) {
  const n = Number.parseInt(text, 10);
  if (!Number.isInteger(n) || n < min || n > max || String(n) !== text) fail(`--${name} must be ${min}..${max}, got ${text}`);
  return n;
}

/**
 * Runs `file args` to completion in `cwd`, killing it past `timeoutMs` (then rejecting, with the
 * end of its stderr). Resolves to { ms, code, stdout, stderr }: wall time from spawn to close.
 */
export function run(file, args, { cwd, timeoutMs }) {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ ms: Number(process.hrtime.bigint() - started) / 1e6, code, stdout, stderr });
    });
  });
}

/**
 * Copies a committed test project (tests/workloads/NAME under `root`) into `parent`, leaving its
 * build outputs behind so the checkout stays clean, then builds and packs it with the CLI.
 * Resolves to { project, image }; rejects with the CLI's output when a step fails.
 */
export async function buildProjectCopy(root, name, parent, timeoutMs = 180_000) {
  const source = join(root, 'tests/workloads', name);
  const project = join(parent, name);
  cpSync(source, project, {
    recursive: true,
    filter: (path) => !['build', 'dist', 'logs'].includes(basename(path)) || path === source,
  });
  for (const command of ['build', 'pack']) {
    const result = await run(process.execPath, [join(root, 'cli/bin/ukernel.mjs'), command], { cwd: project, timeoutMs });
    if (result.code !== 0) throw new Error(`ukernel ${command} in ${project} failed:\n${result.stdout}\n${result.stderr}`);
  }
  return { project, image: join(project, `dist/${name}.img`) };
}
