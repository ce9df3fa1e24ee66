// Real processes, no mocks: the VMM must never outlive the CLI, even on SIGKILL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnVmm } from './process.js';
import { findExecutable } from './which.js';

/** A real, long-running VMM: QEMU microvm without a kernel just sits there. */
const QEMU = findExecutable('qemu-system-x86_64');
const LONG_RUNNING: [string, string[]] =
  QEMU !== null
    ? [QEMU, ['-M', 'microvm,acpi=off', '-accel', 'tcg', '-m', '64', '-nodefaults', '-display', 'none', '-serial', 'stdio']]
    : ['sleep', ['60']];
const HAS_SETPRIV = findExecutable('setpriv') !== null;

/** Alive = /proc/<pid> exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntil(predicate: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (predicate()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return predicate();
}

describe.skipIf(!existsSync('/proc/self/stat'))('VMM process lifetime', () => {
  let dir: string;
  let parentScript: string;
  const strays: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'uk-proc-'));
    // The parent is a separate node process running the real helper, bundled from source.
    await build({
      entryPoints: [fileURLToPath(new URL('./process.ts', import.meta.url))],
      outfile: join(dir, 'process.mjs'),
      bundle: true,
      format: 'esm',
      platform: 'node',
      logLevel: 'error',
    });
    parentScript = join(dir, 'parent.mjs');
    writeFileSync(
      parentScript,
      `import { spawnVmm } from './process.mjs';
const [mode, bin, ...args] = process.argv.slice(2);
const vmm = await spawnVmm(bin, args, { parentDeathSignal: mode === 'tied' });
process.stdout.write(vmm.pid + ' ' + vmm.parentDeathSignal + '\\n');
setInterval(() => {}, 1000);
`,
    );
  });

  afterAll(() => {
    for (const pid of strays) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  async function startParent(mode: 'tied' | 'untied'): Promise<{ parent: ChildProcess; vmmPid: number; tied: boolean }> {
    const parent = spawn(process.execPath, [parentScript, mode, LONG_RUNNING[0], ...LONG_RUNNING[1]], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      parent.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      parent.once('exit', () => reject(new Error(`parent exited early: ${out}`)));
    });
    const [pid, tied] = line.split(' ');
    strays.push(Number(pid));
    return { parent, vmmPid: Number(pid), tied: tied === 'true' };
  }

  async function killParent(parent: ChildProcess): Promise<void> {
    const gone = new Promise((r) => parent.once('exit', r));
    parent.kill('SIGKILL');
    await gone;
  }

  it.skipIf(!HAS_SETPRIV)('SIGKILL of the CLI process takes the VMM with it (setpriv --pdeathsig)', async () => {
    const { parent, vmmPid, tied } = await startParent('tied');
    expect(tied).toBe(true);
    // The stand-in VMM really is long-running (QEMU without a kernel does not exit).
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(vmmPid)).toBe(true);
    if (QEMU !== null) expect(readFileSync(`/proc/${vmmPid}/comm`, 'latin1')).toMatch(/^qemu-system-x86/);
    await killParent(parent);
    expect(await waitUntil(() => !alive(vmmPid), 3000)).toBe(true);
  });

  it('control: without the parent-death signal the VMM would be orphaned', async () => {
    const { parent, vmmPid, tied } = await startParent('untied');
    expect(tied).toBe(false);
    await killParent(parent);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(vmmPid)).toBe(true);
    process.kill(vmmPid, 'SIGKILL');
    expect(await waitUntil(() => !alive(vmmPid), 3000)).toBe(true);
  });

  it('stop() ends a VMM gracefully with SIGTERM', async () => {
    const vmm = await spawnVmm(LONG_RUNNING[0], LONG_RUNNING[1]);
    strays.push(vmm.pid);
    expect(await vmm.stop(3000)).toEqual({ graceful: true, exited: true });
    expect(vmm.exitInfo()).not.toBeNull();
  });

  it('stop() escalates to SIGKILL when SIGTERM is ignored', async () => {
    const vmm = await spawnVmm('sh', ['-c', 'trap "" TERM; echo ready; exec sleep 30']);
    strays.push(vmm.pid);
    await new Promise((r) => vmm.child.stdout!.once('data', r)); // trap installed
    const started = Date.now();
    expect(await vmm.stop(200)).toEqual({ graceful: false, exited: true });
    expect((await vmm.exited).signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a binary that cannot be executed rejects instead of hanging', async () => {
    await expect(spawnVmm(join(dir, 'no-such-vmm'), [], { parentDeathSignal: false })).rejects.toMatchObject({ code: 'ENOENT' });
    // Through setpriv, exec failure shows up as setpriv's exit status instead.
    if (HAS_SETPRIV) {
      const vmm = await spawnVmm(join(dir, 'no-such-vmm'), []);
      expect((await vmm.exited).code).not.toBe(0);
    }
  });
});

it('spawnSync sanity: setpriv supports --pdeathsig here', () => {
  if (!HAS_SETPRIV) return;
  const r = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true']);
  expect(r.status).toBe(0);
});
