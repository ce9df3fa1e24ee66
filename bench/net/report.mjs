// bench/net's report: samples → summaries (median, p90, min, max), ratios against the baselines
// of the same run, the issue's targets beside them (printed, not asserted), as text or JSON.
import { cpus } from 'node:os';

/** Targets from issue 9 (under KVM on the development machine; TCG for the Linux comparison). */
export const TARGETS = {
  entry_to_listening_ms_max: 3,
  tap_req_s_vs_host_min: 0.5,
  tcg_req_s_vs_linux_min: 2,
};

const LABELS = {
  'ukernel-user': 'ukernel, user net',
  'ukernel-tap': 'ukernel, tap (netns)',
  'ukernel-fc-tap': 'ukernel on Firecracker, tap',
  host: 'host process, loopback',
  'linux-user': 'Linux guest, user net',
  'linux-tap': 'Linux guest, tap (netns)',
};

/** { median, p90, min, max, n } of `samples` (nearest-rank p90), or null when there are none. */
export function summary(samples) {
  if (!samples || samples.length === 0) return null;
  const sorted = [...samples].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  const p90 = sorted[Math.min(sorted.length - 1, Math.ceil(0.9 * sorted.length) - 1)];
  return { median, p90, min: sorted[0], max: sorted.at(-1), n: sorted.length };
}

function summarizeTable(table) {
  return Object.fromEntries(
    Object.entries(table).map(([kind, fields]) => [
      kind,
      Object.fromEntries(Object.entries(fields).map(([key, samples]) => [key, summary(samples)])),
    ]),
  );
}

const ratio = (a, b) => (a == null || b == null || b === 0 ? null : a / b);
const fixed = (x, digits) => (x == null ? '—' : x.toFixed(digits));
const met = (ok) => (ok === null ? 'not measured' : ok ? 'met' : 'NOT met');

/** Turns the raw `result` of run.mjs into { json, lines }. */
export function formatReport(result) {
  const cold = summarizeTable(result.cold_start);
  const http = summarizeTable(result.http);
  const bulk = summarizeTable(result.bulk);
  const tcgRaw = Object.fromEntries(Object.entries(result.tcg).filter(([, v]) => typeof v === 'object'));
  const tcg = summarizeTable(tcgRaw);
  const med = (table, kind, key) => table[kind]?.[key]?.median ?? null;
  const ratios = {
    first200_ukernel_vs_host: ratio(med(cold, 'ukernel-user', 'first200_ms'), med(cold, 'host', 'first200_ms')),
    req_s_user_vs_host: ratio(med(http, 'ukernel-user', 'req_s'), med(http, 'host', 'req_s')),
    req_s_tap_vs_host: ratio(med(http, 'ukernel-tap', 'req_s'), med(http, 'host', 'req_s')),
    req_s_fc_tap_vs_host: ratio(med(http, 'ukernel-fc-tap', 'req_s'), med(http, 'host', 'req_s')),
    tcg_req_s_ukernel_vs_linux: ratio(med(tcg, 'ukernel-user', 'req_s'), med(tcg, 'linux-user', 'req_s')),
    tcg_req_s_ukernel_vs_linux_tap: ratio(med(tcg, 'ukernel-tap', 'req_s'), med(tcg, 'linux-tap', 'req_s')),
    tcg_first200_linux_vs_ukernel: ratio(med(tcg, 'linux-user', 'first200_ms'), med(tcg, 'ukernel-user', 'first200_ms')),
  };
  const sameServer = result.tcg.linux_same_server === true;
  const atMost = (x, max) => (x === null ? null : x <= max);
  const atLeast = (x, min) => (x === null ? null : x >= min);
  const targets = {
    ...TARGETS,
    entry_to_listening_tap: atMost(med(cold, 'ukernel-tap', 'listening_ms'), TARGETS.entry_to_listening_ms_max),
    entry_to_listening_user: atMost(med(cold, 'ukernel-user', 'listening_ms'), TARGETS.entry_to_listening_ms_max),
    tap_req_s_vs_host: atLeast(ratios.req_s_tap_vs_host, TARGETS.tap_req_s_vs_host_min),
    // Only like for like: with busybox httpd in the Linux guest the ratio compares two servers.
    tcg_req_s_vs_linux_user: sameServer ? atLeast(ratios.tcg_req_s_ukernel_vs_linux, TARGETS.tcg_req_s_vs_linux_min) : null,
    tcg_req_s_vs_linux_tap: sameServer ? atLeast(ratios.tcg_req_s_ukernel_vs_linux_tap, TARGETS.tcg_req_s_vs_linux_min) : null,
  };
  const json = {
    load_average: { start: result.load_average_start, end: result.load_average_end },
    accel: result.accel,
    runs: result.runs,
    quick: result.quick,
    wrk: result.wrk,
    bulk_bytes: result.bulk_bytes,
    cold_start: cold,
    http,
    bulk,
    tcg: {
      linux_kernel: result.tcg.linux_kernel ?? null,
      linux_server: result.tcg.linux_server ?? null,
      linux_tsc: result.tcg.linux_tsc ?? null,
      linux_same_server: result.tcg.linux_same_server ?? null,
      ...tcg,
    },
    ratios,
    targets,
    skipped: result.skipped,
    errors: result.errors,
  };
  return { json, lines: textLines(result, json) };
}

function statsLine(label, s, unit, digits) {
  if (s == null) return `  ${label.padEnd(34)} not measured`;
  const f = (x) => x.toFixed(digits).padStart(9);
  return `  ${label.padEnd(34)} ${f(s.median)} ${f(s.p90)} ${f(s.min)} ${f(s.max)}  ${unit}`;
}

function textLines(result, j) {
  const { wrk } = result;
  const lines = [];
  lines.push(
    `bench/net: accel ${j.accel}, ${j.runs} run(s)${j.quick ? ' (--quick)' : ''}; ${wrk.version ?? 'wrk'}: ` +
      `-t${wrk.threads} -c${wrk.connections} -d${wrk.seconds}s --latency (keep-alive), GET /; bulk ${j.bulk_bytes >> 20} MiB by curl`,
  );
  const load = j.load_average;
  lines.push(
    `  1-min load average ${load.start.toFixed(2)} at start, ${load.end.toFixed(2)} at end, on ${cpus().length} CPUs: ` +
      'client, server and anything else running share them; compare figures within one run',
  );
  lines.push(`(a) cold start (${j.accel}): spawn → first 200 on GET /healthz; the guest's own clock from kernel entry`);
  lines.push(`${' '.repeat(36)}    median       p90       min       max`);
  const c = j.cold_start;
  const names = {
    'ukernel-user': 'ukernel run, user net',
    'ukernel-tap': 'ukernel run, tap',
    'ukernel-fc-tap': 'ukernel run, FC tap',
  };
  for (const kind of ['ukernel-user', 'ukernel-tap', 'ukernel-fc-tap', 'host']) {
    const name = names[kind] ?? 'host process';
    if (c[kind] === undefined) {
      lines.push(`  ${`${name} → first 200`.padEnd(34)} not measured${skipNote(result, kind)}`);
      continue;
    }
    lines.push(statsLine(`${name} → first 200`, c[kind].first200_ms, 'ms', 1));
    if (kind === 'host') continue;
    lines.push(statsLine('  guest entry → ready (boot record)', c[kind].ready_ms, 'ms', 3));
    lines.push(statsLine('  guest entry → address configured', c[kind].net_ms, 'ms', 3));
    lines.push(statsLine('    of which configuration', c[kind].net_config_ms, 'ms', 3));
    lines.push(statsLine('  guest entry → workload main', c[kind].start_ms, 'ms', 3));
    const steps = Object.keys(c[kind]).filter((key) => /^step_\w+_ms$/.test(key));
    if (steps.length > 0) {
      const medians = steps.map((key) => `${key.slice(5, -3)} ${c[kind][key].median.toFixed(3)}`);
      lines.push(`      steps before main (median ms): ${medians.join(', ')}`);
    }
    lines.push(statsLine('  guest entry → listening', c[kind].listening_ms, 'ms', 3));
  }
  lines.push(`  first 200, ukernel (user net) ÷ host process: ${fixed(j.ratios.first200_ukernel_vs_host, 1)}×`);
  lines.push(
    `  target entry → listening ≤ ${TARGETS.entry_to_listening_ms_max} ms (KVM): tap (static address) ` +
      `${met(j.targets.entry_to_listening_tap)}, user net (DHCP) ${met(j.targets.entry_to_listening_user)}`,
  );
  lines.push(`(b) HTTP GET / under wrk                 req/s (median   min    max)   p50 ms   p99 ms   ÷ host`);
  for (const kind of ['ukernel-user', 'ukernel-tap', 'ukernel-fc-tap', 'host']) {
    const h = j.http[kind];
    if (h === undefined) {
      lines.push(`  ${LABELS[kind].padEnd(34)} not measured${skipNote(result, kind)}`);
      continue;
    }
    const vsHost = kind === 'host' ? 1 : ratio(h.req_s?.median, j.http.host?.req_s?.median);
    lines.push(
      `  ${LABELS[kind].padEnd(34)} ${fixed(h.req_s.median, 0).padStart(9)} ${fixed(h.req_s.min, 0).padStart(6)} ` +
        `${fixed(h.req_s.max, 0).padStart(6)}  ${fixed(h.p50_ms?.median, 3).padStart(8)} ${fixed(h.p99_ms?.median, 3).padStart(8)}` +
        `   ${vsHost === null ? '—' : `${vsHost.toFixed(2)}×`}`,
    );
  }
  lines.push(`  target: tap ≥ ${TARGETS.tap_req_s_vs_host_min}× the host process: ${met(j.targets.tap_req_s_vs_host)}`);
  lines.push(`(c) TCP bulk (curl), Gbit/s median (min–max)   GET /bytes (guest → host)  POST /echo (both ways)`);
  for (const kind of ['ukernel-user', 'ukernel-tap', 'ukernel-fc-tap', 'host']) {
    const b = j.bulk[kind];
    const cell = (s) =>
      s == null ? '—'.padEnd(20) : `${s.median.toFixed(3)} (${s.min.toFixed(3)}–${s.max.toFixed(3)})`.padEnd(20);
    if (b === undefined) lines.push(`  ${LABELS[kind].padEnd(44)} not measured${skipNote(result, kind)}`);
    else lines.push(`  ${LABELS[kind].padEnd(44)} ${cell(b.guest_to_host_gbit_s)}       ${cell(b.echo_both_ways_gbit_s)}`);
  }
  lines.push(
    `(d) TCG, QEMU microvm, 1 vCPU: ${j.tcg.linux_kernel ?? 'no Linux guest'} serving ${j.tcg.linux_server ?? '—'}, vs ukernel`,
  );
  if (j.tcg.linux_tsc !== null) lines.push(`  Linux guest: 256 MiB, static address, tsc_early_khz ${j.tcg.linux_tsc}`);
  lines.push(`${' '.repeat(36)}boot → first 200 ms (median)   req/s    p50 ms   p99 ms`);
  for (const kind of ['ukernel-user', 'linux-user', 'ukernel-tap', 'linux-tap']) {
    const t = j.tcg[kind];
    if (t === undefined) lines.push(`  ${LABELS[kind].padEnd(34)} not measured${skipNote(result, kind)}`);
    else
      lines.push(
        `  ${LABELS[kind].padEnd(34)} ${fixed(t.first200_ms?.median, 1).padStart(12)}${' '.repeat(16)} ${fixed(t.req_s?.median, 0).padStart(7)}` +
          ` ${fixed(t.p50_ms?.median, 3).padStart(9)} ${fixed(t.p99_ms?.median, 3).padStart(8)}`,
      );
  }
  lines.push(
    `  req/s ukernel ÷ Linux: user net ${fixed(j.ratios.tcg_req_s_ukernel_vs_linux, 2)}×, ` +
      `tap ${fixed(j.ratios.tcg_req_s_ukernel_vs_linux_tap, 2)}×; boot → 200 Linux ÷ ukernel: ` +
      `${fixed(j.ratios.tcg_first200_linux_vs_ukernel, 1)}×`,
  );
  if (j.tcg.linux_kernel !== null && result.tcg.linux_same_server !== true) {
    lines.push(
      `  target req/s ≥ ${TARGETS.tcg_req_s_vs_linux_min}× the Linux guest: not assessed (the Linux guest serves busybox httpd)`,
    );
  } else {
    lines.push(
      `  target req/s ≥ ${TARGETS.tcg_req_s_vs_linux_min}× the Linux guest: user net ${met(j.targets.tcg_req_s_vs_linux_user)}, ` +
        `tap ${met(j.targets.tcg_req_s_vs_linux_tap)}`,
    );
  }
  for (const [key, reason] of Object.entries(j.skipped)) lines.push(`skipped ${key}: ${reason}`);
  for (const [key, message] of Object.entries(j.errors)) lines.push(`FAILED ${key}: ${message.split('\n')[0]}`);
  return lines;
}

function skipNote(result, kind) {
  const keys = [
    kind === 'host' ? 'host_process' : kind.startsWith('linux') ? 'linux_guest' : 'ukernel',
    ...(kind.endsWith('-tap') ? ['tap'] : []),
    ...(kind === 'ukernel-fc-tap' ? ['firecracker'] : []),
  ];
  const skipped = keys.filter((key) => result.skipped[key]);
  return skipped.length === 0 ? '' : ` (${skipped.join(', ')} skipped)`;
}
