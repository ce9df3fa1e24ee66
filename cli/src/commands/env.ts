// `ukernel env lock [--check] [--json]`, `ukernel env show [--json]`, `ukernel env add|remove`
// (docs/environments.md): the project's pinned environment and env/ukernel.lock.
import { join } from 'node:path';
import { interruptible } from '../child.js';
import { LOCK_FILE } from '../constants.js';
import { isUkernelError, UkernelError } from '../errors.js';
import { displayPath, writeFileAtomic } from '../fsutil.js';
import { noProgress } from '../progress.js';
import { writeOut } from '../ui.js';
import { VERSION } from '../version.js';
import {
  currentEnvironment,
  type Drift,
  driftSections,
  type Environment,
  type Lock,
  lockDrift,
  readLockFile,
  renderLock,
  staleLockError,
} from '../project/lock.js';
import { kernelPath, type WorkflowContext, workflowContext } from '../project/workflow.js';

export interface RawEnvLockOptions {
  check?: boolean;
  json?: boolean;
}

export interface RawEnvShowOptions {
  json?: boolean;
}

export interface RawEnvAddOptions {
  system?: boolean;
  requirements?: string;
}

export interface EnvDeps {
  cwd: string;
  env: NodeJS.ProcessEnv;
  out: (line: string) => void;
}

function context(deps: Partial<EnvDeps>, json: boolean): { ctx: WorkflowContext; out: (line: string) => void } {
  const out = deps.out ?? writeOut;
  const ctx = workflowContext(deps.cwd ?? process.cwd(), deps.env ?? process.env, out, undefined, json ? noProgress : undefined);
  return { ctx, out };
}

function lockDisplay(ctx: WorkflowContext): string {
  return displayPath(ctx.cwd, join(ctx.project.root, LOCK_FILE));
}

function environmentNow(ctx: WorkflowContext): Promise<Environment> {
  return interruptible('env stopped', (abort) => currentEnvironment(ctx, kernelPath(ctx), abort));
}

/**
 * `env lock`: write env/ukernel.lock (atomically) from the environment as it is now; prints
 * `Locked environment: env/ukernel.lock`. `--check`: write nothing; exit 0 when the lock
 * matches, else LockStale (UK170) naming each drifted entry, LockMissing (UK171) without a lock.
 */
export async function envLock(raw: RawEnvLockOptions, deps: Partial<EnvDeps> = {}): Promise<number> {
  const json = raw.json === true;
  const { ctx, out } = context(deps, json);
  const display = lockDisplay(ctx);
  if (raw.check === true) {
    const file = readLockFile(ctx.project.root, display);
    if (file === null) {
      throw new UkernelError('LockMissing', `${display} does not exist, so there is nothing to check`, {
        hint: 'Run `ukernel env lock` and commit env/ukernel.lock.',
      });
    }
    const current = await environmentNow(ctx);
    const drift = lockDrift(file.lock, current.lock);
    if (drift.length > 0) throw staleLockError(display, drift, current.kernelMissing);
    if (json) out(JSON.stringify({ lock: display, current: true }));
    else out(`Lock is current: ${display}`);
    return 0;
  }
  const { lock } = await lockable(ctx);
  writeFileAtomic(join(ctx.project.root, LOCK_FILE), renderLock(lock), { display });
  if (json) out(JSON.stringify({ lock: display, locked: lock }));
  else out(`Locked environment: ${display}`);
  return 0;
}

/** The environment when it can be locked: the kernel built, no package asked that cannot be. */
async function lockable(ctx: WorkflowContext): Promise<Environment> {
  const packages = ctx.project.config.env.packages ?? [];
  if (packages.length > 0) {
    throw new UkernelError(
      'EnvUnsupported',
      `ukernel.toml [env] packages asks for ${packages.join(', ')}, but this ukernel (${VERSION}) cannot resolve Python packages yet`,
      { hint: 'Remove packages from [env] and lock again: the image holds the standard library and src/.' },
    );
  }
  const current = await environmentNow(ctx);
  if (current.kernelMissing !== null) {
    throw new UkernelError('KernelNotFound', `cannot lock the kernel: ${current.kernelMissing}`, {
      hint: 'Build the kernel first: bash scripts/build-kernel.sh (or set UKERNEL_KERNEL).',
    });
  }
  return current;
}

type LockState =
  | { state: 'current' }
  | { state: 'stale'; drift: Drift[] }
  | { state: 'missing' }
  | { state: 'invalid'; error: { code: string; message: string } };

function lockState(ctx: WorkflowContext, current: Environment, display: string): LockState {
  try {
    const file = readLockFile(ctx.project.root, display);
    if (file === null) return { state: 'missing' };
    const drift = lockDrift(file.lock, current.lock);
    return drift.length === 0 ? { state: 'current' } : { state: 'stale', drift };
  } catch (err) {
    if (!isUkernelError(err)) throw err;
    const shown = err.shown();
    return { state: 'invalid', error: { code: shown.code, message: shown.message } };
  }
}

/** `env show`: base, adapter, toolchain, kernel, dependencies (asked and resolved), system, lock. */
export async function envShow(raw: RawEnvShowOptions, deps: Partial<EnvDeps> = {}): Promise<number> {
  const json = raw.json === true;
  const { ctx, out } = context(deps, json);
  const display = lockDisplay(ctx);
  const current = await environmentNow(ctx);
  const state = lockState(ctx, current, display);
  const lock = current.lock;
  if (json) {
    out(
      JSON.stringify({
        project: ctx.project.config.project.name,
        language: lock.env.language,
        base: lock.env.base,
        adapter: lock.adapter,
        toolchain: lock.toolchain,
        kernel: current.kernelMissing === null ? lock.kernel : { version: lock.kernel.version, sha256: null },
        abi: lock.abi.version,
        ukernel: lock.ukernel.version,
        dependencies: { asked: lock.env.packages, resolved: lock.dependencies },
        system: { asked: [], resolved: lock.system },
        lock: { path: display, ...state },
      }),
    );
    return 0;
  }
  for (const line of showLines(ctx, current, state, display)) out(line);
  return 0;
}

function showLines(ctx: WorkflowContext, current: Environment, state: LockState, display: string): string[] {
  const lock = current.lock;
  const adapter = lock.adapter;
  const lines = [
    `Project: ${ctx.project.config.project.name} (${lock.env.language})`,
    `Base: ${lock.env.base}`,
    adapter.runtime !== undefined
      ? `Adapter: ${adapter.name} ${adapter.version ?? '?'} (runtime ${adapter.runtime})`
      : `Adapter: ${adapter.name}`,
  ];
  for (const s of adapter.sources ?? []) lines.push(`  source ${s.name} ${s.version}  sha256 ${s.sha256}`);
  lines.push(
    `Toolchain: zig ${lock.toolchain.zig} (${lock.toolchain.zig_wheel}, sha256 ${lock.toolchain.zig_wheel_sha256})`,
    current.kernelMissing === null
      ? `Kernel: ${lock.kernel.version}  sha256 ${lock.kernel.sha256}`
      : `Kernel: ${lock.kernel.version}  not built (${current.kernelMissing})`,
    `ABI: ${lock.abi.version}`,
    `ukernel: ${lock.ukernel.version}`,
  );
  if (lock.env.language === 'python') {
    const asked = lock.env.packages;
    lines.push(
      `Dependencies: asked ${asked.length === 0 ? 'none' : asked.join(', ')}; resolved ${dependencyText(lock)}`,
      `System libraries: none`,
    );
  } else {
    lines.push('Dependencies: none (a native project links what it needs from its Zig sources)');
  }
  lines.push(lockLine(state, display));
  return lines;
}

function dependencyText(lock: Lock): string {
  if (lock.dependencies.length === 0) return 'none';
  return lock.dependencies.map((d) => `${d.name}==${d.version}`).join(', ');
}

function lockLine(state: LockState, display: string): string {
  switch (state.state) {
    case 'current':
      return `Lock: ${display} is current`;
    case 'missing':
      return `Lock: none (run \`ukernel env lock\` to write ${display})`;
    case 'stale':
      return `Lock: ${display} is stale (${driftSections(state.drift)} changed: ${state.drift.map((d) => d.entry).join(', ')}); run \`ukernel env lock\``;
    case 'invalid':
      return `Lock: ${display} is invalid (${state.error.code}: ${state.error.message})`;
  }
}

/**
 * `env add` / `env remove`: a native project has nothing to add (EnvUnsupported, UK173, saying
 * what its lock pins); a Python project's packages and system libraries are not available yet.
 */
export async function envChange(
  verb: 'add' | 'remove',
  names: readonly string[],
  raw: RawEnvAddOptions,
  deps: Partial<EnvDeps> = {},
): Promise<number> {
  if (names.length === 0 && raw.requirements === undefined) {
    throw new UkernelError('Usage', `\`ukernel env ${verb}\` needs the packages to ${verb}`, {
      hint: `ukernel env ${verb} PKG[==VERSION] … (or --system NAME, or -r requirements.txt)`,
    });
  }
  const { ctx } = context(deps, true);
  const { config } = ctx.project;
  const what = names.length > 0 ? names.join(' ') : `-r ${raw.requirements}`;
  if (config.project.language !== 'python') {
    throw new UkernelError(
      'EnvUnsupported',
      `a ${config.project.language} project has no ${raw.system === true ? 'system libraries' : 'packages'} to ${verb} (${what}): its lock pins the toolchain (zig ${ctx.pins.zigVersion}), the kernel and the ABI`,
      { hint: 'Run `ukernel env lock` to pin them; a native workload links what it needs from its Zig sources.' },
    );
  }
  const kind = raw.system === true ? 'system libraries (--system)' : 'Python packages';
  throw new UkernelError(
    'EnvUnsupported',
    `\`ukernel env ${verb}\` of ${kind} is not available in this ukernel (${VERSION}) yet (${what})`,
    {
      hint: 'A Python image holds the standard library and src/ for now; `ukernel env lock` pins the adapter runtime, the toolchain and the kernel (docs/environments.md).',
    },
  );
}
