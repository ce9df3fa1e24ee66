// The ABI has one definition (abi/ukernel.abi.json), the other CLI–kernel contracts another
// (abi/contracts.json); every binding is generated from them by abi/generate.mjs. This fails when
// a generated file was edited by hand or not regenerated after a definition changed.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ABI_CALLS, ABI_ERRORS, ABI_VERSION } from './abi.js';
import {
  EVENTS_RECORD_HEADER_BYTES,
  EVENTS_TEXT_RECORD_FIELD_BYTES,
  IMAGE_HEADER_BYTES,
  IMAGE_HEADER_OFFSET,
} from './contracts.js';
import { PROVIDED_ABI } from '../image/manifest.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('ABI bindings', () => {
  it('are what abi/generate.mjs makes of the definitions (ABI and contracts)', () => {
    const result = spawnSync(process.execPath, [join(root, 'abi/generate.mjs'), '--check'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('carry a semver version, unique error codes and group.name calls', () => {
    expect(ABI_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    const codes = Object.values(ABI_ERRORS);
    expect(new Set(codes).size).toBe(codes.length);
    for (const call of ABI_CALLS) expect(call).toMatch(/^[a-z]+\.[a-z_]+$/);
  });

  it('give the CLI its ABI version, and the contracts their layouts', () => {
    expect(PROVIDED_ABI.join('.')).toBe(ABI_VERSION);
    expect(IMAGE_HEADER_OFFSET.headerSha256 + 32).toBe(IMAGE_HEADER_BYTES);
    expect(EVENTS_TEXT_RECORD_FIELD_BYTES.header).toBe(EVENTS_RECORD_HEADER_BYTES);
  });
});
