// The ukernel side of bench/net: the http template built and packed once (`ukernel init
// --template http`, `build --release`, `pack`), served by `ukernel run` over user networking
// (a published loopback port) or a tap in the benchmark's namespace, and the guest's own timing
// of entry → listening read from the run's events device (docs/observability.md).
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { basename, join } from 'node:path';
import { run } from '../lib.mjs';
import { inNamespace } from './http.mjs';
import { startChild } from './procs.mjs';

/** The project name of the template copy the benchmark builds. */
export const PROJECT_NAME = 'netbench';
/** The port the http template listens on inside the guest. */
export const GUEST_PORT = 80;
/** Memory of every ukernel guest here, in MiB (the Linux guest of (d) gets the same). */
export const UKERNEL_MEMORY_MIB = 256;
/**
 * The guest record that says the server is listening: the http template's log record, event or
 * span whose name or message matches (its t_ns is nanoseconds since kernel entry).
 */
const LISTENING_RE = /listen/i;
const BUILD_TIMEOUT_MS = 300_000;

/**
 * Scaffolds, builds (--release) and packs the http template in `parent`. Resolves to
 * { project, image }; rejects with the CLI's output when a step fails (e.g. no http template yet).
 */
export async function buildTemplate(root, parent) {
  const cli = join(root, 'cli/bin/ukernel.mjs');
  const project = join(parent, PROJECT_NAME);
  mkdirSync(project, { recursive: true });
  const steps = [['init', '--name', PROJECT_NAME, '--lang', 'native', '--template', 'http'], ['build', '--release'], ['pack']];
  for (const args of steps) {
    const result = await run(process.execPath, [cli, ...args], { cwd: project, timeoutMs: BUILD_TIMEOUT_MS });
    if (result.code !== 0)
      throw new Error(`ukernel ${args.join(' ')} failed:\n${(result.stderr || result.stdout).trim().slice(-1200)}`);
  }
  return { project, image: join(project, `dist/${PROJECT_NAME}.img`) };
}

/**
 * Starts `ukernel run` of `image` in `project` on QEMU: over user networking with `hostPort`
 * published on 127.0.0.1 (net.kind 'user'), or on tap `net.tap` (one of netns.TAPS) in
 * `net.namespace` with its static address (net.kind 'tap'; with `vmm` 'firecracker', on
 * Firecracker, which has only taps and KVM). Returns the procs handle.
 */
export function startUkernel(root, { project, image, accel, net, vmm = 'qemu' }) {
  const cli = join(root, 'cli/bin/ukernel.mjs');
  const common = ['run', '--image', image, '--vmm', vmm, '--accel', accel, '--memory', String(UKERNEL_MEMORY_MIB)];
  if (net.kind === 'user') {
    return startChild(
      process.execPath,
      [cli, ...common, '--net', 'user', '--publish', `127.0.0.1:${net.hostPort}:${GUEST_PORT}`],
      {
        cwd: project,
      },
    );
  }
  const { ns, prefixBits } = net.namespace;
  const { tap, guestAddress, hostAddress } = net.tap;
  const tapArgs = ['--net', `tap:${tap}`, '--ip', `${guestAddress}/${prefixBits}`, '--gateway', hostAddress];
  const [file, args] = inNamespace(ns, process.execPath, [cli, ...common, ...tapArgs]);
  return startChild(file, args, { cwd: project });
}

/** The events file of the run that started last in `project` (logs/console.log → runs/NAME.log). */
export function lastRunEvents(project) {
  const runs = join(project, 'logs/runs');
  let name;
  try {
    name = basename(readlinkSync(join(project, 'logs/console.log')), '.log');
  } catch {
    const logs = readdirSync(runs).filter((file) => file.endsWith('.log') && !file.endsWith('.vmm.log'));
    if (logs.length === 0) throw new Error(`no run logs in ${runs}`);
    name = logs.sort().at(-1).slice(0, -'.log'.length);
  }
  return join(runs, `${name}.events`);
}

/** An EventSource (cli/src/observe/events.ts) over an open file, read at offsets. */
function fdSource(fd) {
  return {
    size: () => fstatSync(fd).size,
    read: (offset, length) => {
      const buffer = Buffer.alloc(length);
      const got = readSync(fd, buffer, 0, length, offset);
      return buffer.subarray(0, got);
    },
  };
}

/**
 * Guest timings of one finished run from its events file, in ms since kernel entry:
 * { ready_ms, start_ms, net_ms, net_config_ms, listening_ms, step_NAME_ms… } — the boot
 * record's ready phase, the workload's start record (and the steps before it it lists), the `@uk:net` record (address configured) and how long
 * configuration took, and the template's first record matching LISTENING_RE. Each is null when
 * its record is missing.
 */
export function guestTimings(lib, eventsPath) {
  const fd = openSync(eventsPath, 'r');
  let records;
  try {
    records = lib.decodeEvents(fdSource(fd)).records;
  } finally {
    closeSync(fd);
  }
  const timings = { ready_ms: null, start_ms: null, net_ms: null, net_config_ms: null, listening_ms: null };
  for (const record of records.filter((r) => r.kind === 'kernel')) {
    const parsed = lib.parseRecordLine(record.line);
    if (parsed.type !== 'record') continue;
    const r = parsed.record;
    if (r.kind === 'boot') timings.ready_ms ??= r.readyNs / 1e6;
    if (r.kind === 'workload' && r.event === 'start' && timings.start_ms === null) {
      timings.start_ms = r.tNs / 1e6;
      // The steps the kernel took before main (`disk_ns=…`: disk, image, load, …).
      for (const [step, ns] of r.stepsNs) timings[`step_${step}_ms`] = ns / 1e6;
    }
    if (r.kind === 'net' && timings.net_ms === null) {
      timings.net_ms = record.tNs / 1e6;
      timings.net_config_ms = r.configNs / 1e6;
    }
  }
  const listening = records.find(
    (r) =>
      (r.kind === 'log' && LISTENING_RE.test(r.message)) ||
      ((r.kind === 'begin' || r.kind === 'event') && LISTENING_RE.test(r.name)),
  );
  if (listening !== undefined) timings.listening_ms = listening.tNs / 1e6;
  return timings;
}
