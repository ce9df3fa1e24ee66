#!/usr/bin/env node
// bench/python — the Python adapter's figures (issue 10, Deliver 8). A benchmark, not a timed
// test: it prints figures beside baselines measured in the same run, interleaved so that the
// machine's load falls on both sides alike, and asserts nothing. bench/python/README.md has the
// method and the last figures.
//
//   (a) start-up: guest kernel entry → first line of main.py and → `import asyncio` done (the
//       guest's own clock: time.monotonic_ns() is ns since kernel entry), and `ukernel run` wall
//       of the worker template; beside `python3 -I -c pass` / `-I -c 'import asyncio'` (wall,
//       spawn → exit) of the machine's python3 and of the runtime's host python3.13;
//   (b) pyperformance benchmarks (pyperformance 1.11.0's own files, taken from its PyPI wheel,
//       pinned by sha256 and fetched at run time: never committed; through the
//       pyperf stand-in guest/pyperf.py) in the guest vs the runtime's host python3.13 (the same
//       CPython source and flags, built for the host): seconds per loop, host ÷ guest;
//       The worker template is also run with the system libraries built in (`ukernel env add
//       --system openssl sqlite`, issue 11), interleaved with the plain one: what they cost.
//   (c) the worker template's image size (and its parts) and the least --memory it runs in,
//       and the image size with the system libraries;
//   (d) the asyncio HTTP server guest/server.py: req/s under wrk in the guest (user networking,
//       a published port) vs the same file on the host python3.13 and python3 (loopback).
//
// usage: node bench/python/run.mjs [--runs N] [--rounds N] [--seconds S] [--only a,b,c,d]
//                                  [--quick] [--json]
// Needs: the built CLI (node cli/build.mjs), the kernel (bash scripts/build-kernel.sh), KVM for
// the targets' figures, `wrk` for (d) (installed with apt-get when missing, as bench/net does).
import { readFileSync, rmSync, statSync, mkdtempSync, mkdirSync, cpSync, existsSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { failer, integerOption, kvmUsable, run, stats } from '../lib.mjs';
import { freePort, waitFor200 } from '../net/http.mjs';
import { installCleanup, onCleanup, startChild, stop } from '../net/procs.mjs';
import { ensureWrk, runWrk } from '../net/wrk.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const here = join(root, 'bench/python');
const lib = await import(join(root, 'cli/dist/lib.js'));
const cli = join(root, 'cli/bin/ukernel.mjs');
const fail = failer('python');

const { values } = parseArgs({
  options: {
    runs: { type: 'string' },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    only: { type: 'string', default: 'a,b,c,d' },
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const integer = (name, text, min, max) => integerOption(fail, name, text, min, max);
const quick = values.quick;
const runs = integer('runs', values.runs ?? (quick ? '3' : '10'), 1, 100); // (a) boots, (d) wrk runs
const rounds = integer('rounds', values.rounds ?? (quick ? '1' : '3'), 1, 20); // (b) guest/host pairs
const seconds = integer('seconds', values.seconds ?? (quick ? '2' : '5'), 1, 60); // (d) wrk -d
const sections = new Set(values.only.split(','));
for (const s of sections) if (!['a', 'b', 'c', 'd'].includes(s)) fail(`--only takes a, b, c, d, got ${s}`);
const accel = kvmUsable() ? 'kvm' : 'tcg';

// Issue 10's targets (under KVM on the development machine), printed beside the figures.
const TARGETS = { entry_to_first_line_ms_max: 15, speed_vs_host_min: 0.95, image_mb_max: 12, memory_mib_max: 32 };
// (b): pyperformance benchmarks and their outer loops (each run ≥ ~0.1 s here, pyperf's
// min-time; fixed so that guest and host time the same work), timed runs per process.
const PYPERF = { nbody: 1, richards: 2, json_dumps: 4, json_loads: 128, regex_effbot: 4, async_tree: 1 };
const PYPERF_RUNS = quick ? 2 : 3;
const GUEST_PORT = 8080;
const BENCH_MEMORY_MIB = 256;
const RUN_TIMEOUT_MS = 120_000;
const BUILD_TIMEOUT_MS = 3_600_000; // the first build may build the adapter runtime
const MEMORY_MIB_MIN = 16; // `ukernel run --memory` bounds
const MEMORY_MIB_START = 128;
const BOOT_DEADLINE_MS = 30_000;

const say = (message) => {
  if (!values.json || process.stderr.isTTY) process.stderr.write(`bench/python: ${message}\n`);
};
installCleanup();
const work = mkdtempSync(join(tmpdir(), 'ukernel-bench-python-'));
onCleanup(() => rmSync(work, { recursive: true, force: true }));
const result = { load_average_start: loadavg()[0], accel, runs, rounds, seconds, quick, errors: {} };

// ------------------------------------------------------------------ preparation
async function ukernel(args, cwd, timeoutMs = RUN_TIMEOUT_MS) {
  const r = await run(process.execPath, [cli, ...args], { cwd, timeoutMs });
  if (r.code !== 0) throw new Error(`ukernel ${args.join(' ')} exited ${r.code}:\n${(r.stderr || r.stdout).trim().slice(-1500)}`);
  return r;
}

/**
 * `ukernel init --template worker` in work/NAME, its src/ replaced by `src` when given, the
 * system libraries `system` added (env add --system: builds that runtime the first time); built
 * and packed.
 */
async function project(name, src, system = []) {
  const dir = join(work, name);
  mkdirSync(dir);
  await ukernel(['init', '--name', name, '--lang', 'python', '--template', 'worker'], dir);
  if (system.length > 0) await ukernel(['env', 'add', '--system', ...system], dir, BUILD_TIMEOUT_MS);
  if (src) {
    rmSync(join(dir, 'src'), { recursive: true });
    cpSync(src, join(dir, 'src'), { recursive: true, filter: (p) => !p.includes('__pycache__') });
  }
  await ukernel(['build'], dir, BUILD_TIMEOUT_MS);
  await ukernel(['pack'], dir);
  const runtime = JSON.parse(readFileSync(join(dir, 'build/adapter/python-3.13/runtime.json'), 'utf8'));
  return { dir, image: join(dir, `dist/${name}.img`), runtime };
}

/** pyperformance's wheel on PyPI: the benchmarks (b) runs, taken from it unchanged. */
const PYPERFORMANCE = {
  version: '1.11.0',
  wheel: 'pyperformance-1.11.0-py3-none-any.whl',
  sha256: '4558f6d1fa218279d679e2bef49eb9c8dfb284c58f29ec11828654be9ddc571a',
};

/**
 * The benchmark program's src/: guest/ plus pyperformance/bm_NAME.py for each benchmark, taken
 * from pyperformance's wheel (downloaded once with pip into ~/.cache/ukernel/bench, checked
 * against its pinned sha256 on every use; third-party code stays out of the repository).
 */
function benchSources() {
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ukernel', 'bench');
  mkdirSync(cache, { recursive: true });
  const wheel = join(cache, PYPERFORMANCE.wheel);
  const verified = () =>
    existsSync(wheel) && createHash('sha256').update(readFileSync(wheel)).digest('hex') === PYPERFORMANCE.sha256;
  if (!verified()) {
    rmSync(wheel, { force: true });
    execFileSync(
      'python3',
      [
        '-m',
        'pip',
        'download',
        '--isolated',
        '--no-deps',
        '--only-binary=:all:',
        '-q',
        '-d',
        cache,
        `pyperformance==${PYPERFORMANCE.version}`,
      ],
      { stdio: 'inherit', timeout: 300_000 },
    );
    if (!verified()) throw new Error(`${wheel}: sha256 is not the pinned ${PYPERFORMANCE.sha256}`);
  }
  const src = join(work, 'pybench-src');
  cpSync(join(here, 'guest'), src, { recursive: true, filter: (p) => !p.includes('__pycache__') });
  mkdirSync(join(src, 'pyperformance'), { recursive: true });
  const names = Object.keys(PYPERF);
  execFileSync(
    'python3',
    [
      '-c',
      `import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for name in sys.argv[3:]:
    path = f"pyperformance/data-files/benchmarks/bm_{name}/run_benchmark.py"
    open(f"{sys.argv[2]}/bm_{name}.py", "wb").write(z.read(path))
`,
      wheel,
      join(src, 'pyperformance'),
      ...names,
    ],
    { stdio: 'inherit', timeout: 60_000 },
  );
  return src;
}

say('building the worker template and the benchmark program (ukernel init, build, pack)');
const worker = await project('pyworker');
const workerSystem =
  sections.has('a') || sections.has('c') ? await project('pyworker-system', undefined, ['openssl', 'sqlite']) : null;
const benchSrc = benchSources();
const bench = await project('pybench', benchSrc);
const python313 = join(bench.runtime.runtime.dir, 'host/bin/python3.13');
const hostPythons = [{ label: 'python3.13 (runtime host build)', path: python313 }];
const machine = machinePythons();
hostPythons.push(...machine.filter((p) => p.path !== python313));
for (const p of hostPythons)
  p.version = execFileSync(p.path, ['-I', '-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim();
result.host_pythons = hostPythons.map(({ label, path, version }) => ({ label, path, version }));

/** The machine's python3 (the executable behind PATH's, e.g. through a pyenv shim) and /usr/bin/python3. */
function machinePythons() {
  const found = [];
  const add = (label, path) => {
    if (path && !found.some((p) => p.path === path)) found.push({ label, path });
  };
  try {
    add('python3 (PATH)', execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim());
  } catch {
    /* no python3 on PATH */
  }
  if (existsSync('/usr/bin/python3'))
    add('/usr/bin/python3', execFileSync('readlink', ['-f', '/usr/bin/python3'], { encoding: 'utf8' }).trim());
  return found;
}

/** The records of the run `report` (ukernel run --json) from its events device. */
function runRecords(report) {
  const file = readFileSync(report.events);
  return lib.decodeEvents(lib.bufferSource(file)).records;
}

/** The workload's console output of a run, as text, and the first output record's t_ns (ms). */
function runOutput(report) {
  const outputs = runRecords(report).filter((r) => r.kind === 'output');
  return { text: outputs.map((r) => r.bytes.toString('utf8')).join(''), first_ms: outputs.length ? outputs[0].tNs / 1e6 : null };
}

async function guestRun(p, args, { memory = BENCH_MEMORY_MIB } = {}) {
  const r = await ukernel(
    ['run', '--image', p.image, '--accel', accel, '--memory', String(memory), '--json', '--', ...args],
    p.dir,
  );
  const report = JSON.parse(r.stdout);
  if (report.status !== 0) throw new Error(`guest ${args.join(' ')} exited with status ${report.status}`);
  return { wall_ms: r.ms, report, ...runOutput(report) };
}

async function hostRun(path, args) {
  const r = await run(path, args, { cwd: work, timeoutMs: RUN_TIMEOUT_MS });
  if (r.code !== 0) throw new Error(`${path} ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(-500)}`);
  return r;
}

const push = (table, key, value) => {
  if (value === null || value === undefined) return;
  if (table[key] === undefined) table[key] = [];
  table[key].push(value);
};
const progress = (message) => {
  if (!values.json && process.stderr.isTTY) process.stderr.write(`\r${message}      `);
};

// ------------------------------------------------------------------ (a) start-up
async function startup() {
  const samples = {};
  for (let index = 0; index < runs; index++) {
    const g = await guestRun(bench, ['startup'], { memory: 128 });
    const match = /uk-bench startup first_line_ns=(\d+) asyncio_ns=(\d+)/.exec(g.text);
    if (match === null) throw new Error(`the startup program printed no times: ${g.text.slice(0, 300)}`);
    push(samples, 'guest_first_line_ms', Number(match[1]) / 1e6);
    push(samples, 'guest_asyncio_ms', Number(match[2]) / 1e6);
    push(samples, 'guest_workload_start_ms', g.report.workload.start_ns / 1e6);
    for (const [step, ns] of Object.entries(g.report.workload.steps_ns ?? {})) push(samples, `guest_step_${step}_ms`, ns / 1e6);
    push(samples, 'bench_run_wall_ms', g.wall_ms);
    const w = await guestRun(worker, [], { memory: 128 });
    if (!w.text.includes('pipeline done')) throw new Error(`the worker template did not finish: ${w.text.slice(-300)}`);
    push(samples, 'worker_run_wall_ms', w.wall_ms);
    push(samples, 'worker_workload_start_ms', w.report.workload.start_ns / 1e6);
    push(samples, 'worker_first_output_ms', w.first_ms);
    push(samples, 'worker_exit_ms', w.report.workload.exit_ns / 1e6);
    const ws = await guestRun(workerSystem, [], { memory: 128 });
    if (!ws.text.includes('pipeline done'))
      throw new Error(`the worker with openssl, sqlite did not finish: ${ws.text.slice(-300)}`);
    push(samples, 'worker_system_run_wall_ms', ws.wall_ms);
    push(samples, 'worker_system_workload_start_ms', ws.report.workload.start_ns / 1e6);
    push(samples, 'worker_system_first_output_ms', ws.first_ms);
    for (const [i, p] of hostPythons.entries()) {
      push(samples, `host${i}_pass_ms`, (await hostRun(p.path, ['-I', '-c', 'pass'])).ms);
      push(samples, `host${i}_asyncio_ms`, (await hostRun(p.path, ['-I', '-c', 'import asyncio'])).ms);
    }
    progress(`(a) run ${index + 1}/${runs}`);
  }
  result.startup = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v, 3)]));
}

// ------------------------------------------------------------------ (b) pyperformance
async function pyperf() {
  const specs = Object.entries(PYPERF).map(([name, loops]) => `${name}=${loops}`);
  const args = ['pyperf', String(PYPERF_RUNS), ...specs];
  const guest = {};
  const host = {};
  const parse = (text, into) => {
    for (const match of text.matchAll(/^uk-bench pyperf (\{.*\})$/gm)) {
      const r = JSON.parse(match[1]);
      for (const s of r.seconds) push(into, r.name, s);
    }
  };
  for (let index = 0; index < rounds; index++) {
    parse((await guestRun(bench, args)).text, guest);
    parse((await hostRun(python313, ['-I', '-B', join(benchSrc, 'main.py'), ...args])).stdout, host);
    progress(`(b) round ${index + 1}/${rounds}`);
  }
  result.pyperf = {};
  for (const name of Object.keys(host)) {
    if (!guest[name]) continue;
    const g = stats(
      guest[name].map((s) => s * 1e3),
      4,
    );
    const h = stats(
      host[name].map((s) => s * 1e3),
      4,
    );
    // Medians, and minimums: on a loaded machine the fastest run is the one least disturbed.
    result.pyperf[name] = {
      guest_ms: g,
      host_ms: h,
      speed_vs_host: h.median / g.median,
      speed_vs_host_min: h.min / g.min,
      samples: guest[name].length,
    };
  }
}

// ------------------------------------------------------------------ (c) image size, memory
async function sizes() {
  const zip = worker.runtime.stdlib_zip.path;
  result.image = {
    image_bytes: statSync(worker.image).size,
    python_bytes: statSync(join(worker.dir, 'build/adapter/python-3.13/python')).size,
    stdlib_zip_bytes: statSync(zip).size,
    system_image_bytes: statSync(workerSystem.image).size,
    system_python_bytes: statSync(join(workerSystem.dir, 'build/adapter/python-3.13/python')).size,
  };
  // Bisect the least --memory (MiB) the template runs in: status 0 and its last line printed.
  const runsIn = async (mib) => {
    try {
      const w = await guestRun(worker, [], { memory: mib });
      return w.text.includes('pipeline done');
    } catch {
      return false;
    }
  };
  let low = MEMORY_MIB_MIN - 1; // fails (or below the CLI's minimum)
  let high = MEMORY_MIB_START; // runs
  if (!(await runsIn(high))) throw new Error(`the worker template does not run in ${high} MiB`);
  if (await runsIn(MEMORY_MIB_MIN)) high = MEMORY_MIB_MIN;
  for (let step = 0; step < 8 && high - low > 1; step++) {
    const middle = Math.floor((low + high) / 2);
    if (await runsIn(middle)) high = middle;
    else low = middle;
    progress(`(c) memory: runs in ${high} MiB, not in ${low}`);
  }
  result.image.memory_mib_min = high;
}

// ------------------------------------------------------------------ (d) asyncio HTTP server
async function server() {
  result.wrk_version = ensureWrk(say);
  const targets = {};
  const started = [];
  try {
    const guestPort = await freePort();
    const handle = startChild(
      process.execPath,
      [
        cli,
        'run',
        '--image',
        bench.image,
        '--accel',
        accel,
        '--memory',
        String(BENCH_MEMORY_MIB),
        '--net',
        'user',
        '--publish',
        `127.0.0.1:${guestPort}:${GUEST_PORT}`,
        '--',
        'server',
        String(GUEST_PORT),
      ],
      { cwd: bench.dir },
    );
    started.push(handle);
    targets.guest = { url: `http://127.0.0.1:${guestPort}`, handle, label: 'guest, user net' };
    for (const [i, p] of hostPythons.entries()) {
      const port = await freePort();
      const h = startChild(p.path, ['-I', '-B', join(benchSrc, 'main.py'), 'server', String(port)], { cwd: work });
      started.push(h);
      targets[`host${i}`] = { url: `http://127.0.0.1:${port}`, handle: h, label: `${p.label}, loopback` };
    }
    for (const [key, t] of Object.entries(targets)) {
      await waitFor200(`${t.url}/healthz`, { deadlineMs: BOOT_DEADLINE_MS, handle: t.handle, what: key });
      await runWrk(null, `${t.url}/`, { threads: 1, connections: 10, seconds: 1 }); // warm-up
    }
    const samples = {};
    for (let index = 0; index < runs; index++) {
      for (const [key, t] of Object.entries(targets)) {
        const w = await runWrk(null, `${t.url}/`, { threads: 1, connections: 10, seconds });
        if (w.errors > 0 || w.non2xx > 0) result.errors[`wrk ${key}`] = `${w.errors} socket errors, ${w.non2xx} non-2xx`;
        push(samples, `${key}_req_s`, w.req_s);
        push(samples, `${key}_p50_ms`, w.p50_ms);
        push(samples, `${key}_p99_ms`, w.p99_ms);
      }
      progress(`(d) run ${index + 1}/${runs}`);
    }
    result.server = {
      labels: Object.fromEntries(Object.entries(targets).map(([k, t]) => [k, t.label])),
      ...Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v, 3)])),
    };
  } finally {
    for (const h of started) await stop(h);
  }
}

for (const [section, fn] of [
  ['a', startup],
  ['b', pyperf],
  ['c', sizes],
  ['d', server],
]) {
  if (!sections.has(section)) continue;
  try {
    await fn();
  } catch (err) {
    result.errors[section] = err.message;
    say(`(${section}) FAILED: ${err.message}`);
  }
}
if (!values.json && process.stderr.isTTY) process.stderr.write('\r\n');
result.load_average_end = loadavg()[0];
if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
else console.log(report(result).join('\n'));

// ------------------------------------------------------------------ report
function report(r) {
  const lines = [];
  const f = (x, d = 1) => (x === null || x === undefined ? '—' : x.toFixed(d));
  const cell = (s, d = 1) =>
    s ? `${f(s.median, d).padStart(9)} ${f(s.min, d).padStart(9)} ${f(s.max, d).padStart(9)}` : '  not measured';
  const met = (ok) => (ok ? 'met' : 'NOT met');
  lines.push(
    `bench/python: accel ${r.accel}; (a) ${r.runs} boots, (b) ${r.rounds} rounds × ${PYPERF_RUNS} runs, (d) ${r.runs} × wrk -t1 -c10 -d${r.seconds}s`,
  );
  lines.push(
    `  1-min load average ${r.load_average_start.toFixed(2)} at start, ${r.load_average_end.toFixed(2)} at end, on ${cpus().length} CPUs`,
  );
  for (const p of r.host_pythons ?? []) lines.push(`  host: ${p.label} = ${p.path} (${p.version})`);
  const header = `${''.padEnd(48)}   median       min       max`;
  if (r.startup) {
    const s = r.startup;
    lines.push('(a) start-up, ms (guest: its own clock from kernel entry; host: wall, spawn → exit)', header);
    const row = (label, key, d = 1) => lines.push(`  ${label.padEnd(46)} ${cell(s[key], d)}`);
    row('guest entry → workload start (kernel loaded it)', 'guest_workload_start_ms');
    const steps = Object.keys(s).filter((k) => k.startsWith('guest_step_'));
    for (const k of steps) row(`  step ${k.slice(11, -3)}`, k, 2);
    row('guest entry → first line of main.py', 'guest_first_line_ms');
    row('guest entry → import asyncio done', 'guest_asyncio_ms');
    for (const [i, p] of (r.host_pythons ?? []).entries()) {
      row(`${p.label.split(' ')[0]} ${p.version} -I -c pass`, `host${i}_pass_ms`);
      row(`${p.label.split(' ')[0]} ${p.version} -I -c 'import asyncio'`, `host${i}_asyncio_ms`);
    }
    row('worker template: ukernel run, wall', 'worker_run_wall_ms');
    row('worker template: entry → workload start', 'worker_workload_start_ms');
    row('worker template: entry → first output', 'worker_first_output_ms');
    row('worker template: entry → exit', 'worker_exit_ms');
    row('+ openssl, sqlite: ukernel run, wall', 'worker_system_run_wall_ms');
    row('+ openssl, sqlite: entry → workload start', 'worker_system_workload_start_ms');
    row('+ openssl, sqlite: entry → first output', 'worker_system_first_output_ms');
    const extra = (key) => s[`worker_system_${key}`]?.median - s[`worker_${key}`]?.median;
    lines.push(
      `  system libraries cost (medians): workload start ${f(extra('workload_start_ms'))} ms, first output ${f(extra('first_output_ms'))} ms`,
    );
    const first = s.guest_first_line_ms?.median;
    lines.push(
      `  target entry → first line ≤ ${TARGETS.entry_to_first_line_ms_max} ms: ${met(first <= TARGETS.entry_to_first_line_ms_max)}`,
    );
  }
  if (r.pyperf) {
    lines.push('(b) pyperformance, ms per loop (guest vs the runtime host python3.13, same source and flags)');
    lines.push(
      `  ${'benchmark'.padEnd(18)} ${'guest median (min–max)'.padEnd(28)} ${'host median (min–max)'.padEnd(28)} host ÷ guest: medians, minimums`,
    );
    const range = (s) => `${f(s.median, 3)} (${f(s.min, 3)}–${f(s.max, 3)})`.padEnd(28);
    for (const [name, b] of Object.entries(r.pyperf)) {
      lines.push(
        `  ${name.padEnd(18)} ${range(b.guest_ms)} ${range(b.host_ms)} ${b.speed_vs_host.toFixed(3)}×, ${b.speed_vs_host_min.toFixed(3)}×`,
      );
    }
    const geo = (key) => {
      const speeds = Object.values(r.pyperf).map((b) => b[key]);
      return Math.exp(speeds.reduce((a, x) => a + Math.log(x), 0) / speeds.length);
    };
    const each = (key) => met(Object.values(r.pyperf).every((b) => b[key] >= TARGETS.speed_vs_host_min));
    lines.push(
      `  geometric mean ${geo('speed_vs_host').toFixed(3)}× (medians), ${geo('speed_vs_host_min').toFixed(3)}× (minimums); ` +
        `target ≥ ${TARGETS.speed_vs_host_min}× each: ${each('speed_vs_host')} (medians), ${each('speed_vs_host_min')} (minimums)`,
    );
  }
  if (r.image) {
    const mb = (b) => (b / 1e6).toFixed(2);
    const i = r.image;
    lines.push(
      `(c) worker template image ${mb(i.image_bytes)} MB (bin/python ${mb(i.python_bytes)} MB, lib/python313.zip ${mb(i.stdlib_zip_bytes)} MB); ` +
        `target ≤ ${TARGETS.image_mb_max} MB: ${met(i.image_bytes <= TARGETS.image_mb_max * 1e6)}`,
    );
    lines.push(`    with openssl, sqlite: image ${mb(i.system_image_bytes)} MB (bin/python ${mb(i.system_python_bytes)} MB)`);
    lines.push(
      `    least --memory it runs in: ${i.memory_mib_min} MiB; target ≤ ${TARGETS.memory_mib_max} MiB: ${met(i.memory_mib_min <= TARGETS.memory_mib_max)}`,
    );
  }
  if (r.server) {
    const s = r.server;
    lines.push(`(d) asyncio HTTP server (guest/server.py), GET / keep-alive, ${r.wrk_version ?? 'wrk'}`);
    lines.push(`  ${''.padEnd(40)} req/s median (min–max)        p50 ms   p99 ms   ÷ host python3.13`);
    const base = s.host0_req_s?.median;
    for (const [key, label] of Object.entries(s.labels)) {
      const q = s[`${key}_req_s`];
      if (!q) continue;
      lines.push(
        `  ${label.padEnd(40)} ${`${f(q.median, 0)} (${f(q.min, 0)}–${f(q.max, 0)})`.padEnd(28)} ${f(s[`${key}_p50_ms`]?.median, 2).padStart(6)}   ${f(s[`${key}_p99_ms`]?.median, 2).padStart(6)}   ${(q.median / base).toFixed(2)}×`,
      );
    }
  }
  for (const [k, v] of Object.entries(r.errors)) lines.push(`error ${k}: ${v}`);
  return lines;
}
