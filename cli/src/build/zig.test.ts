// The workload compile command and the pinned-Zig lookup.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findZig, parseToolchainEnv } from '../toolchain.js';
import { zigBuildArgs } from './zig.js';

describe('zigBuildArgs', () => {
  it('builds a stripped static PIE with the SDK start.zig as root and the entry as module "workload"', () => {
    expect(
      zigBuildArgs({
        entry: 'src/main.zig',
        sdkRoot: '/uk/sdk/zig/start.zig',
        sdkModule: '/uk/sdk/zig/ukernel.zig',
        optimize: 'ReleaseSafe',
        output: 'build/bin/.main.1.tmp',
        cacheDir: 'build/.zig-cache',
        globalCacheDir: 'build/.zig-cache/global',
      }),
    ).toEqual([
      'build-exe',
      '-target',
      'x86_64-freestanding-none',
      '-O',
      'ReleaseSafe',
      '-fPIE',
      '-static',
      '-fstrip',
      '--stack',
      '1048576',
      '--dep',
      'ukernel',
      '--dep',
      'workload',
      '-Mroot=/uk/sdk/zig/start.zig',
      '--dep',
      'ukernel',
      '-Mworkload=src/main.zig',
      '-Mukernel=/uk/sdk/zig/ukernel.zig',
      '-femit-bin=build/bin/.main.1.tmp',
      '--cache-dir',
      'build/.zig-cache',
      '--global-cache-dir',
      'build/.zig-cache/global',
    ]);
  });
});

describe('toolchain pins and zig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uk-zig-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const pins = { zigVersion: '0.15.2', all: {} };
  const fakeZig = (version: string): string => {
    const path = join(dir, `zig-${version}`);
    writeFileSync(path, `#!/bin/sh\necho ${version}\n`);
    chmodSync(path, 0o755);
    return path;
  };

  it('parses KEY=VALUE lines and ignores comments', () => {
    expect(parseToolchainEnv('# pins\nZIG_VERSION=0.15.2\nX="quoted"\n  \nnot a pin\n')).toEqual({
      ZIG_VERSION: '0.15.2',
      X: 'quoted',
    });
  });

  it('finds zig under the checkout or UKERNEL_ZIG and checks its version against the pin', () => {
    expect(findZig(dir, pins, { UKERNEL_ZIG: fakeZig('0.15.2') })).toEqual({ path: join(dir, 'zig-0.15.2'), version: '0.15.2' });
    expect(() => findZig(dir, pins, { UKERNEL_ZIG: fakeZig('0.14.1') })).toThrow(
      expect.objectContaining({
        code: 'UK116',
        message: expect.stringMatching(/is zig 0\.14\.1, but this ukernel is pinned to zig 0\.15\.2 \(scripts\/toolchain\.env\)/),
      }),
    );
    expect(() => findZig(dir, pins, {})).toThrow(
      expect.objectContaining({ code: 'UK116', message: expect.stringContaining(`${dir}/.toolchain/zig-0.15.2/ziglang/zig`) }),
    );
  });
});
