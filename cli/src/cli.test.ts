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
import { NETWORK_NONE, type PortMapping } from './vmm/network.js';

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
    envLock: unexpected,
    envShow: unexpected,
    envChange: unexpected,
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

describe("networking: argv and ukernel.toml [run] → the run's network", () => {
  const parseNet = async (argv: string[], toml: RunDefaults = null) => {
    let network: RunSettings['network'] | undefined;
    const injected = actions({
      run: async (flags: RunFlags) => {
        network = resolveRunSettings(flags, {}, toml).network;
        return 0;
      },
    });
    const code = await main(['node', 'ukernel', 'run', ...argv], injected);
    return { code, network, err: written(stderr) };
  };
  const web: PortMapping = { hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80, protocol: 'tcp' };

  it.each<[string, string[], RunDefaults, Partial<RunSettings['network']>]>([
    ['--publish implies --net user', ['-p', '8080:80'], null, { mode: { kind: 'user' }, from: '--publish', publish: [web] }],
    [
      'repeatable, in order, both spellings',
      ['--publish', '8080:80', '-p', '0.0.0.0:5353:53/udp'],
      null,
      {
        mode: { kind: 'user' },
        publish: [web, { hostIp: '0.0.0.0', hostPort: 5353, guestPort: 53, protocol: 'udp' }],
        publishFrom: '--publish',
      },
    ],
    [
      '--publish over the file\'s net = "none" (the template\'s default)',
      ['-p', '8080:80'],
      { vcpu: 1, memory_mb: 128, net: 'none' },
      { mode: { kind: 'user' }, from: '--publish' },
    ],
    [
      "the file's publish alone implies user",
      [],
      { vcpu: 1, memory_mb: 128, publish: ['8080:80'] },
      { mode: { kind: 'user' }, from: 'ukernel.toml [run] publish', publish: [web], publishFrom: 'ukernel.toml [run] publish' },
    ],
    [
      "--publish replaces the file's list",
      ['-p', '9090:90'],
      { vcpu: 1, memory_mb: 128, net: 'user', publish: ['8080:80'] },
      { publish: [{ ...web, hostPort: 9090, guestPort: 90 }], publishFrom: '--publish' },
    ],
    [
      "--net none drops the file's ports",
      ['--net', 'none'],
      { vcpu: 1, memory_mb: 128, net: 'user', publish: ['8080:80'] },
      { mode: { kind: 'none' }, from: '--net', publish: [] },
    ],
    [
      'tap with a static address from flags',
      ['--net', 'tap:tap0', '--ip', '172.16.0.2/30', '--gateway', '172.16.0.1', '--dns', '172.16.0.1:5353'],
      null,
      {
        mode: { kind: 'tap', iface: 'tap0' },
        ip: { address: '172.16.0.2', prefix: 30 },
        gateway: '172.16.0.1',
        dns: { address: '172.16.0.1', port: 5353 },
        mac: '06:00:ac:10:00:02',
      },
    ],
    [
      'tap from the file, its address overridden by --ip',
      ['--ip', '192.168.7.2/24'],
      { vcpu: 1, memory_mb: 128, net: 'tap:tap0', ip: '172.16.0.2/30', dns: '1.1.1.1' },
      { from: 'ukernel.toml [run] net', ip: { address: '192.168.7.2', prefix: 24 }, dns: { address: '1.1.1.1', port: null } },
    ],
    ['tap with --ip dhcp (opted in)', ['--net', 'tap:tap0', '--ip', 'dhcp'], null, { ip: 'dhcp' }],
    [
      'user with a static address (skips DHCP)',
      ['--net', 'user', '--ip', '10.0.2.15/24', '--gateway', '10.0.2.2'],
      null,
      { ip: { address: '10.0.2.15', prefix: 24 }, gateway: '10.0.2.2', mac: null },
    ],
    [
      "a tap project run with --net user: the file's tap address stays with the tap",
      ['--net', 'user', '-p', '8080:80'],
      { vcpu: 1, memory_mb: 128, net: 'tap:tap0', ip: '172.16.0.2/30', gateway: '172.16.0.1', dns: '172.16.0.1' },
      { mode: { kind: 'user' }, ip: null, gateway: null, dns: null },
    ],
    [
      "no network: the file's addresses are ignored",
      [],
      { vcpu: 1, memory_mb: 128, net: 'none', ip: '172.16.0.2/30' },
      { mode: { kind: 'none' }, ip: null },
    ],
  ])('%s', async (_what, argv, toml, expected) => {
    const { code, network, err } = await parseNet(['--kernel', 'k', ...argv], toml);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(network).toMatchObject(expected);
  });

  it.each<[string, string[], RunDefaults, string, RegExp]>([
    ['a bad --net', ['--net', 'bridge'], null, 'UK101', /--net "bridge": expected none, user or tap:IFACE/],
    ['a bad --publish', ['-p', '8080'], null, 'UK129', /--publish "8080": expected \[HOST_IP:\]HOST_PORT:GUEST_PORT/],
    ['port 0', ['-p', '0:80'], null, 'UK129', /--publish "0:80": the host port must be an integer in 1\.\.65535/],
    ['a bad protocol', ['-p', '53:53/icmp'], null, 'UK129', /protocol must be tcp or udp \(got "icmp"\)/],
    ['a bad host address', ['-p', '1.2.3:8080:80'], null, 'UK129', /host address must be an IPv4 address/],
    [
      '--publish with --net none',
      ['--net', 'none', '-p', '8080:80'],
      null,
      'UK139',
      /--publish needs user networking, but --net = none/,
    ],
    [
      '--publish with --net tap',
      ['--net', 'tap:tap0', '--ip', '172.16.0.2/30', '-p', '8080:80'],
      null,
      'UK139',
      /but --net = tap:tap0/,
    ],
    [
      '--publish on a project whose net is a tap',
      ['-p', '8080:80'],
      { vcpu: 1, memory_mb: 128, net: 'tap:tap0', ip: '172.16.0.2/30' },
      'UK139',
      /but ukernel\.toml \[run\] net = tap:tap0/,
    ],
    ['tap without an address', ['--net', 'tap:tap0'], null, 'UK138', /--net = tap:tap0, but the guest has no address/],
    [
      'a bad --ip',
      ['--net', 'tap:tap0', '--ip', '172.16.0.2'],
      null,
      'UK130',
      /--ip "172\.16\.0\.2": expected A\.B\.C\.D\/PREFIX/,
    ],
    [
      'a bad --gateway',
      ['--net', 'user', '--gateway', '10.0.2'],
      null,
      'UK130',
      /--gateway "10\.0\.2": the gateway must be an IPv4 address/,
    ],
    ['a bad --dns', ['--net', 'user', '--dns', '10.0.2.3:0'], null, 'UK130', /--dns "10\.0\.2\.3:0": the DNS port must be/],
    [
      'a gateway outside the subnet',
      ['--net', 'tap:tap0', '--ip', '172.16.0.2/30', '--gateway', '172.16.0.9'],
      null,
      'UK130',
      /--gateway with --ip: the gateway 172\.16\.0\.9 is outside the guest's subnet 172\.16\.0\.2\/30/,
    ],
    [
      'a gateway with DHCP',
      ['--net', 'user', '--gateway', '10.0.2.2'],
      null,
      'UK130',
      /--gateway = 10\.0\.2\.2 needs a static guest address/,
    ],
    [
      "a static address outside slirp's network under --net user",
      ['--net', 'user', '--ip', '192.168.5.5/24'],
      null,
      'UK130',
      /--ip with --net = user: user networking \(slirp\) is 10\.0\.2\.0\/24: 192\.168\.5\.5\/24 is outside it/,
    ],
    ["slirp's own address as the guest's", ['--net', 'user', '--ip', '10.0.2.2/24'], null, 'UK130', /10\.0\.2\.2 is slirp's own/],
    ['a loopback guest address', ['--net', 'tap:tap0', '--ip', '127.0.0.2/8'], null, 'UK130', /cannot be a guest's address/],
    [
      '--ip without a network',
      ['--ip', '10.0.2.15/24'],
      null,
      'UK101',
      /--ip has no effect without a network \(default = none\)/,
    ],
  ])('%s → %s', async (_what, argv, toml, code, message) => {
    const { code: exit, err } = await parseNet(['--kernel', 'k', ...argv], toml);
    expect(exit).toBe(2);
    expect(err).toContain(`error ${code}: `);
    expect(err).toMatch(message);
  });

  it('at most PUBLISH_MAX mappings', async () => {
    const argv = Array.from({ length: 65 }, (_, i) => ['-p', `${10000 + i}:80`]).flat();
    const { code, err } = await parseNet(['--kernel', 'k', ...argv]);
    expect(code).toBe(2);
    expect(err).toMatch(/error UK129: 65 --publish mappings; at most 64 fit/);
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
      envLock: record('envLock'),
      envShow: record('envShow'),
      envChange: record('envChange'),
      pack: record('pack'),
      inspect: record('inspect'),
      logs: record('logs'),
      trace: record('trace'),
      perf: record('perf'),
    });
    for (const argv of [
      ['init', '--name', 'demo', '--lang', 'native', '--template', 'worker', '--force'],
      ['build', '--release'],
      ['build', '--locked'],
      ['env', 'lock'],
      ['env', 'lock', '--check', '--json'],
      ['env', 'show', '--json'],
      ['env', 'add', 'requests==2.32', 'idna'],
      ['env', 'add', '--system', 'openssl'],
      ['env', 'add', '-r', 'requirements.txt'],
      ['env', 'remove', 'requests'],
      ['env', 'remove', '--system'],
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
      ['build', { locked: true }],
      ['envLock', {}],
      ['envLock', { check: true, json: true }],
      ['envShow', { json: true }],
      ['envChange', 'add', ['requests==2.32', 'idna'], {}],
      ['envChange', 'add', ['openssl'], { system: true }],
      ['envChange', 'add', [], { requirements: 'requirements.txt' }],
      ['envChange', 'remove', ['requests'], {}],
      // No names: envChange's UK100 listing the catalog, not commander's "missing argument 'packages'".
      ['envChange', 'remove', [], { system: true }],
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
