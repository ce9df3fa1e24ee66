// The kernel's own checks of an image (defence in depth: `ukernel run` verifies every section
// on the host first, so these boot QEMU directly with a corrupted image). A corrupt header,
// rootfs index or workload file must stop the boot with status 102 and say what is wrong; an
// intact image runs the workload. Needs `ukernel init/build/pack` to make the image.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, kernelPath, requireBuilt, root, run, tempDir, ukernel } from './helpers.js';

const { qemuArgs } = await import(`${root}/cli/dist/lib.js`);
let work: ReturnType<typeof tempDir>;
let image: string;

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  for (const args of [['init', '--name', 'demo', '--lang', 'native', '--template', 'worker'], ['build'], ['pack']]) {
    const result = await ukernel(args, work.path, 120_000);
    if (result.code !== 0) throw new Error(`ukernel ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  }
  image = join(work.path, 'dist/demo.img');
}, 180_000);
afterAll(() => work.remove());

function boot(accel: 'kvm' | 'tcg', imagePath: string, cmdline = '') {
  const args: string[] = qemuArgs({ kernel: kernelPath, accel, memoryMib: 128, vcpus: 1, cmdline });
  return run(
    'qemu-system-x86_64',
    [...args, '-drive', `id=image,file=${imagePath},format=raw,if=none,readonly=on`, '-device', 'virtio-blk-device,drive=image'],
    { cwd: work.path },
  );
}

/** A copy of the image with one byte flipped at `offset`. */
function corrupted(name: string, offset: number): string {
  const path = join(work.path, `${name}.img`);
  copyFileSync(image, path);
  const bytes = readFileSync(path);
  bytes[offset] = bytes[offset]! ^ 0x01;
  writeFileSync(path, bytes);
  return path;
}

function sections(): { kernel: number; rootfs: number; indexBytes: number; mainOffset: number } {
  const bytes = readFileSync(image);
  const rootfs = Number(bytes.readBigUInt64LE(512 + 64 + 8));
  const indexBytes = bytes.readUInt32LE(rootfs + 16);
  const entries = bytes.readUInt32LE(rootfs + 12);
  for (let i = 0; i < entries; i++) {
    const entry = rootfs + 32 + i * 64;
    const path = bytes
      .subarray(rootfs + bytes.readUInt32LE(entry), rootfs + bytes.readUInt32LE(entry) + bytes.readUInt16LE(entry + 4))
      .toString();
    if (path === 'bin/main')
      return { kernel: 4096, rootfs, indexBytes, mainOffset: rootfs + Number(bytes.readBigUInt64LE(entry + 16)) };
  }
  throw new Error('bin/main not in the rootfs');
}

describe.each(accels)('kernel-side image checks under %s', (accel) => {
  it('runs the workload from an intact image, with arguments', async () => {
    const result = await boot(accel, image, '-- one two');
    expect(result.stdout).toContain('hello from demo: 3 argument(s)');
    expect(result.stdout).toMatch(/@uk:workload v=1 event=start t_ns=\d+/);
    expect(result.stdout).toContain('@uk:exit v=1 status=0 reason=return');
    expect(result.code).toBe(1); // isa-debug-exit: (0 << 1) | 1
  });

  it.each([
    ['the header', () => 100, /workload not started: image: HeaderHashMismatch/],
    ['the rootfs index', () => sections().rootfs + 40, /workload not started: image: IndexHashMismatch/],
    ['the workload file', () => sections().mainOffset + 64, /workload not started: workload: FileHashMismatch/],
  ])('refuses a bit flip in %s with status 102', async (what, offset, message) => {
    const result = await boot(accel, corrupted(what.replace(/ /g, '-'), offset()), '');
    expect(result.stdout).toMatch(message);
    expect(result.stdout).toMatch(/the image is corrupt/);
    expect(result.stdout).toContain('@uk:exit v=1 status=102 reason=workload_not_started');
    expect(result.code).toBe((102 << 1) | 1);
  });

  it('refuses a UKFS version 1 rootfs (packed by an older ukernel) with status 102 and how to fix it', async () => {
    const path = join(work.path, 'v1.img');
    copyFileSync(image, path);
    const bytes = readFileSync(path);
    bytes.writeUInt32LE(1, sections().rootfs + 8);
    writeFileSync(path, bytes);
    const result = await boot(accel, path, '');
    expect(result.stdout).toMatch(
      /workload not started: image: UnsupportedRootfsVersion \(this kernel reads UKFS version 2, with block hashes: repack the image with this ukernel's `ukernel pack`\)/,
    );
    expect(result.code).toBe((102 << 1) | 1);
  });
});
