// The parsing layer alone: argv → commander → resolveRunSettings, with the command
// implementation injected (changesets-style), plus the top-level error handler.
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { main, splitTraceOperands, type Actions } from './cli.js';
import {
  bootSource,
  resolveRunSettings,
  type BootSource,
  type RunDefaults,
  type RunFlags,
  type RunSettings,
} from './commands/run-options.js';
import { NETWORK_NONE } from './vmm/network.js';

type RunOptions = RunSettings & { source: BootSource };

let stdout: MockInstance;
let stderr: MockInstance;
beforeEach(() => {
  stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

const written = (spy: MockInstance): string => spy.mock.calls.map((c) => String(c[0])).join('');

const unexpected = async (): Promise<number> => {
  throw new Error('unexpected command');
};

/** Actions that fail the test unless overridden. */
function actions(overrides: Partial<Actions>): Actions {
  return {
    run: unexpected,
    init: unexpected,
    build: unexpected,
    pack: unexpected,
    inspect: unexpected,
    logs: unexpected,
    trace: unexpected,
    perf: unexpected,
    ...overrides,
  };
}

async function parse(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; options?: RunOptions }> {
  let options: RunOptions | undefined;
  const injected = actions({
    run: async (flags: RunFlags) => {
      options = { source: bootSource(flags, '/work'), ...resolveRunSettings(flags, env, null) };
      return 0;
    },
  });
  const code = await main(['node', 'ukernel', ...argv], injected);
  return { code, options };
}

const defaults: RunOptions = {
  source: { type: 'kernel', path: '/work/k.elf' },
  accel: 'auto',
  accelFrom: 'default',
  memoryMib: 128,
  vcpus: 1,
  vmm: 'qemu',
  cmdline: '',
  timeoutMs: null,
  json: false,
  verbose: false,
  network: NETWORK_NONE,
  release: false,
  workloadArgs: [],
};

describe('argv → run options', () => {
  it.each<[string[], NodeJS.ProcessEnv, Partial<RunOptions>]>([
    [['run', '--kernel', 'k.elf'], {}, {}],
    [['run', '--kernel', '/abs/k.elf'], {}, { source: { type: 'kernel', path: '/abs/k.elf' } }],
    [
      [
        'run',
        '--kernel=k.elf',
        '--accel',
        'tcg',
        '--memory',
        '256',
        '--vcpu',
        '4',
        '--vmm',
        'firecracker',
        '--cmdline',
        'a=1 b',
        '--timeout',
        '2.5',
        '--json',
        '--verbose',
      ],
      {},
      {
        accel: 'tcg',
        accelFrom: '--accel',
        memoryMib: 256,
        vcpus: 4,
        vmm: 'firecracker',
        cmdline: 'a=1 b',
        timeoutMs: 2500,
        json: true,
        verbose: true,
      },
    ],
    [['run', '--kernel', 'k.elf'], { UKERNEL_ACCEL: 'tcg' }, { accel: 'tcg', accelFrom: 'UKERNEL_ACCEL' }],
    [['run', '--kernel', 'k.elf', '--accel', 'kvm'], { UKERNEL_ACCEL: 'tcg' }, { accel: 'kvm', accelFrom: '--accel' }],
    [['run', '--kernel', 'k.elf', '--memory', '16', '--vcpu', '32'], {}, { memoryMib: 16, vcpus: 32 }],
    [['run', '--kernel', 'k.elf', '--memory', '3072', '--cmdline', ''], {}, { memoryMib: 3072 }],
    [['run'], {}, { source: { type: 'project' } }],
    [['run', '--image', 'dist/x.img', '--release'], {}, { source: { type: 'image', path: '/work/dist/x.img' }, release: true }],
    [
      ['run', '--net', 'user', '--', 'a', '--b', 'c=1'],
      {},
      {
        source: { type: 'project' },
        network: { ...NETWORK_NONE, mode: { kind: 'user' }, from: '--net' },
        workloadArgs: ['a', '--b', 'c=1'],
      },
    ],
    [['run', '--kernel', 'k.elf', '--', 'x'], {}, { workloadArgs: ['x'] }],
  ])('%j (env %j)', async (argv, env, expected) => {
    const { code, options } = await parse(argv, env);
    expect(code).toBe(0);
    expect(options).toEqual({ ...defaults, ...expected });
  });

  it.each<[string[], NodeJS.ProcessEnv, string]>([
    [['run', '--kernel', 'k', '--image', 'i'], {}, 'UK100'],
    [['run', 'stray'], {}, 'UK100'],
    [['run', '--net', 'bridge'], {}, 'UK101'],
    [['run', '--', 'has space'], {}, 'UK101'],
    [['run', '--', ''], {}, 'UK101'],
    [['run', '--cmdline', 'x -- y', '--', 'z'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--memory', '15'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--memory', '3073'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--memory', '1e3'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--memory', '128M'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--vcpu', '0'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--vcpu', '33'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--accel', 'hvf'], {}, 'UK101'],
    [['run', '--kernel', 'k'], { UKERNEL_ACCEL: 'fast' }, 'UK101'],
    [['run', '--kernel', 'k', '--vmm', 'xen'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--timeout', '0'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--timeout', 'soon'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--cmdline', 'a\nb'], {}, 'UK101'],
    [['run', '--kernel', 'k', '--bogus'], {}, 'UK100'],
    [['run', '--kernel'], {}, 'UK100'],
    [['rnu'], {}, 'UK100'],
  ])('%j (env %j) → %s, exit 2', async (argv, env, code) => {
    const result = await parse(argv, env);
    expect(result.code).toBe(2);
    expect(written(stderr)).toMatch(new RegExp(`^error ${code}: .*\\nhint: `, 's'));
  });
});

describe('top-level handler', () => {
  it('--version and --help exit 0; no command prints help and exits 2', async () => {
    expect((await parse(['--version'])).code).toBe(0);
    expect(written(stdout)).toMatch(/^\d+\.\d+\.\d+/);
    expect((await parse(['run', '--help'])).code).toBe(0);
    expect(written(stdout)).toContain('--kernel <elf>');
    expect((await parse([])).code).toBe(2);
  });

  it('--json turns errors into one JSON object on stdout', async () => {
    const { code } = await parse(['run', '--kernel', 'k', '--vcpu', '99', '--json']);
    expect(code).toBe(2);
    const json = JSON.parse(written(stdout));
    expect(json).toEqual({ error: { code: 'UK101', message: expect.stringContaining('--vcpu'), hint: expect.any(String) } });
  });

  it('unexpected errors print the stack and exit 125', async () => {
    const code = await main(
      ['node', 'ukernel', 'run', '--kernel', 'k'],
      actions({
        run: async () => {
          throw new TypeError('boom');
        },
      }),
    );
    expect(code).toBe(125);
    expect(written(stderr)).toMatch(/TypeError: boom[\s\S]*internal error, please report/);
  });

  it('the action exit code is the process exit code', async () => {
    expect(await main(['node', 'ukernel', 'run', '--kernel', 'k'], actions({ run: async () => 42 }))).toBe(42);
  });
});

it('relative kernel paths resolve against the cwd', () => {
  expect(bootSource({ kernel: '../k.elf' }, '/a/b')).toEqual({ type: 'kernel', path: resolve('/a/k.elf') });
});

describe('resolveRunSettings: flag > environment > ukernel.toml [run] > default', () => {
  const toml: RunDefaults = { memory_mb: 512, vcpu: 2, net: 'tap:tap9', ip: '172.16.0.2/30' };
  const tap9 = { kind: 'tap', iface: 'tap9' };
  it.each<[string, RunFlags, NodeJS.ProcessEnv, RunDefaults, Partial<RunSettings>]>([
    ['defaults alone', {}, {}, null, { accel: 'auto', accelFrom: 'default', memoryMib: 128, vcpus: 1, network: NETWORK_NONE }],
    [
      'toml over defaults',
      {},
      {},
      toml,
      { memoryMib: 512, vcpus: 2, network: expect.objectContaining({ mode: tap9, from: 'ukernel.toml [run] net' }) },
    ],
    [
      'flags over toml',
      { memory: 64, vcpu: 4, net: { kind: 'none' } },
      {},
      toml,
      { memoryMib: 64, vcpus: 4, network: { ...NETWORK_NONE, from: '--net' } },
    ],
    ['one flag, the rest from toml', { vcpu: 3 }, {}, toml, { memoryMib: 512, vcpus: 3 }],
    ['env over default', {}, { UKERNEL_ACCEL: 'tcg' }, toml, { accel: 'tcg', accelFrom: 'UKERNEL_ACCEL' }],
    ['flag over env', { accel: 'kvm' }, { UKERNEL_ACCEL: 'tcg' }, null, { accel: 'kvm', accelFrom: '--accel' }],
    ['empty env is unset', {}, { UKERNEL_ACCEL: '' }, null, { accel: 'auto', accelFrom: 'default' }],
  ])('%s', (_name, flags, env, defaults, expected) => {
    expect(resolveRunSettings(flags, env, defaults)).toMatchObject(expected);
  });

  it('a bad UKERNEL_ACCEL is InvalidOption naming the variable', () => {
    expect(() => resolveRunSettings({}, { UKERNEL_ACCEL: 'fast' }, null)).toThrow(
      /UKERNEL_ACCEL must be one of auto, kvm, tcg \(got "fast"\)/,
    );
  });
});

describe('argv → other commands', () => {
  it('passes each command its options and operands', async () => {
    const calls: unknown[] = [];
    const record =
      (name: string) =>
      async (...args: unknown[]) => {
        calls.push([name, ...args]);
        return 0;
      };
    const injected = actions({
      init: record('init'),
      build: record('build'),
      pack: record('pack'),
      inspect: record('inspect'),
      logs: record('logs'),
      trace: record('trace'),
      perf: record('perf'),
    });
    for (const argv of [
      ['init', '--name', 'demo', '--lang', 'native', '--template', 'worker', '--force'],
      ['build', '--release'],
      ['pack', '--image', 'x.img', '--readonly'],
      ['inspect', 'dist/demo.img', '--json'],
      ['logs', '-f'],
      ['logs', '20260101T000000Z-1', '--raw'],
      ['logs', '--list'],
      ['logs', 'R', '--level', 'warn', '--json', '--follow'],
      ['trace'],
      ['trace', 'R', '--json'],
      ['trace', '--export', 'chrome', 'out.json'],
      ['trace', 'R', '--export', 'perfetto', 'out.json'],
      ['trace', '--export=chrome', 'out.json', 'R'],
      ['trace', '--export', 'chrome', 'R', 'R'],
      ['perf'],
      ['perf', 'R', '--json'],
    ]) {
      expect(await main(['node', 'ukernel', ...argv], injected)).toBe(0);
    }
    expect(calls).toEqual([
      ['init', { name: 'demo', lang: 'native', template: 'worker', force: true }],
      ['build', { release: true }],
      ['pack', { image: 'x.img', readonly: true }],
      ['inspect', 'dist/demo.img', { json: true }],
      ['logs', undefined, { follow: true }],
      ['logs', '20260101T000000Z-1', { raw: true }],
      ['logs', undefined, { list: true }],
      ['logs', 'R', { level: 'warn', json: true, follow: true }],
      ['trace', undefined, undefined, {}],
      ['trace', 'R', undefined, { json: true }],
      ['trace', undefined, 'out.json', { export: 'chrome' }],
      ['trace', 'R', 'out.json', { export: 'perfetto' }],
      ['trace', 'R', 'out.json', { export: 'chrome' }],
      ['trace', 'R', 'R', { export: 'chrome' }],
      ['perf', undefined, {}],
      ['perf', 'R', { json: true }],
    ]);
  });

  it('trace finds FILE right after the export format, wherever --export stands', () => {
    expect(splitTraceOperands(['node', 'ukernel', 'trace', '--export', 'chrome', 'f.json'], ['f.json'])).toEqual({
      run: undefined,
      file: 'f.json',
    });
    expect(splitTraceOperands(['node', 'ukernel', 'trace', 'f.json', '--export', 'chrome'], ['f.json'])).toEqual({
      run: 'f.json',
      file: undefined,
    });
    expect(splitTraceOperands(['node', 'ukernel', 'trace', '--export', 'chrome', '--json'], [])).toEqual({
      run: undefined,
      file: undefined,
    });
  });

  it('trace with too many operands is a usage error', async () => {
    expect(await main(['node', 'ukernel', 'trace', 'a', 'b'], actions({}))).toBe(2);
    expect(written(stderr)).toMatch(/^error UK100: unexpected argument "b"/);
    expect(await main(['node', 'ukernel', 'trace', '--export', 'chrome', 'f', 'a', 'b'], actions({}))).toBe(2);
  });

  it('inspect without an image is a usage error', async () => {
    expect(await main(['node', 'ukernel', 'inspect'], actions({}))).toBe(2);
    expect(written(stderr)).toMatch(/^error UK100: /);
  });
});

it('options that exclude each other say so in the hint', async () => {
  expect(await main(['node', 'ukernel', 'run', '--kernel', 'k', '--image', 'i'], actions({}))).toBe(2);
  expect(written(stderr)).toMatch(
    /^error UK100: option '--kernel <elf>' cannot be used with option '--image <path>'\nhint: The two options exclude each other/,
  );
});

describe('usage errors from commander', () => {
  it('come out on one line, with no escaped newline', async () => {
    const code = await main(['node', 'ukernel', 'hepl'], actions({}));
    expect(code).toBe(2);
    expect(written(stderr)).toMatch(/^error UK100: unknown command 'hepl' \(Did you mean help\?\)\n/);
    expect(written(stderr)).not.toContain('\\x0a');
  });
});
