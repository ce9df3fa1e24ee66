// The virtio-net driver and its interrupt path (issue 9, item 1), checked before any TCP/IP
// stack: the kernel's `uk.net.selftest` sends ARP requests to QEMU user networking's gateway
// (10.0.2.2) and waits for each reply, then (`uk.net.selftest.listen_ms`) halts for a while with
// the device's interrupt armed. Meanwhile the test keeps connecting to a port forwarded to the
// guest, so slirp sends the guest TCP SYNs it never asked for: each must arrive through the
// IOAPIC route, the ring-0 handler and an early return from the halt (a spinning or polling
// guest would count no `woken_by_interrupt`; a lost interrupt would leave the frames to the
// listen deadline and count none either). QEMU is run by hand: the CLI has no --net yet.
// Under Firecracker (root and `firecracker` on PATH) the same runs over a tap in a network
// namespace the test creates, with the host's ARP requests (UDP sent to the guest's address) as
// the unasked frames: Firecracker's line is an edge, QEMU's a level.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, kernelPath, kvmUsable, onPath, type RunResult, requireBuilt, root, run, tempDir } from './helpers.js';

const { qemuArgs } = await import(`${root}/cli/dist/lib.js`);

let work: ReturnType<typeof tempDir>;
beforeAll(() => {
  requireBuilt();
  work = tempDir();
});
afterAll(() => work?.remove());

/** A TCP port free on 127.0.0.1 right now. */
async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function netArgs(accel: 'kvm' | 'tcg', cmdline: string, netdev: string | null, device = ''): string[] {
  const args: string[] = qemuArgs({ kernel: kernelPath, accel, memoryMib: 128, vcpus: 1, cmdline });
  if (netdev !== null) args.push('-netdev', netdev, '-device', `virtio-net-device,netdev=n0${device}`);
  return args;
}

function explain(result: { code: number | null; stdout: string; stderr: string }): string {
  return [`exit ${result.code}`, ...result.stdout.split('\n').slice(-20), '--- stderr:', result.stderr.slice(-2000)].join('\n');
}

describe.each(accels)('virtio-net under %s', (accel) => {
  const slow = accel === 'tcg' ? 3 : 1;

  // Both VMMs offer EVENT_IDX; QEMU can withhold it, which leaves the rings' flags to suppress
  // notifications and interrupts (the driver's other path).
  it.each([
    ['with EVENT_IDX', ''],
    ['without EVENT_IDX (event_idx=off)', ',event_idx=off'],
  ])(
    '%s: ARP to the slirp gateway is answered, and unasked frames end halts through the device interrupt',
    async (_, device) => {
      const port = await freePort();
      const args = netArgs(
        accel,
        'uk.net.selftest=1 uk.net.selftest.listen_ms=2000',
        `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:7`,
        device,
      );
      // Every 100 ms a connection to the forwarded port: slirp sends the guest a SYN (and
      // retransmits it), which the guest never answers.
      const knock = setInterval(() => {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        setTimeout(() => socket.destroy(), 150);
      }, 100);
      let result: RunResult;
      try {
        result = await run('qemu-system-x86_64', args, { cwd: work.path, timeoutMs: 30_000 * slow });
      } finally {
        clearInterval(knock);
      }
      const { stdout } = result;
      expect(stdout, explain(result)).toMatch(
        /^net selftest: ok mac 52:54:00:12:34:56 mtu 1500 reply from 52:55:0a:00:02:02 rounds 4 rtt_us min \d+ /m,
      );
      const listened = /^net selftest: listened frames (\d+) halts (\d+) woken_by_interrupt (\d+) interrupts (\d+)/m.exec(stdout);
      expect(listened, explain(result)).not.toBeNull();
      const [frames = 0, halts = 0, woken = 0, interrupts = 0] = listened!.slice(1).map(Number);
      expect(frames, explain(result)).toBeGreaterThan(0);
      expect(woken, explain(result)).toBeGreaterThan(0);
      expect(halts).toBeGreaterThanOrEqual(woken);
      expect(interrupts).toBeGreaterThanOrEqual(woken);
      // The device's vector is claimed: never counted as unexpected.
      expect(stdout).not.toMatch(/^interrupt: unexpected/m);
      expect(stdout).toContain('@uk:exit v=1 status=0 reason=test events_dropped=0 events_failed=0 interrupts_unexpected=0');
      expect(result.code, explain(result)).toBe((0 << 1) | 1); // isa-debug-exit: (status << 1) | 1
    },
    40_000 * slow,
  );

  it('without a virtio-net device the self-test says so and exits 1', async () => {
    const result = await run('qemu-system-x86_64', netArgs(accel, 'uk.net.selftest=1', null), {
      cwd: work.path,
      timeoutMs: 30_000 * slow,
    });
    expect(result.stdout, explain(result)).toMatch(/^net selftest: failed: no virtio-net device$/m);
    expect(result.code, explain(result)).toBe((1 << 1) | 1);
  });

  it('a malformed self-test value is refused with the expected form', async () => {
    const result = await run('qemu-system-x86_64', netArgs(accel, 'uk.net.selftest=10.0.2.15', 'user,id=n0'), {
      cwd: work.path,
      timeoutMs: 30_000 * slow,
    });
    expect(result.stdout, explain(result)).toMatch(
      /^net selftest: bad value '10\.0\.2\.15' \(use 1, or OURS,TARGET as dotted quads\)$/m,
    );
    expect(result.code, explain(result)).toBe((2 << 1) | 1);
  });
});

/** Runs `command` to completion; throws with its stderr when it fails. */
function sh(command: string, args: string[]): void {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
}

describe('virtio-net under Firecracker, over a tap in a network namespace', () => {
  const why = !onPath('firecracker')
    ? 'firecracker not on PATH'
    : !kvmUsable()
      ? '/dev/kvm not usable'
      : process.getuid?.() !== 0
        ? 'needs root (a tap in a network namespace)'
        : null;

  it('ARP to the tap is answered; ARP requests from the host end halts through the edge interrupt', async (context) => {
    if (why !== null) context.skip(why);
    const namespace = `uk-netdrv-${process.pid}`;
    sh('ip', ['netns', 'add', namespace]);
    try {
      const inside = (args: string[]) => sh('ip', ['netns', 'exec', namespace, ...args]);
      inside(['ip', 'tuntap', 'add', 'dev', 'uktap0', 'mode', 'tap']);
      inside(['ip', 'addr', 'add', '172.16.0.1/30', 'dev', 'uktap0']);
      inside(['ip', 'link', 'set', 'uktap0', 'up']);
      const config = join(work.path, 'firecracker.json');
      writeFileSync(
        config,
        JSON.stringify({
          'boot-source': {
            kernel_image_path: kernelPath,
            boot_args: 'uk.net.selftest=172.16.0.2,172.16.0.1 uk.net.selftest.listen_ms=3000',
          },
          drives: [],
          'machine-config': { vcpu_count: 1, mem_size_mib: 128 },
          'network-interfaces': [{ iface_id: 'eth0', host_dev_name: 'uktap0', guest_mac: '06:00:AC:10:00:02' }],
        }),
      );
      // UDP datagrams to the guest from inside the namespace: the host resolves 172.16.0.2 again
      // and again (the guest never answers), so ARP requests arrive about once a second.
      const sender =
        "const s = require('node:dgram').createSocket('udp4'); " +
        "setInterval(() => s.send('x', 9, '172.16.0.2', () => {}), 200); setTimeout(() => process.exit(0), 20000);";
      const sending = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', sender], { stdio: 'ignore' });
      let result: RunResult;
      try {
        const args = ['netns', 'exec', namespace, 'firecracker', '--no-api', '--config-file', config];
        result = await run('ip', [...args, '--log-path', join(work.path, 'firecracker.log'), '--level', 'Info'], {
          cwd: work.path,
          timeoutMs: 30_000,
        });
      } finally {
        sending.kill('SIGKILL');
      }
      const { stdout } = result;
      expect(stdout, explain(result)).toMatch(
        /^net selftest: ok mac 06:00:ac:10:00:02 mtu 1500 reply from [0-9a-f:]{17} rounds 4 rtt_us min \d+ /m,
      );
      const listened =
        /^net selftest: listened frames (\d+) halts (\d+) woken_by_interrupt (\d+) interrupts (\d+) \(empty (\d+)\)/m.exec(
          stdout,
        );
      expect(listened, explain(result)).not.toBeNull();
      const [frames = 0, , woken = 0, , empty = -1] = listened!.slice(1).map(Number);
      expect(frames, explain(result)).toBeGreaterThan(0);
      expect(woken, explain(result)).toBeGreaterThan(0);
      expect(empty, explain(result)).toBe(0); // An edge is delivered once.
      expect(stdout).toContain('@uk:exit v=1 status=0 reason=test events_dropped=0 events_failed=0 interrupts_unexpected=0');
      expect(result.code, explain(result)).toBe(0); // Firecracker exits 0 on the i8042 reset.
    } finally {
      sh('ip', ['netns', 'del', namespace]);
    }
  }, 40_000);
});
