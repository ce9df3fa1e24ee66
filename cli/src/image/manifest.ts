// The image manifest: UTF-8 JSON, keys sorted at every level, two-space indent, trailing
// newline — the same inputs always give the same bytes.
import { ABI_MAJOR, ABI_MINOR, ABI_PATCH } from '../abi/abi.js';
import { UkernelError } from '../errors.js';
import type { AbiVersion } from './format.js';

export interface Manifest {
  abi: string;
  adapter: string;
  build: { optimize: string; zig: string };
  created: string;
  entry: string;
  /** env/ukernel.lock as parsed and validated (project/lock.ts, docs/environments.md), or null. */
  lock: unknown;
  name: string;
  /** The adapter runtime (a Python project's): name, version, source packages and hashes. */
  runtime?: Record<string, unknown>;
  ukernel: string;
}

/** Code-unit order of strings: the one order of keys and names in manifests and locks. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Named entries (lock lists, catalog entries, directory entries) by name, in that order. */
export function byName(a: { name: string }, b: { name: string }): number {
  return compareStrings(a.name, b.name);
}

export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => compareStrings(a, b));
    return Object.fromEntries(entries.map(([key, inner]) => [key, sortKeysDeep(inner)]));
  }
  return value;
}

export function renderManifest(manifest: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(sortKeysDeep(manifest), null, 2)}\n`, 'utf8');
}

/** SOURCE_DATE_EPOCH (seconds), default 0; anything but a non-negative integer is an error. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv): number {
  const text = env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return 0;
  if (!/^[0-9]{1,12}$/.test(text)) {
    throw new UkernelError(
      'InvalidOption',
      `SOURCE_DATE_EPOCH must be a non-negative integer number of seconds (got "${text.slice(0, 40)}")`,
      {
        hint: 'Unset it, or set it to e.g. $(git log -1 --format=%ct).',
      },
    );
  }
  return Number(text);
}

/** "1970-01-01T00:00:00Z": whole seconds, UTC. */
export function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The workload ABI version this ukernel provides: generated from abi/ukernel.abi.json. */
export const PROVIDED_ABI: AbiVersion = [ABI_MAJOR, ABI_MINOR, ABI_PATCH];
