// Human formatting helpers (pure).

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['ns', 1],
  ['µs', 1e3],
  ['ms', 1e6],
  ['s', 1e9],
];

/** Adaptive duration: 812 ns, 38 µs, 41.3 ms, 1.5 s (one decimal below 100). */
export function formatDuration(ns: number | bigint): string {
  const n = Number(ns);
  if (!Number.isFinite(n)) return '?';
  const sign = n < 0 ? '-' : '';
  const abs = Math.abs(n);
  let index = 0;
  while (index < UNITS.length - 1 && abs >= UNITS[index + 1]![1]) index++;
  let text = scaled(abs / UNITS[index]![1], index === 0);
  // 999.96 µs rounds to "1000": say "1 ms" instead.
  if (Number(text) >= 1000 && index < UNITS.length - 1) {
    index++;
    text = scaled(abs / UNITS[index]![1], false);
  }
  return `${sign}${text} ${UNITS[index]![0]}`;
}

function scaled(value: number, integer: boolean): string {
  if (integer || value >= 100) return String(Math.round(value));
  const fixed = value.toFixed(1);
  return fixed.endsWith('.0') ? fixed.slice(0, -2) : fixed;
}

/** Binary sizes: 812 bytes, 8.6 KiB, 132 KiB, 1.5 MiB (one decimal below 100). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let index = 0;
  while (value >= 1024 && index < units.length - 1) {
    value /= 1024;
    index++;
  }
  return `${scaled(value, false)} ${units[index]}`;
}

/** Columns padded to their widest cell; `right` marks the columns aligned right (numbers). */
export function formatTable(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  right: ReadonlySet<number> = new Set(),
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
