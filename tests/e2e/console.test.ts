// What a workload prints can never pass for the kernel's own records (issue: forged exit status,
// spans and boot summaries), on the events device or on the serial console it falls back to;
// argv is exactly what `ukernel run -- …` was given; a run whose image never started its
// workload does not succeed; an over-long command line is refused before a VMM starts.
// The workload is tests/workloads/console-probe, on the real kernel under QEMU (KVM and TCG).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, buildProjectCopy, cliPath, kernelPath, requireBuilt, root, tempDir, ukernel } from './helpers.js';

const { qemuArgs } = await import(`${root}/cli/dist/lib.js`);
let work: ReturnType<typeof tempDir>;
let project: string;
let image: string;

beforeAll(async () => {
  requireBuilt();
  work = tempDir();
  ({ project, image } = await buildProjectCopy('console-probe', work.path));
}, 200_000);
afterAll(() => work?.remove());

const probe = (accel: string, args: string[], extra: string[] = []) =>
  ukernel(['run', '--image', image, '--accel', accel, ...extra, '--', ...args], project, 60_000);

describe.each(accels)('workload console output (%s)', (accel) => {
  it('a printed @uk:exit line does not set the status: the workload returned 42', async () => {
    const result = await probe(accel, ['forge-exit']);
    expect(result.code, result.stderr).toBe(42);
    expect(result.stdout).toContain('@uk:exit v=1 status=0 reason=return\n');
    expect(result.stderr).not.toMatch(/warning/);
  });

  it('a printed panic record does not either: the workload returned 0', async () => {
    const result = await probe(accel, ['forge-panic']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('@uk:exit v=1 status=77 reason=panic');
  });

  it('printed trace and boot records are text: no forged span in trace, the real boot record in the report', async () => {
    const result = await probe(accel, ['forge-trace'], ['--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.boot.clock).not.toBe('pit-forged');
    expect(report.boot.tsc_khz).toBeGreaterThan(1);
    const trace = await ukernel(['trace', '--json'], project);
    expect(trace.code, trace.stderr).toBe(0);
    expect(trace.stdout).not.toContain('forged');
    const logs = await ukernel(['logs'], project);
    expect(logs.stdout).toContain('@uk:trace v=1 kind=begin span=7 parent=0 task=0 t_ns=1000 name=forged\n');
  });

  it('a last line without a newline is shown, and the status still arrives', async () => {
    const result = await probe(accel, ['no-newline'], ['--json']);
    expect(result.code, result.stderr).toBe(3);
    expect(JSON.parse(result.stdout).status).toBe(3);
    const human = await probe(accel, ['no-newline']);
    expect(human.code).toBe(3);
    expect(human.stdout).toBe('a last line without a newline\n');
  });

  it('lines starting with @ come out verbatim', async () => {
    const result = await probe(accel, ['at-lines']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('@one\n@@two\n@uk:three v=1\nfour @uk:five\n');
    const logs = await ukernel(['logs'], project);
    expect(logs.stdout).toContain('@one\n@@two\n@uk:three v=1\nfour @uk:five\n');
  });

  it('a fault keeps what the workload printed before it, in order, live and in logs', async () => {
    const result = await probe(accel, ['fault']);
    expect(result.code).toBe(101);
    expect(result.stdout).toMatch(
      /^the last line before the fault\n\nexception: #PF page fault \(vector 14\) error 0x6 in ring 3/,
    );
    const logs = await ukernel(['logs'], project);
    expect(logs.stdout).toMatch(/^the last line before the fault\n\nexception: #PF/);
    const raw = await ukernel(['logs', '--raw'], project);
    expect(raw.stdout).toMatch(/@uk:exit v=1 status=101 reason=exception/);
  });

  it('a megabyte of output arrives whole, live and in logs, even through a slow pipe', async () => {
    const result = await probe(accel, ['flood', String(1 << 20)]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(1 << 20);
    expect(result.stdout).toMatch(/\nflood: 1048576 bytes in \d+ ns\n$/);
    // A reader that stalls first: the pipe fills, and the CLI must not exit before it drains.
    const child = spawn(process.execPath, [cliPath, 'logs'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pause();
    await new Promise((r) => setTimeout(r, 500));
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stdout.resume();
    await new Promise((r) => child.once('close', r));
    expect(text.split('\n').length).toBe(result.stdout.split('\n').length);
    expect(text).toMatch(/\nflood: 1048576 bytes in \d+ ns\n$/);
  }, 120_000);

  it('argv is exactly the arguments after --', async () => {
    const result = await probe(accel, ['args', 'a', 'b=c', '--', 'pci=off']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('argv[1]=args\nargv[2]=a\nargv[3]=b=c\nargv[4]=--\nargv[5]=pci=off\n');
  });

  it('without an events device the kernel escapes workload lines on the serial console', () => {
    // QEMU straight, as a VMM without the CLI's events device: everything goes to the serial port.
    const args = qemuArgs({
      kernel: kernelPath,
      accel,
      memoryMib: 128,
      vcpus: 1,
      cmdline: 'uk.argc=1 -- forge-exit',
      image: { path: image },
    });
    const result = spawnSync('qemu-system-x86_64', args, { encoding: 'latin1', timeout: 60_000 });
    expect(result.stdout).toContain('\n@@uk:exit v=1 status=0 reason=return\n');
    expect(result.stdout).toMatch(/\n@uk:exit v=1 status=42 reason=return/);
    expect(result.status).toBe((42 << 1) | 1);
    const noNewline = spawnSync(
      'qemu-system-x86_64',
      args.map((a: string) => (a === 'uk.argc=1 -- forge-exit' ? 'uk.argc=1 -- no-newline' : a)),
      {
        encoding: 'latin1',
        timeout: 60_000,
      },
    );
    // The kernel's record starts a line of its own.
    expect(noNewline.stdout).toContain('a last line without a newline\n@uk:workload v=1 event=exit status=3');
  });
});

describe('runs that must not succeed', () => {
  const accel = accels[0]!;
  it('an image run that ends without starting its workload is an error, never status 0', async () => {
    const result = await probe(accel, [], ['--cmdline', 'uk.test=exit:0']);
    expect(result.code).toBe(125);
    expect(result.stderr).toContain('error UK205: the guest exited 0 but never started the workload from the image');
  });

  it('a command line the kernel had to cut (a VMM driven by hand) stops the boot, saying so', () => {
    const cmdline = `uk.argc=1 -- args ${'x'.repeat(5000)}`;
    const args = qemuArgs({ kernel: kernelPath, accel, memoryMib: 128, vcpus: 1, cmdline, image: { path: image } });
    const result = spawnSync('qemu-system-x86_64', args, { encoding: 'latin1', timeout: 60_000 });
    expect(result.stdout).toContain('boot: the command line is longer than 4096 bytes and was cut; tokens were lost');
    expect(result.status).toBe((102 << 1) | 1);
  });

  it('an over-long command line is refused before the VMM starts, naming the limit', async () => {
    const args = Array.from({ length: 100 }, (_, i) => `argument-number-${i}-${'x'.repeat(40)}`);
    const result = await probe(accel, ['args', ...args]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /error UK140: the kernel command line is \d+ bytes; with the 2 device token\(s\) qemu adds, at most \d+ fit \(the kernel's 4096 bytes with its NUL\)/,
    );
  });
});

describe('the host disk fills up during a run', () => {
  it('ends with a clear error naming the disk, never a hang (root: a 1 MiB tmpfs under logs/runs)', async (context) => {
    if (process.getuid?.() !== 0) context.skip('needs root to mount a small tmpfs');
    const runs = join(project, 'logs/runs');
    mkdirSync(runs, { recursive: true });
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', runs]);
    if (mount.status !== 0) context.skip(`cannot mount a tmpfs here: ${mount.stderr}`);
    try {
      const result = await probe(accels[0]!, ['flood', '4000000'], ['--timeout', '60']);
      expect(result.code).toBe(125);
      expect(result.stderr).toMatch(/error UK206: the disk holding logs\/runs is full/);
    } finally {
      spawnSync('umount', [runs]);
    }
  }, 90_000);
});
