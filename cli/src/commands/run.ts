// `ukernel run`: decide what to boot (a bare kernel, an image, or the project — rebuilt and
// repacked only when its inputs changed), validate, pick accel and VMM, create the run's events
// device, run the VM session, keep the run's log, events and report.
import { statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  BOOT_TIMEOUT_KVM_MS,
  BOOT_TIMEOUT_TCG_MS,
  DISK_FULL_BYTES,
  EVENTS_CAPACITY_BYTES,
  FIRECRACKER_BINARY,
  QEMU_BINARY,
} from '../constants.js';
import { checkKernelElf } from '../elf.js';
import { isUkernelError, UkernelError } from '../errors.js';
import { displayPath, writeFileAtomic } from '../fsutil.js';
import { formatBytes } from '../format.js';
import type { AbiVersion } from '../image/format.js';
import type { ImageInfo } from '../image/reader.js';
import type { WorkflowContext } from '../project/workflow.js';
import { findProjectRoot } from '../project/locate.js';
import { createEventsFile } from '../observe/device.js';
import { buildReport, formatPhases, formatSummary, type RunReport } from '../report.js';
import { failureHints } from '../run-hints.js';
import { type SystemLibrary, systemCatalog } from '../project/system.js';
import { readToolchainPins, ukernelRoot } from '../toolchain.js';
import { planRun, startRunLog, type RunLog, type RunPaths } from '../runlog.js';
import { errColors, noProgress, writeErr, writeOut } from '../ui.js';
import { probeKvm, selectAccel, type Accel, type KvmProbe } from '../vmm/accel.js';
import { checkCmdlineBudget, kernelCmdline, wallClockToken } from '../vmm/cmdline.js';
import { firecrackerArgs, firecrackerConfig } from '../vmm/firecracker.js';
import { checkHostNetwork, vmmNetworkError } from '../vmm/net-host.js';
import {
  formatGuestNetwork,
  formatNetworkSummary,
  guestNetwork,
  networkCmdlineTokens,
  networkDevices,
  networkReport,
} from '../vmm/network.js';
import { type PublishProxy, startPublishProxy } from '../vmm/publish-proxy.js';
import { qemuArgs } from '../vmm/qemu.js';
import { decideStatus, runSession, type SessionResult } from '../vmm/session.js';
import { findExecutable } from '../vmm/which.js';
import {
  bootSource,
  resolveRunSettings,
  type BootSource,
  type RunDefaults,
  type RunFlags,
  type RunSettings,
} from './run-options.js';

export interface RunDeps {
  env: NodeJS.ProcessEnv;
  cwd: string;
  probeKvm: KvmProbe;
}

interface Launch {
  binary: string;
  args: string[];
  accel: Accel;
}

/** Where a run boots from, once its project (if any) is loaded; nothing built or verified yet. */
interface Origin {
  source: BootSource;
  /** Directory holding logs/ (the project root, else the cwd). */
  logBase: string;
  /** ukernel.toml [run], when there is a project. */
  defaults: RunDefaults;
  /** The project's pipeline, when booting the project itself. */
  ctx: WorkflowContext | null;
}

/** What the VMM gets: the kernel, the image disk (if any), and where logs go. */
interface Target {
  kernel: string;
  image: { path: string; readonly: boolean } | null;
  logBase: string;
}

/** Returns the guest status (the CLI's exit code). */
export async function run(flags: RunFlags, deps: Partial<RunDeps> = {}): Promise<number> {
  const d: RunDeps = { env: process.env, cwd: process.cwd(), probeKvm, ...deps };
  const origin = await locateOrigin(bootSource(flags, d.cwd), flags.json === true, d);
  const settings = resolveRunSettings(flags, d.env, origin.defaults);
  const { network } = settings;
  if (network.mode.kind === 'user' && settings.vmm === 'firecracker') {
    const why = network.from.includes('publish') ? `${network.from} asks for it` : `${network.from} = user`;
    throw new UkernelError('NetworkUnavailable', `Firecracker has no user networking (${why})`);
  }
  await checkHostNetwork(network); // before building: fail fast
  const target = await prepareTarget(origin, settings, d);
  const cmdline = kernelCmdline({
    extra: settings.cmdline,
    tokens: [wallClockToken(), ...networkCmdlineTokens(network)],
    workload: settings.workloadArgs,
  });
  checkCmdlineBudget(cmdline, settings.vmm, (target.image === null ? 1 : 2) + networkDevices(network));
  const plan = planRun(target.logBase);
  // The published TCP sockets are bound here for good (a port taken is refused before anything
  // starts); the proxy lives until the session ends, whichever way it ends.
  const proxy = await startPublishProxy(network, (line) => writeErr(errColors().yellow(line)));
  try {
    const launch =
      settings.vmm === 'firecracker'
        ? prepareFirecracker(settings, target, cmdline, plan, d)
        : prepareQemu(settings, target, cmdline, plan.eventsPath, d, proxy);
    const runLog = startRunLog(target.logBase, undefined, undefined, plan);
    const summary = formatNetworkSummary(network);
    if (summary !== null && !settings.json) writeErr(errColors().dim(summary));
    try {
      let result: SessionResult;
      try {
        result = await bootVm(settings, launch, runLog, d.cwd);
      } finally {
        await proxy?.close(); // the VM is gone, so are its clients; the counters are final
      }
      return finishRun(result, { settings, target, launch, runLog, cwd: d.cwd, proxy });
    } catch (err) {
      // A VMM that failed on the network (a port taken since the check, a tap busy) says so.
      throw err instanceof UkernelError ? (vmmNetworkError(err, network, proxy?.routes()) ?? err) : err;
    } finally {
      runLog.finish(); // after the report: the run is over once its report is there
    }
  } finally {
    await proxy?.close();
  }
}

/** The VM session of this run: its events device, console log and echo. */
async function bootVm(settings: RunSettings, launch: Launch, runLog: RunLog, cwd: string): Promise<SessionResult> {
  const c = errColors();
  const consoleLogDisplay = displayPath(cwd, runLog.path); // this run's own (console.log may move on)
  const human = !settings.json;
  createEventsFile(runLog.eventsPath, EVENTS_CAPACITY_BYTES, displayPath(cwd, runLog.eventsPath));
  return runSession({
    vmm: settings.vmm,
    binary: launch.binary,
    args: launch.args,
    accel: launch.accel,
    bootTimeoutMs: launch.accel === 'kvm' ? BOOT_TIMEOUT_KVM_MS : BOOT_TIMEOUT_TCG_MS,
    runTimeoutMs: settings.timeoutMs,
    consoleLogPath: runLog.path,
    consoleLogDisplay,
    eventsPath: runLog.eventsPath,
    vmmLogPath: settings.vmm === 'firecracker' ? runLog.vmmLogPath : null,
    echo: human ? writeOut : null,
    warn: (line) => writeErr(c.yellow(line)),
    onNet: (record) => {
      if (human) writeErr(c.dim(formatGuestNetwork(record)));
    },
    onStart: (pid) => {
      if (human && process.stderr.isTTY) {
        writeErr(c.dim(`${settings.vmm} started (pid ${pid})`));
        writeErr(c.dim(`VM console: ${consoleLogDisplay}`));
      }
    },
  });
}

interface Finished {
  settings: RunSettings;
  target: Target;
  launch: Launch;
  runLog: RunLog;
  cwd: string;
  proxy: PublishProxy | null;
}

/** The status, the report (kept beside the run's log), the summary; errors the run ended with. */
function finishRun(result: SessionResult, run: Finished): number {
  const { settings, target, launch, runLog, cwd, proxy } = run;
  const c = errColors();
  const status = runStatus(result, run);
  const report = buildReport(result, status, {
    vmm: settings.vmm,
    accel: launch.accel,
    kernel: target.kernel,
    consoleLog: runLog.consolePath,
    runLog: runLog.path,
    image: target.image?.path ?? null,
    events: runLog.eventsPath,
    network: networkReport(
      settings.network,
      result.net === null ? null : guestNetwork(result.net.record),
      proxy?.counters() ?? null,
      result.netStats?.record.counters ?? null,
    ),
  });
  keepReport(report, runLog, cwd);
  const eventsDisplay = displayPath(cwd, runLog.eventsPath);
  const failed = result.exit?.record.eventsFailed === true;
  warnAboutEvents(report, failed, eventsDisplay);
  if (settings.json) {
    writeOut(JSON.stringify(report));
  } else {
    if (settings.verbose) for (const line of formatPhases(report)) writeErr(c.dim(line));
    writeErr((status === 0 ? c.green : c.red)(formatSummary(report)));
    if (status !== 0)
      for (const hint of runFailureHints(result.outputTail, settings.memoryMib)) writeErr(c.yellow(`hint: ${hint}`));
  }
  if (failed || (diskFull(dirname(runLog.eventsPath)) !== null && report.events_dropped !== 0)) {
    throw new UkernelError(
      'EventsWriteFailed',
      `writing ${eventsDisplay} failed in the guest (I/O error from the host: is its disk full?); ` +
        `${report.events_dropped ?? 'some'} record(s) of output, logs or traces were lost; the workload's status was ${status}`,
    );
  }
  return status;
}

/** What a failed run's console suggests (run-hints.ts); none when the catalog cannot be read. */
function runFailureHints(outputTail: string, memoryMib: number): string[] {
  let catalog: SystemLibrary[];
  try {
    catalog = systemCatalog(readToolchainPins(ukernelRoot()).all);
  } catch {
    catalog = [];
  }
  return failureHints(outputTail, catalog, memoryMib);
}

/** The guest status; a run that ended without one because the host's disk filled up says so. */
function runStatus(result: SessionResult, run: Finished): number {
  const { settings, target, runLog, cwd } = run;
  const warn = (line: string): void => writeErr(errColors().yellow(line));
  try {
    return decideStatus(result, settings.vmm, { imageAttached: target.image !== null, warn });
  } catch (err) {
    // No status because the host's disk filled up under the run's files: say that, not "VMM failed".
    const full = diskFull(dirname(runLog.eventsPath));
    if (full === null || !(err instanceof UkernelError)) throw err;
    throw new UkernelError(
      'EventsWriteFailed',
      `the disk holding ${displayPath(cwd, dirname(runLog.eventsPath))} is full (${formatBytes(full.freeBytes)} free): ` +
        `the run's console, output and exit record could not be written (${err.message})`,
      { details: err.details },
    );
  }
}

/** For `ukernel perf`: the host side of this run, next to its log (a warning when it cannot be written). */
function keepReport(report: RunReport, runLog: RunLog, cwd: string): void {
  try {
    writeFileAtomic(runLog.reportPath, `${JSON.stringify(report, null, 2)}\n`, displayPath(cwd, runLog.reportPath));
  } catch (err) {
    if (!(err instanceof UkernelError)) throw err;
    writeErr(errColors().yellow(`warning: ${err.message}; \`ukernel perf\` will lack this run's host timings`));
  }
}

function warnAboutEvents(report: RunReport, failed: boolean, eventsDisplay: string): void {
  const warn = (line: string): void => writeErr(errColors().yellow(line));
  if (report.events_dropped !== null && report.events_dropped > 0 && !failed) {
    warn(`warning: the guest dropped ${report.events_dropped} record(s) of output, logs or traces: ${eventsDisplay} is full`);
  }
  if (report.interrupts_unexpected !== null && report.interrupts_unexpected > 0) {
    warn(
      `notice: the guest got ${report.interrupts_unexpected} device interrupt(s) no driver claimed (counted and ignored; see the console log)`,
    );
  }
}

/** Free space of the filesystem holding `dir` when it is (nearly) full, else null. */
function diskFull(dir: string): { freeBytes: number } | null {
  try {
    const stats = statfsSync(dir);
    const freeBytes = stats.bavail * stats.bsize;
    return freeBytes < DISK_FULL_BYTES ? { freeBytes } : null;
  } catch {
    return null;
  }
}

/** The project (if any) a run belongs to and its ukernel.toml [run]; nothing is built yet. */
async function locateOrigin(source: BootSource, json: boolean, d: RunDeps): Promise<Origin> {
  const projectRoot = findProjectRoot(d.cwd);
  const logBase = projectRoot ?? d.cwd;
  if (source.type === 'kernel') return { source, logBase, defaults: null, ctx: null };
  if (source.type === 'image') {
    if (projectRoot === null) return { source, logBase, defaults: null, ctx: null };
    // Loaded only here: `run --kernel` must not pay for the TOML parser and schema.
    const { loadProject } = await import('../project/config.js');
    const defaults = loadProject(d.cwd, readToolchainPins(ukernelRoot()).zigVersion).config.run;
    return { source, logBase, defaults, ctx: null };
  }
  const { workflowContext } = await import('../project/workflow.js');
  try {
    const say = (line: string): void => writeErr(errColors().dim(line));
    const ctx = workflowContext(d.cwd, d.env, say, undefined, json ? noProgress : undefined); // never progress on --json
    return { source, logBase: ctx.project.root, defaults: ctx.project.config.run, ctx };
  } catch (err) {
    if (isUkernelError(err, 'ProjectNotFound')) {
      throw new UkernelError('ProjectNotFound', `${err.message}: nothing to run`, {
        hint: 'Run it inside a project (ukernel init), or pass --image dist/NAME.img or --kernel ELF.',
      });
    }
    throw err;
  }
}

/** The kernel (checked) and the image (verified once, its kernel extracted to the cache). */
async function prepareTarget(origin: Origin, settings: RunSettings, d: RunDeps): Promise<Target> {
  const { source, logBase, ctx } = origin;
  if (source.type === 'kernel') {
    checkKernelElf(source.path);
    return { kernel: source.path, image: null, logBase };
  }
  const { PROVIDED_ABI } = await import('../image/manifest.js');
  if (source.type === 'image') return { ...(await bootImage(source.path, null, d, PROVIDED_ABI)), logBase };
  if (ctx === null) throw new Error('run: a project origin without its workflow context');
  const packed = await projectImage(ctx, settings.release);
  return { ...(await bootImage(packed.path, packed.verified, d, PROVIDED_ABI)), logBase };
}

/** The image's kernel from the cache; the image is verified here unless `verified` (just packed). */
async function bootImage(
  path: string,
  verified: ImageInfo | null,
  d: RunDeps,
  abi: AbiVersion,
): Promise<Pick<Target, 'kernel' | 'image'>> {
  const { readImageFile } = await import('../image/reader.js');
  const { cachedKernel } = await import('../vmm/kernel-cache.js');
  const info = verified ?? readImageFile(path, displayPath(d.cwd, path), abi);
  const kernel = cachedKernel(path, info.sections.find((s) => s.name === 'kernel')!, d.env);
  return { kernel: kernel.path, image: { path, readonly: info.readonly } };
}

/** The project's image: rebuilt and repacked only when their inputs changed since the last time. */
async function projectImage(ctx: WorkflowContext, release: boolean): Promise<{ path: string; verified: ImageInfo | null }> {
  const { buildWorkload, currentBuild, defaultImagePath, packIfChanged, readBuildRecord, readPackRecord } = await import(
    '../project/workflow.js'
  );
  // Same options as the last build and pack (ReleaseSafe and a writable image when none).
  const optimize = release ? 'ReleaseFast' : (readBuildRecord(ctx)?.optimize ?? 'ReleaseSafe');
  if (currentBuild(ctx, optimize) === null) await buildWorkload(ctx, optimize);
  const previous = readPackRecord(ctx);
  const pack = {
    imagePath: previous !== null ? resolve(ctx.project.root, previous.image) : defaultImagePath(ctx),
    readonly: previous?.readonly ?? false,
  };
  return { path: pack.imagePath, verified: packIfChanged(ctx, pack)?.image ?? null };
}

function prepareQemu(
  opts: RunSettings,
  target: Target,
  cmdline: string,
  events: string,
  d: RunDeps,
  proxy: PublishProxy | null,
): Launch {
  const { accel, notice } = selectAccel(opts.accel, d.probeKvm);
  if (notice !== null) writeErr(errColors().yellow(notice));
  const binary = findExecutable(QEMU_BINARY, d.env, d.env.UKERNEL_QEMU);
  if (binary === null) {
    const which = d.env.UKERNEL_QEMU
      ? `UKERNEL_QEMU=${d.env.UKERNEL_QEMU} is not an executable`
      : `${QEMU_BINARY} not found on PATH`;
    throw new UkernelError('QemuNotFound', which);
  }
  const args = qemuArgs({
    kernel: target.kernel,
    accel,
    memoryMib: opts.memoryMib,
    vcpus: opts.vcpus,
    cmdline,
    ...(target.image !== null ? { image: { path: target.image.path } } : {}),
    events,
    // Slirp binds the proxy's internal ports for the TCP mappings, the UDP ones as published.
    network: proxy === null ? opts.network : { ...opts.network, publish: proxy.slirpMappings(opts.network.publish) },
  });
  return { binary, accel, args };
}

function prepareFirecracker(opts: RunSettings, target: Target, cmdline: string, plan: RunPaths, d: RunDeps): Launch {
  if (opts.accel === 'tcg') {
    throw new UkernelError('FirecrackerNeedsKvm', `--vmm firecracker cannot run with accel tcg (from ${opts.accelFrom})`);
  }
  const configPath = plan.vmConfigPath;
  const configDisplay = displayPath(d.cwd, configPath);
  const config = firecrackerConfig({
    kernel: target.kernel,
    memoryMib: opts.memoryMib,
    vcpus: opts.vcpus,
    cmdline,
    ...(target.image !== null ? { image: { path: target.image.path } } : {}),
    events: plan.eventsPath,
    network: opts.network,
  });
  writeFileAtomic(configPath, `${JSON.stringify(config, null, 2)}\n`, configDisplay);

  const binary = findExecutable(FIRECRACKER_BINARY, d.env, d.env.UKERNEL_FIRECRACKER);
  if (binary === null) {
    const which = d.env.UKERNEL_FIRECRACKER
      ? `UKERNEL_FIRECRACKER=${d.env.UKERNEL_FIRECRACKER} is not an executable`
      : `${FIRECRACKER_BINARY} not found on PATH`;
    throw new UkernelError('FirecrackerNotFound', `${which}; the VM config was written to ${configDisplay}`);
  }
  const kvm = d.probeKvm();
  if (!kvm.ok) {
    throw new UkernelError('KvmUnavailable', `Firecracker needs read-write /dev/kvm, which is not usable (${kvm.reason})`, {
      hint: 'Check `ls -l /dev/kvm` and your membership of the `kvm` group, or use `--vmm qemu --accel tcg`.',
    });
  }
  return { binary, accel: 'kvm', args: firecrackerArgs(configPath, plan.vmmLogPath) };
}
