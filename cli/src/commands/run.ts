// `ukernel run`: validate, pick accel and VMM, run the VM session, report.
import { relative, resolve } from 'node:path';
import {
  BOOT_TIMEOUT_KVM_MS,
  BOOT_TIMEOUT_TCG_MS,
  CONSOLE_LOG_PATH,
  FIRECRACKER_BINARY,
  FIRECRACKER_CONFIG_PATH,
  QEMU_BINARY,
} from '../constants.js';
import { checkKernelElf } from '../elf.js';
import { UkernelError } from '../errors.js';
import { buildReport, formatPhases, formatSummary } from '../report.js';
import { errColors, writeErr, writeOut } from '../ui.js';
import { probeKvm, selectAccel, type Accel, type KvmProbe } from '../vmm/accel.js';
import { kernelCmdline } from '../vmm/cmdline.js';
import { firecrackerArgs, firecrackerConfig, writeFileAtomic } from '../vmm/firecracker.js';
import { qemuArgs } from '../vmm/qemu.js';
import { decideStatus, runSession } from '../vmm/session.js';
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

/** Returns the guest status (the CLI's exit code). */
export async function run(raw: RawRunOptions, deps: Partial<RunDeps> = {}): Promise<number> {
  const d: RunDeps = { env: process.env, cwd: process.cwd(), probeKvm, ...deps };
  const opts = normalizeRunOptions(raw, d.env, d.cwd);
  const kernel = opts.source.path;
  checkKernelElf(kernel);
  const cmdline = kernelCmdline({ extra: opts.cmdline });

  const launch = opts.vmm === 'firecracker' ? prepareFirecracker(opts, kernel, cmdline, d) : prepareQemu(opts, kernel, cmdline, d);

  const consoleLogPath = resolve(d.cwd, CONSOLE_LOG_PATH);
  const consoleLogDisplay = displayPath(d.cwd, consoleLogPath);
  const human = !opts.json;
  const c = errColors();
  const result = await runSession({
    vmm: opts.vmm,
    binary: launch.binary,
    args: launch.args,
    accel: launch.accel,
    bootTimeoutMs: launch.accel === 'kvm' ? BOOT_TIMEOUT_KVM_MS : BOOT_TIMEOUT_TCG_MS,
    runTimeoutMs: opts.timeoutMs,
    consoleLogPath,
    consoleLogDisplay,
    echo: human ? writeOut : null,
    warn: (line) => writeErr(c.yellow(line)),
    onStart: (pid) => {
      if (human && process.stderr.isTTY) {
        writeErr(c.dim(`${opts.vmm} started (pid ${pid})`));
        writeErr(c.dim(`VM console: ${consoleLogDisplay}`));
      }
    },
  });

  const status = decideStatus(result, opts.vmm);
  const report = buildReport(result, status, { vmm: opts.vmm, accel: launch.accel, kernel, consoleLog: consoleLogPath });
  if (opts.json) {
    writeOut(JSON.stringify(report));
  } else {
    if (opts.verbose) for (const line of formatPhases(report)) writeErr(c.dim(line));
    writeErr((status === 0 ? c.green : c.red)(formatSummary(report)));
  }
  return status;
}

function prepareQemu(opts: RunOptions, kernel: string, cmdline: string, d: RunDeps): Launch {
  const { accel, notice } = selectAccel(opts.accel, d.probeKvm);
  if (notice !== null) writeErr(errColors().yellow(notice));
  const binary = findExecutable(QEMU_BINARY, d.env, d.env.UKERNEL_QEMU);
  if (binary === null) {
    const which = d.env.UKERNEL_QEMU ? `UKERNEL_QEMU=${d.env.UKERNEL_QEMU} is not an executable` : `${QEMU_BINARY} not found on PATH`;
    throw new UkernelError('QemuNotFound', which);
  }
  return { binary, accel, args: qemuArgs({ kernel, accel, memoryMib: opts.memoryMib, vcpus: opts.vcpus, cmdline }) };
}

function prepareFirecracker(opts: RunOptions, kernel: string, cmdline: string, d: RunDeps): Launch {
  if (opts.accel === 'tcg') {
    throw new UkernelError('FirecrackerNeedsKvm', `--vmm firecracker cannot run with accel tcg (from ${opts.accelFrom})`);
  }
  const configPath = resolve(d.cwd, FIRECRACKER_CONFIG_PATH);
  const configDisplay = displayPath(d.cwd, configPath);
  const config = firecrackerConfig({ kernel, memoryMib: opts.memoryMib, vcpus: opts.vcpus, cmdline });
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
  return { binary, accel: 'kvm', args: firecrackerArgs(configPath) };
}

function displayPath(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel.startsWith('..') ? path : rel;
}
