// Errors stay clean on hostile project files and odd file systems: text quoted from a project
// file is sanitized and cut; a directory, a read-only or a full file system gets its own stable
// code, the real cause and a fitting hint (never a stack trace); `trace --export` does not create
// directories; `--kernel` refuses what QEMU could not boot, before starting it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, kernelPath, requireBuilt, tempDir, ukernel } from './helpers.js';

let work: ReturnType<typeof tempDir>;
let project: string;
let toml: string;
beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  project = join(work.path, 'demo');
  mkdirSync(project);
  const init = await ukernel(['init', '--name', 'demo'], project);
  expect(init.code, init.stderr).toBe(0);
  toml = readFileSync(join(project, 'ukernel.toml'), 'utf8');
});
afterAll(() => work.remove());

/** What a terminal must never receive from a file: ESC, other C0 controls but \t \n, DEL, C1, bidi overrides. */
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function expectCleanError(result: { code: number | null; stderr: string }, code: string): void {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stderr).toMatch(new RegExp(`^error ${code}: `, 'm'));
  expect(result.stderr).toMatch(/\nhint: /);
  expect(result.stderr).not.toMatch(/^\s+at |UK900/m); // no stack trace, no "internal error"
  expect(result.stderr).not.toMatch(UNSAFE);
}

describe('hostile ukernel.toml', () => {
  afterAll(() => writeFileSync(join(project, 'ukernel.toml'), toml));

  it('escape codes in a syntax error excerpt are shown escaped, not sent to the terminal', async () => {
    writeFileSync(join(project, 'ukernel.toml'), `${toml}x = "\x1b[31mred\x1b]0;pwned\x07"\n`);
    const result = await ukernel(['build'], project);
    expectCleanError(result, 'UK111');
    expect(result.stderr).toContain('x = "\\x1b[31mred');
  });

  it('a 1 MB line makes a short error (the excerpt is cut around the column)', async () => {
    writeFileSync(join(project, 'ukernel.toml'), `${toml}x = "${'A'.repeat(1_000_000)}\u202e\n`);
    const result = await ukernel(['build'], project);
    expectCleanError(result, 'UK111');
    expect(result.stderr.length).toBeLessThan(2000);
    expect(result.stderr).toMatch(/…A+\\u202e/);
  });

  it('an unknown key full of escapes is named safely', async () => {
    // TOML's own escapes put ESC and CSI (U+009B) into the key.
    writeFileSync(join(project, 'ukernel.toml'), toml.replace('[run]', '[run]\n"\\u001b[2J\\u009b" = 1'));
    const result = await ukernel(['build', '--release'], project);
    expectCleanError(result, 'UK112');
    expect(result.stderr).toContain('\\x1b[2J\\u009b');
  });
});

describe('hostile env/ukernel.lock and env/ukernel.env', () => {
  it('a lock that is not JSON is quoted escaped and short (UK121); an env line likewise (UK112)', async () => {
    const build = await ukernel(['build'], project, 180_000);
    expect(build.code, build.stderr).toBe(0);
    writeFileSync(join(project, 'env/ukernel.lock'), `{"lock-version": 1, "x": \x1b]0;pwned\x07${'x'.repeat(1_000_000)}`);
    try {
      const pack = await ukernel(['pack'], project);
      expectCleanError(pack, 'UK121');
      expect(pack.stderr).toContain('\\x1b]0;pwned');
      expect(pack.stderr.length).toBeLessThan(1000);
    } finally {
      rmSync(join(project, 'env/ukernel.lock'));
    }
    writeFileSync(join(project, 'env/ukernel.env'), `GOOD=1\n\x1b[2J${'B'.repeat(60_000)}\n`);
    try {
      const env = await ukernel(['build'], project);
      expectCleanError(env, 'UK112');
      expect(env.stderr).toMatch(/env\/ukernel\.env:2:1: expected KEY=VALUE, got "\\x1b\[2JBBB/);
      expect(env.stderr.length).toBeLessThan(1000);
    } finally {
      writeFileSync(join(project, 'env/ukernel.env'), '');
    }
  }, 180_000);
});

describe('odd files and file systems', () => {
  it('ukernel.toml that is a directory: UK150 naming it, not "no project" nor the parent project', async () => {
    const sub = join(project, 'sub');
    mkdirSync(join(sub, 'ukernel.toml'), { recursive: true });
    try {
      const result = await ukernel(['build'], sub);
      expectCleanError(result, 'UK150');
      expect(result.stderr).toMatch(
        /^error UK150: cannot read ukernel\.toml: it is a directory \(EISDIR\)\nhint: ukernel\.toml is a directory: remove or rename it/,
      );
    } finally {
      rmSync(sub, { recursive: true, force: true });
    }
  });

  it('env/ukernel.env that is a directory: UK150', async () => {
    rmSync(join(project, 'env/ukernel.env'));
    mkdirSync(join(project, 'env/ukernel.env'));
    try {
      expectCleanError(await ukernel(['build'], project), 'UK150');
    } finally {
      rmSync(join(project, 'env/ukernel.env'), { recursive: true });
      writeFileSync(join(project, 'env/ukernel.env'), '');
    }
  });

  it('logs/console.log that is a directory: the run goes on without it, and logs/perf read the run, no stack trace', async () => {
    const dir = join(work.path, 'console-dir');
    mkdirSync(join(dir, 'logs/console.log'), { recursive: true });
    const runResult = await ukernel(['run', '--kernel', kernelPath, '--accel', accels[0]!], dir);
    expect(runResult.code, runResult.stderr).toBe(0);
    const logs = await ukernel(['logs'], dir);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/^ukernel .*: pvh boot/m);
    const perf = await ukernel(['perf', '--json'], dir);
    expect(perf.code, perf.stderr).toBe(0);
    expect(JSON.parse(perf.stdout)).toMatchObject({ status: 0 });
    for (const result of [runResult, logs, perf]) expect(result.stderr).not.toMatch(/^\s+at |UK900/m);
  });

  it('a build output path taken by a directory: UK150 naming build/bundle.tgz', async () => {
    rmSync(join(project, 'build/bundle.tgz'), { force: true });
    mkdirSync(join(project, 'build/bundle.tgz'), { recursive: true });
    try {
      const result = await ukernel(['build'], project, 180_000);
      expectCleanError(result, 'UK150');
      expect(result.stderr).toContain('cannot write build/bundle.tgz: it is a directory (EISDIR)');
    } finally {
      rmSync(join(project, 'build/bundle.tgz'), { recursive: true, force: true });
    }
  }, 180_000);
});

/** Mount a tmpfs at `dir` (root only); false when this machine does not allow it. */
function mountTmpfs(dir: string, options: string): boolean {
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' }).status === 0;
}

describe('read-only and full file systems (needs mount: root)', () => {
  const mounts: string[] = [];
  afterAll(() => {
    for (const dir of mounts) spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
  });

  it('a read-only project: EROFS (UK153) naming the directory, not ENOENT', async (context) => {
    const dir = join(work.path, 'ro');
    if (!mountTmpfs(dir, 'size=16m')) return context.skip('cannot mount a tmpfs here (not root?)');
    mounts.push(dir);
    expect((await ukernel(['init', '--name', 'ro'], dir)).code).toBe(0);
    expect(spawnSync('mount', ['-o', 'remount,ro', dir]).status).toBe(0);
    const build = await ukernel(['build'], dir);
    expectCleanError(build, 'UK153');
    expect(build.stderr).toMatch(
      /^error UK153: cannot create build\/bin\/: read-only file system \(EROFS\)\nhint: .*read-only file system/,
    );
    const runResult = await ukernel(['run', '--kernel', kernelPath, '--accel', accels[0]!], dir);
    expectCleanError(runResult, 'UK153');
    expect(runResult.stderr).toContain('cannot create logs/runs/: read-only file system (EROFS)');
  });

  it('a full file system: ENOSPC (UK154) with a hint to free space, and nothing half-written', async (context) => {
    const dir = join(work.path, 'full');
    if (!mountTmpfs(dir, 'size=1m')) return context.skip('cannot mount a tmpfs here (not root?)');
    mounts.push(dir);
    spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'filler')}`, 'bs=64k'], { stdio: 'ignore' });
    const result = await ukernel(['init', '--name', 'full'], dir);
    expectCleanError(result, 'UK154');
    expect(result.stderr).toMatch(
      /no space left on the device \(ENOSPC\)\nhint: The file system holding \. is full: free some space \(df -h \.\)/,
    );
    expect(existsSync(join(dir, 'ukernel.toml'))).toBe(false);
  });
});

describe('trace --export', () => {
  it('into a missing directory is refused (UK156), and the directory is not created', async () => {
    const dir = join(work.path, 'trace');
    mkdirSync(dir);
    const runResult = await ukernel(['run', '--kernel', kernelPath, '--accel', accels[0]!], dir);
    expect(runResult.code, runResult.stderr).toBe(0);
    const result = await ukernel(['trace', '--export', 'chrome', 'no/such/dir/trace.json'], dir);
    expectCleanError(result, 'UK156');
    expect(result.stderr).toMatch(
      /^error UK156: cannot write no\/such\/dir\/trace\.json: the directory no\/such\/dir does not exist\nhint: Create it first \(mkdir -p no\/such\/dir\)/,
    );
    expect(existsSync(join(dir, 'no'))).toBe(false);
    const json = await ukernel(['trace', '--export', 'chrome', 'no/trace.json', '--json'], dir);
    expect(JSON.parse(json.stdout).error.code).toBe('UK156');
  });
});

describe('--kernel', () => {
  it('an ELF without the PVH note is refused by the CLI (UK158) before QEMU starts', async () => {
    const dir = join(work.path, 'not-pvh');
    mkdirSync(dir);
    const result = await ukernel(['run', '--kernel', process.execPath, '--accel', accels[0]!], dir);
    expectCleanError(result, 'UK158');
    expect(result.stderr).toContain('has no PVH entry point');
    expect(result.stderr).not.toMatch(/qemu-system|UK20\d/); // QEMU never ran
    expect(existsSync(join(dir, 'logs'))).toBe(false); // refused before the run began
    const json = await ukernel(['run', '--kernel', process.execPath, '--json'], dir);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'UK158' } });
  });

  it('not an ELF, or not x86-64: UK104 before QEMU starts', async () => {
    const dir = join(work.path, 'not-elf');
    mkdirSync(dir);
    writeFileSync(join(dir, 'bzImage'), 'MZ\x90\x00 not an ELF');
    expectCleanError(await ukernel(['run', '--kernel', 'bzImage'], dir), 'UK104');
    const arm = Buffer.alloc(64);
    arm.set([0x7f, 0x45, 0x4c, 0x46, 2, 1], 0);
    arm.writeUInt16LE(0xb7, 18); // EM_AARCH64
    writeFileSync(join(dir, 'arm.elf'), arm);
    const result = await ukernel(['run', '--kernel', 'arm.elf'], dir);
    expectCleanError(result, 'UK104');
    expect(result.stderr).toContain('machine 0xb7, not x86-64');
  });
});
