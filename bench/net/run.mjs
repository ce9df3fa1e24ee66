#!/usr/bin/env node
// bench/net — networking benchmark (a benchmark, not a timed test; figures as ratios against
// baselines taken in the same run). The server is the http template (`ukernel init --template
// http`), built and packed once; the load generator is Debian's `wrk` (installed with apt-get
// when missing), the bulk client `curl`.
//
//   (a) cold start: `ukernel run --net user --publish 127.0.0.1:P:80` spawned → first 200 on
//       GET /healthz (N runs, median/p90), beside the same server as a host process; and the
//       guest's own entry → listening (the template's "listening" record on the events device).
//   (b) HTTP GET / under wrk (keep-alive, -t1 -cC -dS, --latency): req/s, p50, p99 against
//       (1) the guest over user networking, (2) the guest over a tap in a network namespace
//       the benchmark creates (root only; wrk runs inside it), (3) the host process on
//       loopback; ratios guest/host.
//   (c) TCP bulk, guest → host (GET /bytes?n=) and both ways (POST /echo, the body comes back),
//       Gbit/s by curl, over user and tap, beside the host process.
//   (d) under TCG on the same VMM (QEMU microvm): a minimal Linux guest built from Debian
//       packages (bench/net/linux-guest.mjs) serving the same server, vs ukernel: boot → first
//       200 and req/s.
// Load traffic goes only to 127.0.0.1 or into the namespace this benchmark creates. Every wait
// is bounded; VMs, servers and the namespace are removed on exit and on Ctrl-C.
//
// usage: node bench/net/run.mjs [--runs N] [--seconds S] [--connections C] [--bulk-mib M]
//                               [--accel auto|kvm|tcg] [--only a,b,c,d] [--no-tap] [--no-linux]
//                               [--quick] [--json]
// (--only: the sections to run, default all; b and c always run together.)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { failer, integerOption, kvmUsable } from '../lib.mjs';
import { buildHostServer } from './host-server.mjs';
import { curlBulk, freePort, waitFor200, waitFor200InNamespace } from './http.mjs';
import { buildInitramfs, hostTscKhz, LINUX_MEMORY_MIB, linuxParts, linuxQemuArgs } from './linux-guest.mjs';
import { onPath } from './apt.mjs';
import { createTapNamespace, tapUnavailable } from './netns.mjs';
import { installCleanup, onCleanup, startChild, stop } from './procs.mjs';
import { formatReport } from './report.mjs';
import { buildTemplate, GUEST_PORT, guestTimings, lastRunEvents, startUkernel } from './ukernel.mjs';
import { ensureWrk, runWrk } from './wrk.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const lib = await import(join(root, 'cli/dist/lib.js'));
const fail = failer('net');
const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    seconds: { type: 'string' },
    connections: { type: 'string', default: '10' },
    'bulk-mib': { type: 'string' },
    accel: { type: 'string', default: 'auto' },
    'no-tap': { type: 'boolean', default: false },
    'no-linux': { type: 'boolean', default: false },
    only: { type: 'string', default: 'a,b,c,d' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const integer = (name, text, min, max) => integerOption(fail, name, text, min, max);
const quick = values.quick;
const runs = integer('runs', values.runs ?? (quick ? '1' : '5'), 1, 100);
const seconds = integer('seconds', values.seconds ?? (quick ? '1' : '5'), 1, 60);
// The http template serves at most 100 connections at once (examples/http-server/README.md).
const connections = integer('connections', values.connections, 1, 100);
const bulkMib = integer('bulk-mib', values['bulk-mib'] ?? (quick ? '4' : '64'), 1, 1024);
const sections = new Set(values.only.split(','));
for (const section of sections)
  if (!['a', 'b', 'c', 'd'].includes(section)) fail(`--only takes a, b, c, d (comma-separated), got ${section}`);
if (sections.has('c')) sections.add('b'); // (b) and (c) run on the same started servers
const accel = values.accel === 'auto' ? (kvmUsable() ? 'kvm' : 'tcg') : values.accel;
if (!['kvm', 'tcg'].includes(accel)) fail(`--accel must be auto, kvm or tcg, got ${values.accel}`);

// Bounds: a guest or server that has not answered 200 by then has failed (TCG boots slowly).
const BOOT_DEADLINE_MS = { kvm: 30_000, tcg: 180_000 };
const BULK_TIMEOUT_MS = 120_000;
// The http template's limits (examples/http-server/README.md): GET /bytes answers at most
// 16 MiB, POST /echo takes bodies of at most 2 MiB.
const BYTES_ANSWER_MAX = 16 << 20;
const ECHO_BODY_MAX = 2 << 20;
const WRK_THREADS = 1; // 2 cores: one for wrk, one for the server (networking.md §7)
// Runs of (d): each boots two guests under TCG (a few seconds each).
const tcgRuns = Math.min(runs, 3);

const say = (message) => {
  if (!values.json || process.stderr.isTTY) process.stderr.write(`bench/net: ${message}\n`);
};
installCleanup();
const work = mkdtempSync(join(tmpdir(), 'ukernel-bench-net-'));
onCleanup(() => rmSync(work, { recursive: true, force: true }));

const result = {
  load_average_start: loadavg()[0],
  accel,
  runs,
  quick,
  wrk: { version: null, threads: WRK_THREADS, connections, seconds },
  bulk_bytes: bulkMib << 20,
  skipped: {},
  errors: {},
  cold_start: {},
  http: {},
  bulk: {},
  tcg: {},
};
const skip = (key, reason) => {
  result.skipped[key] = reason;
  say(`${key}: skipped: ${reason}`);
};
const failed = (key, err) => {
  result.errors[key] = err.message;
  say(`${key}: FAILED: ${err.message}`);
};

// ---------------------------------------------------------------- preparation
try {
  result.wrk.version = ensureWrk(say);
} catch (err) {
  fail(`wrk is needed and could not be installed: ${err.message}`);
}
say('building the http template (ukernel init --template http, build --release, pack)');
const template = await buildTemplate(root, work).catch((err) => ({ unavailable: err.message }));
if (template.unavailable) skip('ukernel', template.unavailable);
const host = template.unavailable ? { unavailable: 'no template to build' } : await buildHostServer(root, template.project, work);
if (host.unavailable) skip('host_process', host.unavailable);
let namespace = null;
if (values['no-tap']) skip('tap', '--no-tap');
else {
  const why = tapUnavailable();
  if (why !== null) skip('tap', why);
  else {
    try {
      namespace = createTapNamespace(say);
    } catch (err) {
      skip('tap', `cannot create the namespace and tap: ${err.message}`);
    }
  }
}
// Firecracker (tap only, KVM only): when `firecracker` is on PATH.
let firecracker = false;
if (namespace === null) skip('firecracker', 'needs the tap namespace');
else if (accel !== 'kvm') skip('firecracker', 'needs KVM');
else if (!onPath('firecracker')) skip('firecracker', 'no `firecracker` on PATH');
else firecracker = true;
let linux = null;
if (values['no-linux'] || !sections.has('d')) skip('linux_guest', values['no-linux'] ? '--no-linux' : 'not in --only');
else {
  try {
    const parts = linuxParts(say);
    const server = host.unavailable ? null : host.path;
    const tsc = hostTscKhz();
    linux = { parts, initramfs: buildInitramfs(parts, server), server, tscKhz: tsc?.khz ?? null };
    result.tcg.linux_tsc =
      tsc === null ? 'not known: the guest calibrates (may hang under load)' : `${tsc.khz} kHz from ${tsc.source}`;
    result.tcg.linux_kernel = parts.version;
    result.tcg.linux_server =
      server === null ? 'busybox httpd (no host build of the template server: see skipped)' : 'the template server (host build)';
    result.tcg.linux_same_server = server !== null;
  } catch (err) {
    skip('linux_guest', `cannot build the Linux guest: ${err.message}`);
  }
}
const echoFile = join(work, 'echo.bin');
writeFileSync(echoFile, randomBytes(Math.min(result.bulk_bytes, ECHO_BODY_MAX)));

// ---------------------------------------------------------------- servers
/** A started server: { url, ns, handle, stop() } — url is the base the clients use. */
async function startTarget(kind, { accelerator = accel } = {}) {
  const deadlineMs = BOOT_DEADLINE_MS[accelerator];
  const started = performance.timeOrigin + performance.now();
  let url;
  let ns = null;
  let handle;
  if (kind === 'ukernel-user') {
    const hostPort = await freePort();
    handle = startUkernel(root, { ...template, accel: accelerator, net: { kind: 'user', hostPort } });
    url = `http://127.0.0.1:${hostPort}`;
  } else if (kind === 'ukernel-tap' || kind === 'ukernel-fc-tap') {
    // Firecracker gets the second tap, so that both can be up at once in (b).
    const tap = namespace.taps[kind === 'ukernel-tap' ? 0 : 1];
    const vmm = kind === 'ukernel-tap' ? 'qemu' : 'firecracker';
    handle = startUkernel(root, { ...template, accel: accelerator, vmm, net: { kind: 'tap', namespace, tap } });
    url = `http://${tap.guestAddress}:${GUEST_PORT}`;
    ns = namespace.ns;
  } else if (kind === 'host') {
    const port = await freePort();
    const [file, args] = host.argv(port);
    handle = startChild(file, args, { cwd: work });
    url = `http://127.0.0.1:${port}`;
  } else if (kind === 'linux-user') {
    const port = await freePort();
    const netdev = `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:${GUEST_PORT}`;
    const args = linuxQemuArgs({ ...linux, netdev, address: '10.0.2.15/24', gateway: '10.0.2.2' });
    handle = startChild('qemu-system-x86_64', args, { cwd: work });
    url = `http://127.0.0.1:${port}`;
  } else if (kind === 'linux-tap') {
    const tap = namespace.taps[0];
    const netdev = `tap,id=n0,ifname=${tap.tap},script=no,downscript=no`;
    const address = `${tap.guestAddress}/${namespace.prefixBits}`;
    const args = linuxQemuArgs({ ...linux, netdev, address, gateway: tap.hostAddress });
    handle = startChild('ip', ['netns', 'exec', namespace.ns, 'qemu-system-x86_64', ...args], { cwd: work });
    url = `http://${tap.guestAddress}:${GUEST_PORT}`;
    ns = namespace.ns;
  } else throw new Error(`unknown target ${kind}`);
  const what = `${kind} (${accelerator})`;
  let answered;
  try {
    answered =
      ns === null
        ? await waitFor200(`${url}/healthz`, { deadlineMs, handle, what })
        : await waitFor200InNamespace(ns, `${url}/healthz`, { deadlineMs, handle, what });
  } catch (err) {
    await stop(handle);
    throw err;
  }
  return { url, ns, handle, first200_ms: answered - started, stop: () => stop(handle) };
}

// ---------------------------------------------------------------- (a) cold start
async function coldStart() {
  const kinds = [
    'ukernel-user',
    ...(namespace === null ? [] : ['ukernel-tap']),
    ...(firecracker ? ['ukernel-fc-tap'] : []),
    ...(host.unavailable ? [] : ['host']),
  ];
  for (let index = 0; index < runs; index++) {
    for (const kind of kinds) {
      const t = await startTarget(kind);
      await t.stop();
      const timings = kind === 'host' ? {} : guestTimings(lib, lastRunEvents(template.project));
      push(result.cold_start, kind, { first200_ms: t.first200_ms, ...timings });
    }
    progress(`(a) run ${index + 1}/${runs}`);
  }
}

// ---------------------------------------------------------------- (b) + (c) under load
async function underLoad() {
  const kinds = ['ukernel-user'];
  if (namespace !== null) kinds.push('ukernel-tap');
  if (firecracker) kinds.push('ukernel-fc-tap');
  if (!host.unavailable) kinds.push('host');
  const targets = {};
  try {
    for (const kind of kinds) {
      targets[kind] = await startTarget(kind).catch((err) => {
        failed(`start ${kind}`, err);
        return null;
      });
    }
    const live = kinds.filter((kind) => targets[kind] !== null);
    for (const kind of live) {
      // Warm-up (not recorded): connections, ARP, the guest's first allocations.
      await runWrk(targets[kind].ns, `${targets[kind].url}/`, { threads: WRK_THREADS, connections, seconds: 1 }).catch((err) =>
        failed(`wrk warm-up ${kind}`, err),
      );
    }
    for (let index = 0; index < runs; index++) {
      for (const kind of live) {
        const t = targets[kind];
        const w = await runWrk(t.ns, `${t.url}/`, { threads: WRK_THREADS, connections, seconds }).catch((err) => {
          failed(`wrk ${kind}`, err);
          return null;
        });
        if (w !== null) push(result.http, kind, w);
        await bulk(kind, t);
      }
      progress(`(b)(c) run ${index + 1}/${runs}`);
    }
  } finally {
    for (const t of Object.values(targets)) if (t !== null) await t.stop();
  }
}

/**
 * (c) on one started target: GET /bytes (the template answers at most BYTES_ANSWER_MAX per
 * request) — guest → host — and POST /echo (bodies up to ECHO_BODY_MAX), whose answer carries
 * the body back: both directions, counted as bytes up + bytes down over the whole time.
 */
async function bulk(kind, t) {
  const total = result.bulk_bytes;
  const getEach = Math.min(total, BYTES_ANSWER_MAX);
  const echoEach = Math.min(total, ECHO_BODY_MAX);
  try {
    const down = await curlBulk(t.ns, `${t.url}/bytes?n=${getEach}`, {
      count: Math.ceil(total / getEach),
      bytesEach: getEach,
      timeoutMs: BULK_TIMEOUT_MS,
    });
    push(result.bulk, kind, { guest_to_host_gbit_s: (down.bytes * 8) / down.seconds / 1e9 });
    const echo = await curlBulk(t.ns, `${t.url}/echo`, {
      count: Math.ceil(total / echoEach),
      bytesEach: echoEach,
      file: echoFile,
      timeoutMs: BULK_TIMEOUT_MS,
    });
    push(result.bulk, kind, { echo_both_ways_gbit_s: (2 * echo.bytes * 8) / echo.seconds / 1e9 });
  } catch (err) {
    failed(`bulk ${kind}`, err);
  }
}

// ---------------------------------------------------------------- (d) Linux guest vs ukernel, TCG
async function underTcg() {
  const kinds = [];
  if (!template.unavailable) kinds.push('ukernel-user', ...(namespace === null ? [] : ['ukernel-tap']));
  kinds.push('linux-user', ...(namespace === null ? [] : ['linux-tap']));
  for (let index = 0; index < tcgRuns; index++) {
    for (const kind of kinds) {
      const t = await startTarget(kind, { accelerator: 'tcg' }).catch((err) => {
        failed(`tcg ${kind}`, err);
        return null;
      });
      if (t === null) continue;
      try {
        const w = await runWrk(t.ns, `${t.url}/`, { threads: WRK_THREADS, connections, seconds });
        push(result.tcg, kind, { first200_ms: t.first200_ms, ...w });
      } catch (err) {
        failed(`tcg wrk ${kind}`, err);
      } finally {
        await t.stop();
      }
    }
    progress(`(d) run ${index + 1}/${tcgRuns}`);
  }
}

/** Appends each field of `sample` to the arrays in table[kind]. */
function push(table, kind, sample) {
  table[kind] ??= {};
  for (const [key, value] of Object.entries(sample)) {
    if (typeof value !== 'number') continue;
    table[kind][key] ??= [];
    table[kind][key].push(value);
  }
}

function progress(text) {
  if (!values.json && process.stderr.isTTY) process.stderr.write(`\r${text}   `);
}

if (!template.unavailable && sections.has('a')) await coldStart().catch((err) => failed('cold start', err));
if (!template.unavailable && sections.has('b')) await underLoad().catch((err) => failed('under load', err));
if (linux !== null && sections.has('d')) {
  await underTcg().catch((err) => failed('tcg', err));
}
if (!values.json && process.stderr.isTTY) process.stderr.write('\r');
result.linux_memory_mib = LINUX_MEMORY_MIB;
result.load_average_end = loadavg()[0];

if (values.json) process.stdout.write(`${JSON.stringify(formatReport(result).json, null, 2)}\n`);
else process.stdout.write(`${formatReport(result).lines.join('\n')}\n`);
process.exitCode = Object.keys(result.errors).length > 0 ? 1 : 0;
