// The image workflow through the real CLI: init → build → pack → inspect in a temp project;
// reproducibility across checkout paths, umasks and mtimes; refusals (init overwriting, bad
// ukernel.toml, damaged images); then `ukernel run` booting the project under QEMU and
// `ukernel logs` showing what it printed.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, cliPath, requireBuilt, run, tempDir, ukernel } from './helpers.js';

const BUILD_MS = 180_000;
let work: ReturnType<typeof tempDir>;
let project: string;

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** `ukernel ARGS` in `cwd` under a given umask and environment. */
function ukernelWith(args: string[], cwd: string, options: { umask?: string; env?: NodeJS.ProcessEnv } = {}) {
  const command = `umask ${options.umask ?? '022'} && exec "$0" "$@"`;
  return run('sh', ['-c', command, process.execPath, cliPath, ...args], {
    cwd,
    timeoutMs: BUILD_MS,
    env: { ...process.env, ...options.env },
  });
}

async function expectOk(args: string[], cwd: string, options?: Parameters<typeof ukernelWith>[2]) {
  const result = await ukernelWith(args, cwd, options);
  expect(result.code, `ukernel ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

beforeAll(() => {
  requireBuilt();
  work = tempDir();
  project = join(work.path, 'demo');
  mkdirSync(project);
});
afterAll(() => work.remove());

describe('init → build → pack → inspect', () => {
  it(
    'scaffolds, builds the bundle, packs the image and inspects it',
    async () => {
      const init = await expectOk(['init', '--name', 'demo', '--lang', 'native', '--template', 'worker'], project);
      expect(init.stdout).toBe('Created ukernel.toml\nCreated src/main.zig\nCreated env/ukernel.env\nCreated .gitignore\n');

      const build = await expectOk(['build'], project);
      expect(build.stdout).toBe('Built workload bundle: build/bundle.tgz\n');
      const file = await run('file', [join(project, 'build/bin/main')], { cwd: project });
      expect(file.stdout).toMatch(/ELF 64-bit LSB pie executable, x86-64.*static-pie linked.*stripped/);

      const pack = await expectOk(['pack'], project);
      expect(pack.stdout).toBe('Image created: dist/demo.img\n');

      const inspect = await expectOk(['inspect', 'dist/demo.img'], project);
      expect(inspect.stdout).toMatch(
        /^Image: dist\/demo\.img\nName: demo\nABI: \d+\.\d+\.\d+\nAdapter: native\nEntry: bin\/main\nSize: .* \(\d+ bytes\)\nRead-only: no\n/,
      );
      expect(inspect.stdout).toMatch(/^ {2}kernel +offset +4096 +size +\d+ +sha256 [0-9a-f]{64}$/m);
      expect(inspect.stdout).toMatch(/^ {2}-rwxr-xr-x +\d+ +bin\/main +sha256 [0-9a-f]{64}$/m);
      expect(inspect.stdout).toMatch(/^ {2}-rw-r--r-- +\d+ +etc\/ukernel\.env +sha256 [0-9a-f]{64}$/m);
      expect(inspect.stdout).toContain('Lock: none');

      const json = JSON.parse((await expectOk(['inspect', 'dist/demo.img', '--json'], project)).stdout);
      expect(json).toMatchObject({ name: 'demo', adapter: 'native', entry: 'bin/main', readonly: false });
      expect(json.sections.map((s: { name: string }) => s.name)).toEqual(['kernel', 'rootfs', 'manifest']);
      expect(json.manifest).toMatchObject({
        created: '1970-01-01T00:00:00Z',
        build: { optimize: 'ReleaseSafe', zig: '0.15.2' },
        lock: null,
      });
    },
    BUILD_MS,
  );

  it(
    'packs --readonly into another path and carries the lock',
    async () => {
      await expectOk(['env', 'lock'], project);
      await expectOk(['pack', '--readonly', '--image', 'dist/ro.img'], project);
      const json = JSON.parse((await expectOk(['inspect', 'dist/ro.img', '--json'], project)).stdout);
      expect(json.readonly).toBe(true);
      expect(json.manifest.lock).toMatchObject({ format: 1, adapter: { name: 'native' }, dependencies: [], system: [] });
      expect(json.lock).toEqual(json.manifest.lock);
      rmSync(join(project, 'env/ukernel.lock'));
      await expectOk(['pack'], project);
    },
    BUILD_MS,
  );

  it('refuses damaged, truncated and foreign images with the part named, exit 2', async () => {
    const image = readFileSync(join(project, 'dist/demo.img'));
    const rootfsOffset = Number(image.readBigUInt64LE(512 + 64 + 8));
    const flipped = Buffer.from(image);
    flipped[rootfsOffset + 100]! ^= 0x10;
    writeFileSync(join(work.path, 'flipped.img'), flipped);
    // A rootfs entry's padding: no hash names it but the section's.
    const padding = Buffer.from(image);
    padding[rootfsOffset + Number(image.readBigUInt64LE(rootfsOffset + 24)) - 1]! ^= 0x10;
    writeFileSync(join(work.path, 'padding.img'), padding);
    writeFileSync(join(work.path, 'cut.img'), image.subarray(0, 6000));
    const cases: Array<[string, string, RegExp]> = [
      [
        'flipped.img',
        'UK125',
        /rootfs index sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\); the image is corrupt$/m,
      ],
      [
        'padding.img',
        'UK125',
        /rootfs section sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\); the image is corrupt$/m,
      ],
      [
        'cut.img',
        'UK125',
        /file is 6000 bytes but the header says \d+ \(cut inside the kernel section\); the image is truncated/,
      ],
      [cliPath, 'UK124', /not a ukernel image/],
      ['missing.img', 'UK123', /no such file/],
    ];
    for (const [path, code, message] of cases) {
      const result = await ukernel(['inspect', path], work.path);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`^error ${code}: image `));
      expect(result.stderr).toMatch(message);
    }
  });
});

/** Where `path`'s data starts in the image file, from the rootfs index. */
function fileDataOffset(image: Buffer, path: string): number {
  const rootfs = Number(image.readBigUInt64LE(512 + 64 + 8));
  const entries = image.readUInt32LE(rootfs + 12);
  for (let i = 0; i < entries; i++) {
    const entry = rootfs + 32 + i * 64;
    const at = rootfs + image.readUInt32LE(entry);
    if (image.subarray(at, at + image.readUInt16LE(entry + 4)).toString('latin1') === path)
      return rootfs + Number(image.readBigUInt64LE(entry + 16));
  }
  throw new Error(`${path} is not in the rootfs`);
}

describe('a corrupted block of a file (UKFS 2 block hashes)', () => {
  it('is refused by inspect and by run before booting, naming the file and the block', async () => {
    const image = readFileSync(join(project, 'dist/demo.img'));
    const damaged = Buffer.from(image);
    // A byte in bin/main's first 16 KiB block (the worker's ELF fits one); no hash fixed up.
    damaged[fileDataOffset(image, 'bin/main') + 1000]! ^= 0x01;
    const path = join(work.path, 'block.img');
    writeFileSync(path, damaged);
    for (const args of [
      ['inspect', path],
      ['run', '--image', path, '--accel', 'tcg'],
    ]) {
      const result = await ukernel(args, work.path);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(
        /^error UK125: image \S*block\.img: rootfs file bin\/main block 0 \(bytes 0\.\.\d+\) sha256 mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\); the image is corrupt$/m,
      );
    }
  });
});

describe('refusals through the CLI', () => {
  it('init refuses to overwrite an existing project', async () => {
    const result = await ukernel(['init', '--name', 'demo'], project);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error UK113: not overwriting existing files: ukernel\.toml, src\/main\.zig, env\/ukernel\.env, \.gitignore\nhint: .*--force/,
    );
  });

  it('a bad ukernel.toml names file:line:column, the key and the fix', async () => {
    const dir = join(work.path, 'bad');
    mkdirSync(dir);
    await expectOk(['init', '--name', 'bad'], dir);
    const toml = readFileSync(join(dir, 'ukernel.toml'), 'utf8');
    writeFileSync(join(dir, 'ukernel.toml'), toml.replace('vcpu = 1', 'vcpus = 1'));
    let result = await ukernel(['build'], join(dir, 'src'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error UK112: \S*ukernel\.toml:16:1: run\.vcpus: unknown key "vcpus" in \[run\]; did you mean "vcpu"\?\nhint: rename it to "vcpu"\./,
    );
    writeFileSync(join(dir, 'ukernel.toml'), toml.replace('memory_mb = 128', 'memory_mb = "lots"'));
    result = await ukernel(['pack'], dir);
    expect(result.stderr).toMatch(
      /^error UK112: ukernel\.toml:17:1: run\.memory_mb: wrong type: the string "lots"\nhint: set run\.memory_mb to an integer in 16\.\.3072/,
    );
    writeFileSync(join(dir, 'ukernel.toml'), toml.replace('[run]', '[run'));
    result = await ukernel(['build'], dir);
    expect(result.stderr).toMatch(/^error UK111: ukernel\.toml:15:\d+: /);
    writeFileSync(join(dir, 'ukernel.toml'), toml.replace('src/main.zig', 'src/missing.zig'));
    result = await ukernel(['build'], dir);
    expect(result.stderr).toMatch(
      /^error UK115: workload entry src\/missing\.zig not found \(project\.entry at ukernel\.toml:7:1\)/,
    );
  });

  it(
    'a compile error reaches the user unchanged, then "build failed"',
    async () => {
      const dir = join(work.path, 'broken');
      mkdirSync(dir);
      await expectOk(['init', '--name', 'broken'], dir);
      writeFileSync(
        join(dir, 'src/main.zig'),
        'const ukernel = @import("ukernel");\npub fn main(context: ukernel.Context) u8 {\n    return undefined_name;\n}\n',
      );
      const result = await ukernelWith(['build'], dir);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/src\/main\.zig:3:12: error: use of undeclared identifier 'undefined_name'/);
      expect(result.stderr).toMatch(/error UK118: build failed: zig exited with status 1/);
    },
    BUILD_MS,
  );

  it('outside a project, build and run say there is no ukernel.toml', async () => {
    const result = await ukernel(['run'], work.path);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^error UK110: no ukernel\.toml in .* or any parent directory: nothing to run\nhint: .*--image/,
    );
  });
});

// A Python project with locked dependencies (wheels from PyPI): env-add.test.ts, "reproducibility".
describe('reproducibility', () => {
  it(
    'two checkouts with different paths, umasks and mtimes give byte-identical bundles and images',
    async () => {
      const a = join(work.path, 'a/demo');
      const b = join(work.path, 'b/some/deeper/path/demo');
      for (const dir of [a, b]) mkdirSync(dir, { recursive: true });
      await expectOk(['init', '--name', 'demo'], a, { umask: '022' });
      await expectOk(['init', '--name', 'demo'], b, { umask: '077' });
      const old = new Date('2001-09-09T01:46:40Z');
      for (const file of ['ukernel.toml', 'src/main.zig', 'env/ukernel.env']) utimesSync(join(b, file), old, old);
      for (const args of [['build'], ['pack']]) {
        await expectOk(args, a, { umask: '022' });
        await expectOk(args, b, { umask: '077' });
      }
      expect(sha256(join(b, 'build/bundle.tgz'))).toBe(sha256(join(a, 'build/bundle.tgz')));
      expect(sha256(join(b, 'dist/demo.img'))).toBe(sha256(join(a, 'dist/demo.img')));
      // SOURCE_DATE_EPOCH changes the manifest's "created" (and the tar mtimes), deterministically.
      await expectOk(['build'], b, { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      await expectOk(['pack'], b, { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      const created = JSON.parse((await expectOk(['inspect', 'dist/demo.img', '--json'], b)).stdout).manifest.created;
      expect(created).toBe('2023-11-14T22:13:20Z');
      expect(sha256(join(b, 'dist/demo.img'))).not.toBe(sha256(join(a, 'dist/demo.img')));
    },
    2 * BUILD_MS,
  );
});

// These boot the image: they need the kernel's image support and the SDK.
describe.each(accels)('ukernel run in the project (%s)', (accel) => {
  it(
    'runs the workload: hello with 1 argument, exit 0; skips the build when nothing changed',
    async () => {
      const result = await ukernelWith(['run', '--accel', accel], project);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('hello from demo: 1 argument(s)');
      expect(result.stdout).toMatch(/^pipeline: 24 jobs through 3 workers in \d+ us, checksum 2847230801792458468$/m);
      expect(result.stderr).not.toContain('Built workload bundle');
      expect(result.stderr).toMatch(/entry → workload start/);
    },
    BUILD_MS,
  );

  it(
    'passes the arguments after -- to the workload',
    async () => {
      // The worker template reads [jobs] [workers] from its arguments.
      const result = await ukernelWith(['run', '--accel', accel, '--', '6', '2'], project);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('hello from demo: 3 argument(s)');
      expect(result.stdout).toMatch(/^pipeline: 6 jobs through 2 workers in \d+ us/m);
      expect(result.stdout).toMatch(/^  worker 1: \d+ jobs$/m);
    },
    BUILD_MS,
  );

  it(
    'rebuilds and repacks when the source changed, and reports the workload in --json',
    async () => {
      const main = join(project, 'src/main.zig');
      writeFileSync(main, readFileSync(main, 'utf8').replace('return 0;', 'return 7;'));
      try {
        const result = await ukernelWith(['run', '--accel', accel, '--json'], project);
        expect(result.stderr).toContain('Built workload bundle: build/bundle.tgz');
        expect(result.stderr).toContain('Image created: dist/demo.img');
        expect(result.code).toBe(7);
        const report = JSON.parse(result.stdout);
        expect(report.status).toBe(7);
        expect(report.image).toBe(join(project, 'dist/demo.img'));
        expect(report.workload.start_ns).toBeGreaterThan(report.boot.phases_ns.ready);
        expect(report.host.entry_to_workload_ns).toBe(report.workload.start_ns);
      } finally {
        writeFileSync(main, readFileSync(main, 'utf8').replace('return 7;', 'return 0;'));
      }
    },
    BUILD_MS,
  );

  it(
    'ukernel logs shows the last run, records hidden; --list lists the runs',
    async () => {
      await expectOk(['run', '--accel', accel], project);
      const logs = await expectOk(['logs'], project);
      expect(logs.stdout).toContain('hello from demo: 1 argument(s)');
      expect(logs.stdout).not.toContain('@uk:');
      expect((await expectOk(['logs', '--raw'], project)).stdout).toMatch(/^@uk:workload v=1 event=start /m);
      expect((await expectOk(['logs', '--list'], project)).stdout).toMatch(
        /^RUN +STARTED +STATE +STATUS +SIZE\n(\d{8}T\d{6}Z-\d+ +\S+ +finished .*\n)+$/,
      );
    },
    BUILD_MS,
  );
});
