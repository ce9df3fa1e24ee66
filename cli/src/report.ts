// The end-of-run report: host-side timings derived from record arrival times plus the
// guest's own phase breakdown. Pure functions over a finished session.
import type { Accel } from './vmm/accel.js';
import type { NetworkReport } from './vmm/network.js';
import type { SessionResult, VmmName } from './vmm/session.js';
import { formatDuration } from './format.js';

export interface RunReport {
  status: number;
  vmm: VmmName;
  accel: Accel;
  kernel: string;
  /** The image attached as a disk, or null (`--kernel` runs). */
  image: string | null;
  console_log: string;
  /** This run's own log (logs/runs/…); console_log links to the latest. */
  run_log: string;
  /** The run's events device (logs/runs/….events), or null when none was attached. */
  events: string | null;
  /** Log and trace records the kernel dropped (`events_dropped` on `@uk:exit`), or null. */
  events_dropped: number | null;
  /** Device interrupts no driver claimed (`interrupts_unexpected` on `@uk:exit`), or null. */
  interrupts_unexpected: number | null;
  reason: string | null;
  /** The run's network (`--net`, `--publish`, addresses), or null without one. */
  network: NetworkReport | null;
  boot: {
    proto: string;
    clock: string;
    tsc_khz: number;
    kvmclock_ns: number | null;
    phases_ns: Record<string, number>;
  } | null;
  /** From the `@uk:workload` records: guest ns since kernel entry. */
  workload: {
    start_ns: number | null;
    exit_ns: number | null;
    status: number | null;
    /** The kernel's steps before the workload started (disk, image, load), ns each. */
    steps_ns: Record<string, number>;
  } | null;
  host: {
    /** VMM spawn → kernel entry: the host arrival of the first record (or events block) minus
     *  the guest time it was sent at. */
    spawn_to_entry_ns: number | null;
    entry_to_ready_ns: number | null;
    /** Kernel entry → the workload's main (guest clock). */
    entry_to_workload_ns: number | null;
    ready_to_exit_ns: number | null;
    /** VMM spawn → VMM exit. */
    total_ns: number;
  };
}

export function buildReport(
  result: Pick<SessionResult, 'spawnedAtNs' | 'boot' | 'exit' | 'vmmExit'> &
    Partial<Pick<SessionResult, 'workloadStart' | 'workloadExit' | 'entryAtNs'>>,
  status: number,
  meta: {
    vmm: VmmName;
    accel: Accel;
    kernel: string;
    consoleLog: string;
    runLog?: string;
    image?: string | null;
    events?: string | null;
    network?: NetworkReport | null;
  },
): RunReport {
  const { boot, exit } = result;
  const workloadStart = result.workloadStart ?? null;
  const workloadExit = result.workloadExit ?? null;
  // Host time of kernel entry: from the session (the first record that dates it), else from the
  // boot record's arrival, which is sent at `ready` when it travels on the console.
  const entryAtNs = result.entryAtNs ?? (boot === null ? null : boot.atNs - BigInt(boot.record.readyNs));
  const readyAtNs = entryAtNs === null || boot === null ? null : entryAtNs + BigInt(boot.record.readyNs);
  return {
    status,
    vmm: meta.vmm,
    accel: meta.accel,
    kernel: meta.kernel,
    image: meta.image ?? null,
    console_log: meta.consoleLog,
    run_log: meta.runLog ?? meta.consoleLog,
    events: meta.events ?? null,
    events_dropped: exit?.record.eventsDropped ?? null,
    interrupts_unexpected: exit?.record.interruptsUnexpected ?? null,
    reason: exit?.record.reason ?? null,
    network: meta.network === undefined || meta.network === null || meta.network.mode === 'none' ? null : meta.network,
    boot:
      boot === null
        ? null
        : {
            proto: boot.record.proto,
            clock: boot.record.clock,
            tsc_khz: boot.record.tscKhz,
            kvmclock_ns: boot.record.kvmclockNs,
            phases_ns: Object.fromEntries(boot.record.phasesNs),
          },
    workload:
      workloadStart === null && workloadExit === null
        ? null
        : {
            start_ns: workloadStart?.record.tNs ?? null,
            exit_ns: workloadExit?.record.tNs ?? null,
            status: workloadExit?.record.status ?? null,
            steps_ns: Object.fromEntries(workloadStart?.record.stepsNs ?? []),
          },
    host: {
      // Clamped: a guest with a mis-calibrated TSC must not yield a negative VMM start.
      spawn_to_entry_ns: entryAtNs === null || boot === null ? null : Math.max(0, Number(entryAtNs - result.spawnedAtNs)),
      entry_to_ready_ns: boot?.record.readyNs ?? null,
      entry_to_workload_ns: workloadStart?.record.tNs ?? null,
      ready_to_exit_ns: readyAtNs === null || exit === null ? null : Math.max(0, Number(exit.atNs - readyAtNs)),
      total_ns: Math.max(0, Number(result.vmmExit.atNs - result.spawnedAtNs)),
    },
  };
}

/** One line: `ukernel: boot 41.3 ms on qemu/kvm · vmm start → kernel entry 41.2 ms · …`. */
export function formatSummary(report: RunReport): string {
  const parts: string[] = [];
  const { host } = report;
  if (host.spawn_to_entry_ns !== null && host.entry_to_ready_ns !== null) {
    parts.push(`boot ${formatDuration(host.spawn_to_entry_ns + host.entry_to_ready_ns)} on ${report.vmm}/${report.accel}`);
    parts.push(`vmm start → kernel entry ${formatDuration(host.spawn_to_entry_ns)}`);
    parts.push(`entry → ready ${formatDuration(host.entry_to_ready_ns)}`);
    if (host.entry_to_workload_ns !== null) parts.push(`entry → workload start ${formatDuration(host.entry_to_workload_ns)}`);
  } else {
    parts.push(`no boot record on ${report.vmm}/${report.accel}`);
  }
  if (host.ready_to_exit_ns !== null) parts.push(`ready → exit ${formatDuration(host.ready_to_exit_ns)}`);
  parts.push(`total ${formatDuration(host.total_ns)}`);
  parts.push(`status ${report.status}${report.reason !== null && report.reason !== 'return' ? ` (${report.reason})` : ''}`);
  return `ukernel: ${parts.join(' · ')}`;
}

/** `--verbose`: the guest's phases, cumulative and as deltas. */
export function formatPhases(report: RunReport): string[] {
  if (report.boot === null) return [];
  const { boot } = report;
  const lines = [
    `ukernel: guest boot via ${boot.proto}, TSC ${boot.tsc_khz} kHz from ${boot.clock}` +
      (boot.kvmclock_ns !== null ? `, kvmclock at entry ${formatDuration(boot.kvmclock_ns)}` : ''),
  ];
  const entries = Object.entries(boot.phases_ns);
  const workload = report.workload;
  if (workload?.start_ns != null) {
    const steps = Object.entries(workload.steps_ns).map(([name, ns]) => `${name} ${formatDuration(ns)}`);
    entries.push([`workload start${steps.length > 0 ? ` (${steps.join(', ')})` : ''}`, workload.start_ns]);
  }
  if (workload?.exit_ns != null) entries.push([`workload exit, status ${workload.status}`, workload.exit_ns]);
  const width = Math.max(...entries.map(([name]) => name.length));
  let previous = 0;
  for (const [name, ns] of entries) {
    lines.push(`  ${name.padEnd(width)}  ${formatDuration(ns).padStart(9)}  (+${formatDuration(ns - previous)})`);
    previous = ns;
  }
  return lines;
}
