// The Firecracker backend. The config it writes is checked always; the boot tests need a
// `firecracker` binary and /dev/kvm, and skip (saying so) without them. With Firecracker on PATH
// they cover what the QEMU suite does for QEMU: a bare kernel, the worker template with logs,
// trace and perf, a read-only image, big memory and two vCPUs, argv identical to QEMU's, forged
// records, Ctrl-C and SIGKILL leaving no VMM behind.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildProjectCopy,
  kernelPath,
  kvmUsable,
  onPath,
  processAlive,
  requireBuilt,
  spawnUkernel,
  tempDir,
  ukernel,
  waitFor,
} from './helpers.js';

const firecracker = onPath('firecracker');
const canBoot = firecracker && kvmUsable();
const skipWhy = !firecracker
  ? 'firecracker not on PATH: cannot boot under Firecracker here'
  : '/dev/kvm not usable: Firecracker needs KVM';
let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work.remove());

/** PIDs of live `firecracker` processes whose parent chain includes `pid`. */
function firecrackerChildren(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('firecracker')) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === pid && processAlive(Number(entry))) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  return found;
}

describe('ukernel run --vmm firecracker, without Firecracker', () => {
  it("writes the run's config per Firecracker's schema, then exits 2 saying Firecracker is missing", async (context) => {
    if (firecracker) context.skip('firecracker is on PATH: the boot tests below cover it');
    const result = await ukernel(
      ['run', '--vmm', 'firecracker', '--kernel', kernelPath, '--memory', '256', '--vcpu', '2', '--cmdline', 'uk.verbose'],
      work.path,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /UK107: firecracker not found on PATH; the VM config was written to logs\/runs\/\d{8}T\d{6}Z-\d+\.firecracker\.json/,
    );
    const configPath = /the VM config was written to (\S+)/.exec(result.stderr)![1]!;
    const config = JSON.parse(readFileSync(join(work.path, configPath), 'utf8'));
    expect(config['boot-source'].kernel_image_path).toBe(kernelPath);
    expect(config['boot-source'].boot_args).toMatch(/^uk\.wall_ns=[0-9]+ uk\.verbose$/);
    expect(config.drives).toEqual([
      {
        drive_id: 'events',
        path_on_host: expect.stringMatching(/\/logs\/runs\/\d{8}T\d{6}Z-\d+\.events$/),
        is_root_device: false,
        is_read_only: false,
      },
    ]);
    expect(config['machine-config']).toMatchObject({ vcpu_count: 2, mem_size_mib: 256 });
  });
});

describe('ukernel run --vmm firecracker', () => {
  let worker: string;
  let probe: { project: string; image: string };
  beforeAll(async () => {
    if (!canBoot) return;
    worker = join(work.path, 'fcw');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(worker);
    const init = await ukernel(['init', '--name', 'fcw', '--lang', 'native', '--template', 'worker'], worker);
    expect(init.code, init.stderr).toBe(0);
    probe = await buildProjectCopy('console-probe', work.path);
  }, 300_000);

  it('boots the bare kernel on both entry paths (PVH) and exits with the guest status', async (context) => {
    if (!canBoot) context.skip(skipWhy);
    const result = await ukernel(
      ['run', '--vmm', 'firecracker', '--kernel', kernelPath, '--cmdline', 'uk.test=exit:9'],
      work.path,
    );
    expect(result.code, result.stderr).toBe(9);
    expect(result.stdout).toMatch(/^ukernel .*: pvh boot/m);
    // Firecracker's own lines never reach the console.
    expect(result.stdout).not.toMatch(/Running Firecracker|\[anonymous-instance/);
  });

  it('runs the worker template: output, logs, trace and perf as on QEMU, and its log apart', async (context) => {
    if (!canBoot) context.skip(skipWhy);
    for (let i = 0; i < 3; i++) {
      const result = await ukernel(['run', '--vmm', 'firecracker'], worker, 120_000);
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout).toMatch(/^pipeline: 24 jobs through 3 workers/m);
      expect(result.stdout).not.toMatch(/exception|Firecracker/);
      expect(result.stderr).toMatch(/boot .* on firecracker\/kvm .* entry → workload start/);
    }
    const logs = await ukernel(['logs'], worker);
    expect(logs.stdout).toMatch(/info  \[task 0\] pipeline done jobs=24 workers=3/);
    const trace = await ukernel(['trace', '--json'], worker);
    expect(JSON.parse(trace.stdout).spans.map((s: { name: string }) => s.name)).toContain('pipeline');
    const perf = await ukernel(['perf'], worker);
    expect(perf.code, perf.stderr).toBe(0);
    expect(perf.stdout).toMatch(/vmm start → kernel entry/);
    const vmm = await ukernel(['logs', '--vmm'], worker);
    expect(vmm.stdout).toMatch(/Running Firecracker v\d+\.\d+/);
  }, 400_000);

  it('argv is what came after --, whatever Firecracker appends (pci=off, device tokens)', async (context) => {
    if (!canBoot) context.skip(skipWhy);
    const result = await ukernel(
      ['run', '--vmm', 'firecracker', '--image', probe.image, '--', 'args', 'a', '--', 'b'],
      probe.project,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('argv[1]=args\nargv[2]=a\nargv[3]=--\nargv[4]=b\n');
    const runs = join(probe.project, 'logs/runs');
    const latest = readdirSync(runs)
      .filter((f) => f.endsWith('.firecracker.json'))
      .sort()
      .at(-1)!;
    const config = JSON.parse(readFileSync(join(runs, latest), 'utf8'));
    expect(config['boot-source'].boot_args).toMatch(/^uk\.wall_ns=[0-9]+ uk\.argc=4 -- args a -- b$/);
    expect(config.drives[0]).toMatchObject({ drive_id: 'image', is_read_only: true });
  });

  it('workload output cannot forge the status: a printed exit record, then return 42', async (context) => {
    if (!canBoot) context.skip(skipWhy);
    const result = await ukernel(['run', '--vmm', 'firecracker', '--image', probe.image, '--', 'forge-exit'], probe.project);
    expect(result.code, result.stderr).toBe(42);
    const noNewline = await ukernel(
      ['run', '--vmm', 'firecracker', '--image', probe.image, '--json', '--', 'no-newline'],
      probe.project,
    );
    expect(JSON.parse(noNewline.stdout).status).toBe(3);
  });

  it('boots a --readonly image, and with --memory 3072 --vcpu 2', async (context) => {
    if (!canBoot) context.skip(skipWhy);
    const pack = await ukernel(['pack', '--readonly', '--image', 'dist/ro.img'], worker);
    expect(pack.code, pack.stderr).toBe(0);
    const ro = await ukernel(['run', '--vmm', 'firecracker', '--image', 'dist/ro.img'], worker, 120_000);
    expect(ro.code, ro.stderr).toBe(0);
    const big = await ukernel(['run', '--vmm', 'firecracker', '--memory', '3072', '--vcpu', '2', '--json'], worker, 120_000);
    expect(big.code, big.stderr).toBe(0);
    expect(JSON.parse(big.stdout).status).toBe(0);
  }, 300_000);

  it('refuses a command line longer than Firecracker takes, before starting it', async (context) => {
    if (!canBoot) context.skip(skipWhy);
    const args = Array.from({ length: 40 }, (_, i) => `argument-${i}-${'x'.repeat(40)}`);
    const result = await ukernel(['run', '--vmm', 'firecracker', '--image', probe.image, '--', 'args', ...args], probe.project);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/UK140: .* firecracker adds, at most \d+ fit \(Firecracker's 2048 bytes with its NUL\)/);
    // The same line fits QEMU's budget.
    const qemu = await ukernel(['run', '--image', probe.image, '--', 'args', ...args], probe.project);
    expect(qemu.code, qemu.stderr).toBe(0);
  });

  it.for(['SIGINT', 'SIGKILL'] as const)('%s to the CLI leaves no Firecracker behind', async (signal, context) => {
    if (!canBoot) context.skip(skipWhy);
    const child = spawnUkernel(['run', '--vmm', 'firecracker', '--kernel', kernelPath, '--cmdline', 'uk.test=hang'], work.path);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor('the kernel to hang', () => out.includes('uk.test=hang'), 20_000);
    const vmms = firecrackerChildren(child.pid!);
    expect(vmms).toHaveLength(1);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(signal);
    const code = await exited;
    if (signal === 'SIGINT') expect(code).toBe(130);
    for (const pid of vmms) await waitFor(`firecracker ${pid} to be gone`, () => !processAlive(pid), 10_000);
  });
});
