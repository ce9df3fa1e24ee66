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
        phasesNs: [
          ['idt', 2_000],
          ['ready', 38_000],
        ] as const,
        readyNs: 38_000,
        kvmclockNs: null,
      },
    },
    exit: {
      atNs: 1_042_400_000n,
      record: {
        kind: 'exit' as const,
        status: 0,
        reason: 'return',
        eventsDropped: null,
        eventsFailed: null,
        interruptsUnexpected: null,
      },
    },
    vmmExit: { code: 1, signal: null, atNs: 1_045_000_000n },
  };
  const meta = { vmm: 'qemu' as const, accel: 'kvm' as const, kernel: '/k', consoleLog: '/logs/console.log' };

  it('derives host timings from record arrivals and phase.ready', () => {
    const report = buildReport(session, 0, meta);
    expect(report.host).toEqual({
      spawn_to_entry_ns: 41_262_000,
      entry_to_ready_ns: 38_000,
      entry_to_workload_ns: null,
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

  it('adds the workload start from @uk:workload records to the summary, phases and JSON', () => {
    const workloadStart = {
      atNs: 1_041_500_000n,
      record: {
        kind: 'workload' as const,
        event: 'start' as const,
        tNs: 2_500_000,
        status: null,
        stepsNs: [
          ['disk', 900_000],
          ['load', 1_000_000],
        ] as const,
      },
    };
    const workloadExit = {
      atNs: 1_042_300_000n,
      record: { kind: 'workload' as const, event: 'exit' as const, tNs: 3_000_000, status: 0, stepsNs: [] },
    };
    const report = buildReport({ ...session, workloadStart, workloadExit }, 0, {
      ...meta,
      image: '/p/dist/demo.img',
      runLog: '/logs/runs/x.log',
    });
    expect(report.host.entry_to_workload_ns).toBe(2_500_000);
    expect(report.workload).toEqual({
      start_ns: 2_500_000,
      exit_ns: 3_000_000,
      status: 0,
      steps_ns: { disk: 900_000, load: 1_000_000 },
    });
    expect(report.image).toBe('/p/dist/demo.img');
    expect(report.run_log).toBe('/logs/runs/x.log');
    expect(formatSummary(report)).toContain('entry → ready 38 µs · entry → workload start 2.5 ms · ready → exit');
    expect(formatPhases(report).join('\n')).toMatch(
      /workload start \(disk 900 µs, load 1 ms\) +2\.5 ms[\s\S]*workload exit, status 0/,
    );
  });
});
