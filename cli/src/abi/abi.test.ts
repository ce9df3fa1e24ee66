// The ABI has one definition (abi/ukernel.abi.json); every binding is generated from it. This
// fails when a generated file was edited by hand or not regenerated after the definition changed.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ABI_CALLS, ABI_ERRORS, ABI_VERSION } from './abi.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('ABI bindings', () => {
  it('are what abi/generate.mjs makes of the definition', () => {
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
});
