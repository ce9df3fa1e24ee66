// The virtio-net driver and its interrupt path (issue 9, item 1), checked before any TCP/IP
// stack: the kernel's `uk.net.selftest` sends ARP requests to QEMU user networking's gateway
// (10.0.2.2) and waits for each reply, then (`uk.net.selftest.listen_ms`) halts for a while with
// the device's interrupt armed. Meanwhile the test keeps connecting to a port forwarded to the
// guest, so slirp sends the guest TCP SYNs it never asked for: each must arrive through the
// IOAPIC route, the ring-0 handler and an early return from the halt (a spinning or polling
// guest would count no `woken_by_interrupt`; a lost interrupt would leave the frames to the
// listen deadline and count none either). QEMU is run by hand: the CLI has no --net yet.
import { createServer, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accels, kernelPath, type RunResult, requireBuilt, root, run, tempDir } from './helpers.js';

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

function netArgs(accel: 'kvm' | 'tcg', cmdline: string, netdev: string | null): string[] {
  const args: string[] = qemuArgs({ kernel: kernelPath, accel, memoryMib: 128, vcpus: 1, cmdline });
  if (netdev !== null) args.push('-netdev', netdev, '-device', 'virtio-net-device,netdev=n0');
  return args;
}

function explain(result: { code: number | null; stdout: string; stderr: string }): string {
  return [`exit ${result.code}`, ...result.stdout.split('\n').slice(-20), '--- stderr:', result.stderr.slice(-2000)].join('\n');
}

describe.each(accels)('virtio-net under %s', (accel) => {
  const slow = accel === 'tcg' ? 3 : 1;

  it(
    'ARP to the slirp gateway is answered, and unasked frames end halts through the device interrupt',
    async () => {
      const port = await freePort();
      const args = netArgs(
        accel,
        'uk.net.selftest=1 uk.net.selftest.listen_ms=2000',
        `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:7`,
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
