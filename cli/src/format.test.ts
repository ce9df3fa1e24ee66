import { describe, expect, it } from 'vitest';
import { formatDuration } from './format.js';
import { buildReport, formatPhases, formatSummary } from './report.js';

describe('formatDuration', () => {
  it.each([
    [0, '0 ns'],
    [812, '812 ns'],
    [999.6, '1 µs'],
    [38_000, '38 µs'],
    [11_800, '11.8 µs'],
    [1_100_000, '1.1 ms'],
    [41_260_000, '41.3 ms'],
    [999_960, '1 ms'],
    [250_400_000, '250 ms'],
    [1_500_000_000, '1.5 s'],
    [123_000_000_000, '123 s'],
    [10n * 1_000_000_000n, '10 s'],
    [-1500, '-1.5 µs'],
  ])('%s ns → %s', (ns, text) => {
    expect(formatDuration(ns)).toBe(text);
  });
});

describe('run report', () => {
  const session = {
    spawnedAtNs: 1_000_000_000n,
    boot: {
      atNs: 1_041_300_000n,
      record: {
        kind: 'boot' as const,
        proto: 'pvh',
        clock: 'kvmclock',
        tscKhz: 2445406,
        phasesNs: [['idt', 2_000], ['ready', 38_000]] as const,
        readyNs: 38_000,
        kvmclockNs: null,
      },
    },
    exit: { atNs: 1_042_400_000n, record: { kind: 'exit' as const, status: 0, reason: 'return' } },
    vmmExit: { code: 1, signal: null, atNs: 1_045_000_000n },
  };
  const meta = { vmm: 'qemu' as const, accel: 'kvm' as const, kernel: '/k', consoleLog: '/logs/console.log' };

  it('derives host timings from record arrivals and phase.ready', () => {
    const report = buildReport(session, 0, meta);
    expect(report.host).toEqual({
      spawn_to_entry_ns: 41_262_000,
      entry_to_ready_ns: 38_000,
      ready_to_exit_ns: 1_100_000,
      total_ns: 45_000_000,
    });
    expect(report.boot?.phases_ns).toEqual({ idt: 2_000, ready: 38_000 });
    expect(formatSummary(report)).toBe(
      'ukernel: boot 41.3 ms on qemu/kvm · vmm start → kernel entry 41.3 ms · entry → ready 38 µs · ' +
        'ready → exit 1.1 ms · total 45 ms · status 0',
    );
    expect(formatPhases(report)).toHaveLength(3);
  });

  it('copes with a missing boot record and clamps impossible host times', () => {
    const report = buildReport({ ...session, boot: null }, 3, meta);
    expect(report.host.spawn_to_entry_ns).toBeNull();
    expect(report.host.ready_to_exit_ns).toBeNull();
    expect(formatSummary(report)).toBe('ukernel: no boot record on qemu/kvm · total 45 ms · status 3');
    const skewed = { ...session, boot: { ...session.boot, record: { ...session.boot.record, readyNs: 9e12 } } };
    expect(buildReport(skewed, 0, meta).host.spawn_to_entry_ns).toBe(0);
  });
});
