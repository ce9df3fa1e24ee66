// Helpers shared by the benchmarks in bench/*/run.mjs: summary statistics, table rows, and
// whether KVM is usable. Benchmarks report medians with min and max, never single samples.
import { accessSync, constants as fsConstants, statSync } from 'node:fs';

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

/** /dev/kvm exists as a character device and can be opened read-write. */
export function kvmUsable() {
  try {
    accessSync('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK);
    return statSync('/dev/kvm').isCharacterDevice();
  } catch {
    return false;
  }
}

/** Prints `bench/NAME: message` and exits 2. */
export function failer(name) {
  return (message) => {
    process.stderr.write(`bench/${name}: ${message}\n`);
    process.exit(2);
  };
}
