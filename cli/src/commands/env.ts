// `ukernel env lock [--check] [--json]`, `ukernel env show [--json]`, `ukernel env add|remove`
// (docs/environments.md): the project's pinned environment and env/ukernel.lock.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { interruptible } from '../child.js';
import { LOCK_FILE } from '../constants.js';
import { isUkernelError, UkernelError } from '../errors.js';
import { displayPath, writeFileAtomic } from '../fsutil.js';
import { noProgress } from '../progress.js';
import { errColors, writeErr, writeOut } from '../ui.js';
import {
  currentEnvironment,
  type Dependency,
  type Drift,
  driftSections,
  type Environment,
  type Lock,
  lockDrift,
  lockedDependencies,
  readLockFile,
  renderLock,
  staleLockError,
  systemDrift,
} from '../project/lock.js';
import {
  addRequirements,
  checkRequirement,
  ensureWheel,
  readRequirementsFile,
  removeRequirements,
  resolvePackages,
  setManifestList,
  wheelCacheDir,
} from '../project/packages.js';
import { catalogText, projectSystem, systemCatalog, systemLibrary } from '../project/system.js';
import { readToolchainPins, ukernelRoot } from '../toolchain.js';
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
  json?: boolean;
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
    // Before the runtime is found: one with other system libraries may be minutes of build.
    const systemChanged = systemDrift(ctx, file.lock);
    if (systemChanged.length > 0) throw staleLockError(display, systemChanged, null);
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

/**
 * The environment when it can be locked: the kernel built; `[env] packages` resolved (kept from
 * the lock when it resolved exactly these, resolved with pip otherwise, each wheel fetched into
 * the cache and checked).
 */
async function lockable(
  ctx: WorkflowContext,
  packages?: readonly string[],
  system: readonly string[] | undefined = ctx.project.config.env.system,
): Promise<Environment> {
  const asked = packages ?? ctx.project.config.env.packages ?? [];
  requireKernel(ctx);
  return interruptible('env stopped', async (abort) => {
    const kept = lockedDependencies(ctx.project, asked);
    let dependencies: Dependency[] = kept;
    if (asked.length > 0 && kept.length === 0) {
      const step = ctx.progress.begin(`Resolving ${asked.join(' ')} for Python 3.13 (pure-Python wheels)`);
      try {
        dependencies = await resolvePackages(asked, ctx.env, abort, (line) => writeErr(errColors().yellow(line)));
      } finally {
        step.done();
      }
      await fetchWheels(ctx, dependencies, abort);
    }
    const current = await currentEnvironment(ctx, kernelPath(ctx), abort, { packages: asked, dependencies, system });
    if (current.kernelMissing !== null) throw kernelMissingError(current.kernelMissing);
    return current;
  });
}

function kernelMissingError(why: string): UkernelError {
  return new UkernelError('KernelNotFound', `cannot lock the kernel: ${why}`, {
    hint: 'Build the kernel first: bash scripts/build-kernel.sh (or set UKERNEL_KERNEL).',
  });
}

/** The lock pins the kernel's sha256: check that it is there before resolving anything. */
function requireKernel(ctx: WorkflowContext): void {
  const kernel = kernelPath(ctx);
  if (!existsSync(kernel.path)) throw kernelMissingError(`no kernel ELF at ${kernel.path} (${kernel.from})`);
}

/** Each wheel into the cache, checked against its sha256 (packages.ts ensureWheel). */
async function fetchWheels(ctx: WorkflowContext, dependencies: readonly Dependency[], abort: AbortSignal): Promise<void> {
  const step = ctx.progress.begin(`Fetching ${dependencies.length} wheel(s) into ${wheelCacheDir(ctx.env)}`);
  try {
    for (const dep of dependencies) {
      await ensureWheel(dep, { env: ctx.env, abort, warn: (line) => writeErr(line), entry: `dependencies[${dep.name}]` });
    }
  } finally {
    step.done();
  }
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
        system: { asked: ctx.project.config.env.system ?? [], resolved: lock.system },
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
      `System libraries: asked ${(ctx.project.config.env.system ?? []).join(', ') || 'none'}; built in ${systemText(lock)}`,
    );
  } else {
    lines.push('Dependencies: none (a native project links what it needs from its Zig sources)');
  }
  lines.push(lockLine(state, display));
  return lines;
}

function systemText(lock: Lock): string {
  if (lock.system.length === 0) return 'none';
  return lock.system.map((s) => `${s.name} ${s.version} (source sha256 ${s.source_sha256.slice(0, 12)}…)`).join(', ');
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
 * `env add PKG[==VERSION]… | -r FILE` / `env remove PKG…` of a Python project: the new `[env]
 * packages` is resolved (pip, pure-Python wheels for Python 3.13), its wheels fetched and checked,
 * and only then are ukernel.toml (the list, the rest of the file as it was) and env/ukernel.lock
 * written, each atomically: a failure leaves both as they were. A native project has nothing to
 * add (EnvUnsupported, UK173, saying what its lock pins). With `--system` the names are system
 * libraries of the catalog (envSystemChange).
 */
export async function envChange(
  verb: 'add' | 'remove',
  names: readonly string[],
  raw: RawEnvAddOptions,
  deps: Partial<EnvDeps> = {},
): Promise<number> {
  if (names.length === 0 && raw.requirements === undefined && raw.system === true) {
    const catalog = systemCatalog(readToolchainPins(ukernelRoot()).all);
    throw new UkernelError('Usage', `\`ukernel env ${verb} --system\` needs the system libraries to ${verb}`, {
      hint: `ukernel env ${verb} --system NAME …; the catalog: ${catalogText(catalog)}`,
    });
  }
  if (names.length === 0 && raw.requirements === undefined) {
    throw new UkernelError('Usage', `\`ukernel env ${verb}\` needs the packages to ${verb}`, {
      hint: verb === 'add' ? 'ukernel env add PKG[==VERSION] … (or -r requirements.txt)' : 'ukernel env remove PKG …',
    });
  }
  const json = raw.json === true;
  const { ctx, out } = context(deps, json);
  const { config } = ctx.project;
  const what = names.length > 0 ? names.join(' ') : `-r ${raw.requirements}`;
  if (config.project.language !== 'python') {
    throw new UkernelError(
      'EnvUnsupported',
      `a ${config.project.language} project has no ${raw.system === true ? 'system libraries' : 'packages'} to ${verb} (${what}): its lock pins the toolchain (zig ${ctx.pins.zigVersion}), the kernel and the ABI`,
      { hint: 'Run `ukernel env lock` to pin them; a native workload links what it needs from its Zig sources.' },
    );
  }
  if (raw.system === true) return envSystemChange(ctx, out, verb, names, raw);
  const before = config.env.packages ?? [];
  const packages = verb === 'add' ? addRequirements(before, askedPackages(ctx, names, raw)) : removed(before, names);
  const display = lockDisplay(ctx);
  const tomlDisplay = displayPath(ctx.cwd, ctx.project.configPath);
  const toml = setManifestList(readFileSync(ctx.project.configPath, 'utf8'), 'packages', packages, tomlDisplay);
  const { lock } = await lockable(ctx, packages);
  const lockText = renderLock(lock);
  writeFileAtomic(ctx.project.configPath, toml, { display: tomlDisplay });
  writeFileAtomic(join(ctx.project.root, LOCK_FILE), lockText, { display });
  if (json) {
    out(JSON.stringify({ manifest: tomlDisplay, packages, lock: display, dependencies: lock.dependencies }));
    return 0;
  }
  out(
    `${verb === 'add' ? 'Added' : 'Removed'} ${what} (${tomlDisplay} [env] packages: ${packages.length === 0 ? 'none' : packages.join(', ')})`,
  );
  out(`Resolved: ${dependencyText(lock)}`);
  out(`Locked environment: ${display}`);
  return 0;
}

function askedPackages(ctx: WorkflowContext, names: readonly string[], raw: RawEnvAddOptions): string[] {
  const asked = names.map((name) => checkRequirement(name, 'env add'));
  if (raw.requirements !== undefined) {
    const path = resolve(ctx.cwd, raw.requirements);
    asked.push(...readRequirementsFile(path, displayPath(ctx.cwd, path)));
  }
  return addRequirements([], asked);
}

function removed(before: readonly string[], names: readonly string[]): string[] {
  const { packages, missing } = removeRequirements(before, names);
  if (missing.length > 0) {
    throw new UkernelError(
      'Usage',
      `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in ukernel.toml [env] packages (${before.length === 0 ? 'none' : before.join(', ')})`,
      {
        hint: 'Run `ukernel env show` for the packages the project asks for.',
      },
    );
  }
  return packages;
}

/**
 * `env add|remove --system NAME…`: `[env] system` changed (names or aliases of the catalog,
 * scripts/toolchain.env; anything else is SystemUnknown, UK178, listing it), the runtime with
 * exactly those libraries found or built (adapters/python/build.sh --system: minutes the first
 * time), and only then ukernel.toml and env/ukernel.lock written, each atomically.
 */
async function envSystemChange(
  ctx: WorkflowContext,
  out: (line: string) => void,
  verb: 'add' | 'remove',
  names: readonly string[],
  raw: RawEnvAddOptions,
): Promise<number> {
  if (raw.requirements !== undefined) {
    throw new UkernelError('Usage', '`-r FILE` names Python packages; it does not go with --system', {
      hint: `ukernel env ${verb} --system NAME …`,
    });
  }
  const catalog = systemCatalog(ctx.pins.all);
  const named = names.map((name) => systemLibrary(catalog, name, `env ${verb} --system`).name);
  const tomlDisplay = displayPath(ctx.cwd, ctx.project.configPath);
  // A hand-edited alias or unknown name there is named as such (not "openssl is not in it").
  const before = projectSystem(catalog, ctx.project.config.env.system, `${tomlDisplay} [env] system`).map((lib) => lib.name);
  const missing = named.filter((name) => !before.includes(name));
  if (verb === 'remove' && missing.length > 0) {
    throw new UkernelError(
      'Usage',
      `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in ukernel.toml [env] system (${before.length === 0 ? 'none' : before.join(', ')})`,
      { hint: 'Run `ukernel env show` for the system libraries the project asks for.' },
    );
  }
  const system = (verb === 'add' ? [...new Set([...before, ...named])] : before.filter((n) => !named.includes(n))).sort();
  const display = lockDisplay(ctx);
  const toml = setManifestList(readFileSync(ctx.project.configPath, 'utf8'), 'system', system, tomlDisplay);
  const { lock } = await lockable(ctx, undefined, system);
  const lockText = renderLock(lock);
  writeFileAtomic(ctx.project.configPath, toml, { display: tomlDisplay });
  writeFileAtomic(join(ctx.project.root, LOCK_FILE), lockText, { display });
  if (raw.json === true) {
    out(JSON.stringify({ manifest: tomlDisplay, system, lock: display, locked: lock.system, runtime: lock.adapter.runtime }));
    return 0;
  }
  const changed = [...new Set(named)].map((name) => catalog.find((lib) => lib.name === name)!);
  for (const lib of changed) {
    out(`${verb === 'add' ? 'Added' : 'Removed'} system library ${lib.name}: ${lib.about} (modules ${lib.modules.join(', ')})`);
  }
  out(`${tomlDisplay} [env] system: ${system.length === 0 ? 'none' : system.join(', ')}`);
  out(`Adapter runtime: ${lock.adapter.runtime ?? '?'} (system libraries: ${systemText(lock)})`);
  out(`Locked environment: ${display}`);
  return 0;
}
