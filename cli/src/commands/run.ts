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
  MEMORY_MIB_DEFAULT,
  QEMU_BINARY,
  VCPU_DEFAULT,
} from '../constants.js';
import { checkKernelElf } from '../elf.js';
import { isUkernelError, UkernelError } from '../errors.js';
import { displayPath, writeFileAtomic } from '../fsutil.js';
import { formatBytes } from '../format.js';
import type { AbiVersion } from '../image/format.js';
import type { ProjectConfig } from '../project/config.js';
import { findProjectRoot } from '../project/locate.js';
import { createEventsFile } from '../observe/device.js';
import { buildReport, formatPhases, formatSummary } from '../report.js';
import { planRun, startRunLog, type RunLog, type RunPaths } from '../runlog.js';
import { errColors, noProgress, writeErr, writeOut } from '../ui.js';
import { probeKvm, selectAccel, type Accel, type KvmProbe } from '../vmm/accel.js';
import { checkCmdlineBudget, kernelCmdline } from '../vmm/cmdline.js';
import { firecrackerArgs, firecrackerConfig } from '../vmm/firecracker.js';
import { qemuArgs } from '../vmm/qemu.js';
import { decideStatus, runSession, type SessionResult } from '../vmm/session.js';
import { findExecutable } from '../vmm/which.js';
import { normalizeRunOptions, type RawRunOptions, type RunOptions } from './run-options.js';

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

/** What the VMM gets: the kernel, the image disk (if any), and where logs and defaults come from. */
interface Target {
  kernel: string;
  image: { path: string; readonly: boolean } | null;
  /** Directory holding logs/ (the project root, else the cwd). */
  logBase: string;
  /** ukernel.toml [run], when there is a project. */
  defaults: ProjectConfig['run'] | null;
}

/** Returns the guest status (the CLI's exit code). */
export async function run(raw: RawRunOptions, deps: Partial<RunDeps> = {}): Promise<number> {
  const d: RunDeps = { env: process.env, cwd: process.cwd(), probeKvm, ...deps };
  const opts = normalizeRunOptions(raw, d.env, d.cwd);
  const c = errColors();
  const target = await prepareTarget(opts, d, (line) => writeErr(c.dim(line)));

  const net = opts.net ?? target.defaults?.net ?? 'none';
  if (net !== 'none') {
    throw new UkernelError('NetworkUnavailable', `networking is not available yet (${opts.net !== null ? '--net' : 'ukernel.toml [run] net'} = ${net})`);
  }
  const resolved: RunOptions = {
    ...opts,
    memoryMib: opts.explicit.memory ? opts.memoryMib : (target.defaults?.memory_mb ?? MEMORY_MIB_DEFAULT),
    vcpus: opts.explicit.vcpu ? opts.vcpus : (target.defaults?.vcpu ?? VCPU_DEFAULT),
  };
  const cmdline = kernelCmdline({ extra: opts.cmdline, workload: opts.workloadArgs });
  checkCmdlineBudget(cmdline, opts.vmm, target.image === null ? 1 : 2);
  const plan = planRun(target.logBase);
  const launch =
    opts.vmm === 'firecracker'
      ? prepareFirecracker(resolved, target, cmdline, plan, d)
      : prepareQemu(resolved, target, cmdline, plan.eventsPath, d);

  const runLog = startRunLog(target.logBase, undefined, undefined, plan);
  try {
    const consoleLogDisplay = displayPath(d.cwd, runLog.path); // this run's own (console.log may move on)
    const human = !opts.json;
    createEventsFile(runLog.eventsPath, EVENTS_CAPACITY_BYTES, displayPath(d.cwd, runLog.eventsPath));
    const result = await runSession({
      vmm: opts.vmm,
      binary: launch.binary,
      args: launch.args,
      accel: launch.accel,
      bootTimeoutMs: launch.accel === 'kvm' ? BOOT_TIMEOUT_KVM_MS : BOOT_TIMEOUT_TCG_MS,
      runTimeoutMs: opts.timeoutMs,
      consoleLogPath: runLog.path,
      consoleLogDisplay,
      eventsPath: runLog.eventsPath,
      vmmLogPath: opts.vmm === 'firecracker' ? runLog.vmmLogPath : null,
      echo: human ? writeOut : null,
      warn: (line) => writeErr(c.yellow(line)),
      onStart: (pid) => {
        if (human && process.stderr.isTTY) {
          writeErr(c.dim(`${opts.vmm} started (pid ${pid})`));
          writeErr(c.dim(`VM console: ${consoleLogDisplay}`));
        }
      },
    });
    return finishRun(result, { opts, target, launch, runLog, cwd: d.cwd });
  } finally {
    runLog.finish(); // after the report: the run is over once its report is there
  }
}

/** The status, the report (kept beside the run's log), the summary; errors the run ended with. */
function finishRun(
  result: SessionResult,
  run: { opts: RunOptions; target: Target; launch: Launch; runLog: RunLog; cwd: string },
): number {
  const { opts, target, launch, runLog, cwd } = run;
  const c = errColors();
  const warn = (line: string): void => writeErr(c.yellow(line));
  let status: number;
  try {
    status = decideStatus(result, opts.vmm, { imageAttached: target.image !== null, warn });
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
  const report = buildReport(result, status, {
    vmm: opts.vmm,
    accel: launch.accel,
    kernel: target.kernel,
    consoleLog: runLog.consolePath,
    runLog: runLog.path,
    image: target.image?.path ?? null,
    events: runLog.eventsPath,
  });
  // For `ukernel perf`: the host side of this run, next to its log.
  try {
    writeFileAtomic(runLog.reportPath, `${JSON.stringify(report, null, 2)}\n`, displayPath(cwd, runLog.reportPath));
  } catch (err) {
    if (!(err instanceof UkernelError)) throw err;
    warn(`warning: ${err.message}; \`ukernel perf\` will lack this run's host timings`);
  }
  const eventsDisplay = displayPath(cwd, runLog.eventsPath);
  const failed = result.exit?.record.eventsFailed === true;
  if (report.events_dropped !== null && report.events_dropped > 0 && !failed) {
    warn(`warning: the guest dropped ${report.events_dropped} record(s) of output, logs or traces: ${eventsDisplay} is full`);
  }
  if (report.interrupts_unexpected !== null && report.interrupts_unexpected > 0) {
    warn(`notice: the guest got ${report.interrupts_unexpected} device interrupt(s) no driver claimed (counted and ignored; see the console log)`);
  }
  if (opts.json) {
    writeOut(JSON.stringify(report));
  } else {
    if (opts.verbose) for (const line of formatPhases(report)) writeErr(c.dim(line));
    writeErr((status === 0 ? c.green : c.red)(formatSummary(report)));
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

async function prepareTarget(opts: RunOptions, d: RunDeps, say: (line: string) => void): Promise<Target> {
  const projectRoot = findProjectRoot(d.cwd);
  const logBase = projectRoot ?? d.cwd;
  switch (opts.source.type) {
    case 'kernel':
      checkKernelElf(opts.source.path);
      return { kernel: opts.source.path, image: null, logBase, defaults: null };
    case 'image': {
      // Loaded only here: `run --kernel` must not pay for the TOML parser and schema.
      const { loadProject } = await import('../project/config.js');
      const { readAbiVersion } = await import('../image/manifest.js');
      const { readToolchainPins, ukernelRoot } = await import('../toolchain.js');
      const root = ukernelRoot();
      const defaults = projectRoot === null ? null : loadProject(d.cwd, readToolchainPins(root).zigVersion).config.run;
      return { ...(await bootImage(opts.source.path, d, readAbiVersion(root))), logBase, defaults };
    }
    case 'project':
      return projectTarget(opts, d, say);
  }
}

/** Verify the image fully, extract its kernel to the cache. */
async function bootImage(path: string, d: RunDeps, abi: AbiVersion): Promise<Pick<Target, 'kernel' | 'image'>> {
  const { readImageFile } = await import('../image/reader.js');
  const { cachedKernel } = await import('../vmm/kernel-cache.js');
  const info = readImageFile(path, displayPath(d.cwd, path), abi);
  const kernel = cachedKernel(path, info.sections.find((s) => s.name === 'kernel')!, d.env);
  return { kernel: kernel.path, image: { path, readonly: info.readonly } };
}

/** The project's image: rebuilt and repacked only when their inputs changed since the last time. */
async function projectTarget(opts: RunOptions, d: RunDeps, say: (line: string) => void): Promise<Target> {
  const { buildWorkload, currentBuild, currentPack, defaultImagePath, packImage, readBuildRecord, readPackRecord, workflowContext } =
    await import('../project/workflow.js');
  const { readAbiVersion } = await import('../image/manifest.js');
  let ctx;
  try {
    ctx = workflowContext(d.cwd, d.env, say, undefined, opts.json ? noProgress : undefined); // never progress on --json
  } catch (err) {
    if (isUkernelError(err, 'ProjectNotFound')) {
      throw new UkernelError('ProjectNotFound', `${err.message}: nothing to run`, {
        hint: 'Run it inside a project (ukernel init), or pass --image dist/NAME.img or --kernel ELF.',
      });
    }
    throw err;
  }
  // Same options as the last build and pack (ReleaseSafe and a writable image when none).
  const optimize = opts.release ? 'ReleaseFast' : (readBuildRecord(ctx)?.optimize ?? 'ReleaseSafe');
  if (currentBuild(ctx, optimize) === null) await buildWorkload(ctx, optimize);
  const previous = readPackRecord(ctx);
  const pack = {
    imagePath: previous !== null ? resolve(ctx.project.root, previous.image) : defaultImagePath(ctx),
    readonly: previous?.readonly ?? false,
  };
  if (currentPack(ctx, pack) === null) packImage(ctx, pack);
  return {
    ...(await bootImage(pack.imagePath, d, readAbiVersion(ctx.ukernelRoot))),
    logBase: ctx.project.root,
    defaults: ctx.project.config.run,
  };
}

function prepareQemu(opts: RunOptions, target: Target, cmdline: string, events: string, d: RunDeps): Launch {
  const { accel, notice } = selectAccel(opts.accel, d.probeKvm);
  if (notice !== null) writeErr(errColors().yellow(notice));
  const binary = findExecutable(QEMU_BINARY, d.env, d.env.UKERNEL_QEMU);
  if (binary === null) {
    const which = d.env.UKERNEL_QEMU ? `UKERNEL_QEMU=${d.env.UKERNEL_QEMU} is not an executable` : `${QEMU_BINARY} not found on PATH`;
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
  });
  return { binary, accel, args };
}

function prepareFirecracker(opts: RunOptions, target: Target, cmdline: string, plan: RunPaths, d: RunDeps): Launch {
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
