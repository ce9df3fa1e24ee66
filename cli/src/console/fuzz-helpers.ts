// Deterministic generators for the fuzz tests (not shipped: only *.test.ts import this).

/** Small seeded PRNG, so a failing case can be replayed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(rand: () => number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(rand() * 256);
  return bytes;
}

const pick = <T>(rand: () => number, items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;

const NUMBERS = ['0', '1', '255', '256', '-1', '007', '4294967296', '9007199254740993', '99999999999999999999', '1e3', '', 'x'];
const KEYS = [
  'v',
  'status',
  'reason',
  'proto',
  'clock',
  'tsc_khz',
  'kvmclock_ns',
  'phase.ready',
  'phase.idt',
  'phase.',
  'phase.a.b',
  'Status',
  'k-y',
];

/** Lines that look like records, mostly valid, with random damage. */
export function randomRecordLike(rand: () => number): string {
  const kind = pick(rand, ['boot', 'exit', 'exit', 'boot', 'trace', 'EXIT', '', 'b00t']);
  const fields: string[] = [];
  if (rand() < 0.9) fields.push(`v=${rand() < 0.9 ? '1' : pick(rand, NUMBERS)}`);
  if (kind === 'boot') {
    fields.push(
      'proto=pvh',
      'clock=kvmclock',
      `tsc_khz=${rand() < 0.8 ? String(1 + Math.floor(rand() * 5e6)) : pick(rand, NUMBERS)}`,
    );
    let t = 0;
    for (const phase of ['long_mode', 'idt', 'memory', 'ready']) {
      if (rand() < 0.1) continue;
      t += rand() < 0.9 ? Math.floor(rand() * 1e6) : -5;
      fields.push(`phase.${phase}=${rand() < 0.9 ? String(t) : pick(rand, NUMBERS)}`);
    }
  } else {
    fields.push(`status=${rand() < 0.7 ? String(Math.floor(rand() * 256)) : pick(rand, NUMBERS)}`, 'reason=return');
  }
  for (let n = Math.floor(rand() * 3); n > 0; n--) fields.push(`${pick(rand, KEYS)}=${pick(rand, NUMBERS)}`);
  // Shuffle a little, then damage a little.
  if (rand() < 0.2) fields.reverse();
  let line = `@uk:${kind} ${fields.join(' ')}`;
  if (rand() < 0.1) line = line.replace(' ', '  ');
  if (rand() < 0.1) line += String.fromCharCode(Math.floor(rand() * 256));
  if (rand() < 0.05) line += ` pad=${'x'.repeat(600)}`;
  return line;
}
