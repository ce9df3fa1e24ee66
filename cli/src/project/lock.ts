// env/ukernel.lock (docs/environments.md): every input an image is made of, pinned by version
// and sha256 — the ukernel CLI, the kernel ELF, the ABI, the toolchain, the adapter (and for a
// Python project its runtime's source packages and build options), language dependencies and
// system libraries. TOML (smol-toml, like ukernel.toml), keys sorted at every level, lists
// sorted by name, no timestamps and no paths: the same environment always gives the same bytes.
//
// The lock is compared with the environment as it is now (currentLock) entry by entry
// (lockDrift); `env lock --check`, `build --locked` and CI=true refuse a drifted lock, a plain
// build warns.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml, stringify as stringifyToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import {
  KERNEL_VERSION_FILE,
  LOCK_DRIFT_LISTED_MAX,
  LOCK_FILE,
  LOCK_FILE_BYTES_MAX,
  LOCK_FORMAT_VERSION,
  LOCK_LIST_ENTRIES_MAX,
  TOOLCHAIN_FILE,
} from '../constants.js';
import { UkernelError } from '../errors.js';
import { readProjectFile } from '../fsutil.js';
import { sha256Hex } from '../hash.js';
import { formatAbiVersion } from '../image/format.js';
import { byName, PROVIDED_ABI, sortKeysDeep } from '../image/manifest.js';
import { VERSION } from '../version.js';
import { defaultPythonBuildUi, ensurePythonRuntime, type PythonRuntime, runtimeSystem } from '../build/python.js';
import type { Progress } from '../progress.js';
import type { Project } from './config.js';
import { projectSystem, systemCatalog } from './system.js';
import { excerptAt, locateKey, type Position } from './toml-position.js';

const SHA256_RE = /^[0-9a-f]{64}$/;
/** A name or version as locks hold them: printable ASCII without quotes or spaces. */
const TOKEN_RE = /^[A-Za-z0-9][A-Za-z0-9._+:~!=-]{0,127}$/;

const sha256 = z.string().regex(SHA256_RE, 'expected 64 lower-case hex digits (a sha256)');
const token = z.string().regex(TOKEN_RE, 'expected a name or version (letters, digits and ._+:~!=-)');

/** One source package of the adapter runtime (a Debian orig tarball, by sha256). */
const sourceSchema = z.strictObject({ name: token, version: token, tarball: token, sha256 });
/** A resolved language dependency (a Python wheel): the exact artifact, by sha256. */
const dependencySchema = z.strictObject({
  name: token,
  version: token,
  artifact: token,
  sha256,
  url: z.string().regex(/^https:\/\/[!-~]{1,2000}$/, 'expected an https:// URL'),
});
/** A system library built into the adapter from a Debian source package, by sha256. */
const systemSchema = z.strictObject({ name: token, version: token, source_sha256: sha256 });
const optionValue = z.union([z.string().max(4096), z.boolean(), z.number()]);

export const lockSchema = z.strictObject({
  format: z.literal(LOCK_FORMAT_VERSION),
  ukernel: z.strictObject({ version: token }),
  abi: z.strictObject({ version: token }),
  kernel: z.strictObject({ version: token, sha256 }),
  toolchain: z.strictObject({ zig: token, zig_wheel: token, zig_wheel_sha256: sha256 }),
  env: z.strictObject({
    language: token,
    base: token,
    adapter: token,
    packages: z.array(z.string().max(200)).max(LOCK_LIST_ENTRIES_MAX),
  }),
  adapter: z.strictObject({
    name: token,
    version: token.optional(),
    runtime: token.optional(),
    options: z.record(z.string().regex(/^[a-z0-9_]{1,64}$/), optionValue).optional(),
    sources: z.array(sourceSchema).max(LOCK_LIST_ENTRIES_MAX).optional(),
  }),
  dependencies: z.array(dependencySchema).max(LOCK_LIST_ENTRIES_MAX),
  system: z.array(systemSchema).max(LOCK_LIST_ENTRIES_MAX),
});

export type Lock = z.output<typeof lockSchema>;
export type LockSource = z.output<typeof sourceSchema>;
export type Dependency = z.output<typeof dependencySchema>;

/** The environment as it is now, before it is a lock: the kernel may be missing (not built). */
export interface Environment {
  lock: Lock;
  /** Why the kernel's sha256 is unknown (no kernel ELF at its path), or null. */
  kernelMissing: string | null;
}

/** Where the kernel ELF comes from (workflow.ts kernelPath). */
export interface KernelSource {
  path: string;
  from: string;
}

/** The kernel version of the checkout (`kernel_version` in kernel/src/constants.zig), or "unknown". */
export function kernelVersion(ukernelRoot: string): string {
  try {
    const text = readFileSync(join(ukernelRoot, KERNEL_VERSION_FILE), 'utf8');
    const match = /pub const kernel_version = "([0-9A-Za-z.+-]{1,40})";/.exec(text);
    return match?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The adapter part of a lock: native's name; Python's runtime, options and source packages. */
export function adapterEntry(adapter: string, runtime: PythonRuntime | null): Lock['adapter'] {
  if (runtime === null) return { name: adapter };
  const manifest = runtime.manifest as PythonRuntime['manifest'] & { options?: unknown };
  const options: Record<string, string | boolean | number> = {};
  if (manifest.options !== null && typeof manifest.options === 'object') {
    for (const [key, value] of Object.entries(manifest.options as Record<string, unknown>)) {
      if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') options[key] = value;
    }
  }
  const sources = manifest.sources
    .map((s) => ({ name: s.name, version: s.debian_version ?? '', tarball: s.tarball ?? '', sha256: s.sha256 }))
    .sort(byName);
  return {
    name: String(manifest.name ?? adapter),
    version: String(manifest.version ?? ''),
    runtime: runtime.key,
    options,
    sources,
  };
}

export interface LockContext {
  ukernelRoot: string;
  env: NodeJS.ProcessEnv;
  pins: { zigVersion: string; all: Readonly<Record<string, string>> };
  project: Project;
  progress: Progress;
}

/**
 * The environment the project would be built with now. A Python project's adapter runtime is
 * found as `ukernel build` finds it (adapters/python/build.sh: instant when cached, built
 * otherwise, minutes).
 */
export async function currentEnvironment(
  ctx: LockContext,
  kernel: KernelSource,
  abort: AbortSignal,
  resolved?: { packages: readonly string[]; dependencies: readonly Dependency[]; system?: readonly string[] },
): Promise<Environment> {
  const { config } = ctx.project;
  const packages = [...(resolved?.packages ?? config.env.packages ?? [])].sort();
  const system = projectSystem(
    systemCatalog(ctx.pins.all),
    resolved?.system ?? config.env.system,
    'ukernel.toml [env] system',
  ).map((lib) => lib.name);
  const runtime =
    config.build.adapter === 'python'
      ? await ensurePythonRuntime(ctx.ukernelRoot, ctx.env, defaultPythonBuildUi(ctx.progress, ctx.env), abort, system)
      : null;
  let kernelSha256 = '';
  let kernelMissing: string | null = null;
  try {
    kernelSha256 = sha256Hex(readFileSync(kernel.path));
  } catch (err) {
    kernelMissing = `no kernel ELF at ${kernel.path} (${kernel.from}; ${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`;
  }
  const lock: Lock = {
    format: LOCK_FORMAT_VERSION,
    ukernel: { version: VERSION },
    abi: { version: formatAbiVersion(PROVIDED_ABI) },
    kernel: { version: kernelVersion(ctx.ukernelRoot), sha256: kernelSha256 },
    toolchain: {
      zig: ctx.pins.zigVersion,
      zig_wheel: ctx.pins.all.ZIG_WHEEL ?? '',
      zig_wheel_sha256: ctx.pins.all.ZIG_WHEEL_SHA256 ?? '',
    },
    env: {
      language: config.project.language,
      base: config.env.base,
      adapter: config.build.adapter,
      packages,
    },
    adapter: adapterEntry(config.build.adapter, runtime),
    dependencies: resolved !== undefined ? [...resolved.dependencies] : lockedDependencies(ctx.project, packages),
    system: runtime === null ? [] : lockedSystem(runtime),
  };
  return { lock, kernelMissing };
}

/** The lock's `system` entries: what the runtime was built with (its manifest), by name. */
function lockedSystem(runtime: PythonRuntime): Lock['system'] {
  return runtimeSystem(runtime)
    .map((lib) => ({ name: lib.name, version: lib.debian_version, source_sha256: lib.sha256 }))
    .sort(byName);
}

/**
 * The dependencies env/ukernel.lock resolved for exactly `packages` (sorted), or [] when there is
 * no valid lock or it resolved other packages: the environment's dependencies are what was
 * resolved last for what the manifest asks (resolving again is `env lock` after a manifest edit,
 * or `env add`), so locking twice gives the same bytes.
 */
export function lockedDependencies(project: Project, packages: readonly string[]): Dependency[] {
  if (packages.length === 0) return [];
  try {
    const file = readLockFile(project.root);
    if (file === null || !samePackages(file.lock.env.packages, packages)) return [];
    return file.lock.dependencies;
  } catch {
    return [];
  }
}

/** Whether two package lists hold the same requirements (order aside). */
export function samePackages(a: readonly string[], b: readonly string[]): boolean {
  return JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());
}

const LOCK_HEADER =
  '# env/ukernel.lock: the environment this project is built from, pinned by version and sha256.\n' +
  '# Written by `ukernel env lock`; do not edit by hand. Commit it: `ukernel build --locked` (and CI=true)\n' +
  '# refuse to build when it no longer matches. Fields: docs/environments.md\n\n';

/** The lock's bytes: a header comment, then TOML with keys sorted at every level. */
export function renderLock(lock: Lock): string {
  const checked = lockSchema.parse(lock); // Never write a lock this ukernel would refuse to read.
  return `${LOCK_HEADER}${stringifyToml(sortKeysDeep(checked) as Record<string, unknown>)}\n`;
}

/** A lock file as read: the parsed lock and its text (for positions). */
export interface LockFile {
  lock: Lock;
  text: string;
}

/**
 * env/ukernel.lock of the project, validated, or null when there is none. Errors: LockInvalid
 * (UK121: not TOML, or a key or value out of the format, at file:line:column), LockFormatNewer
 * (UK172: written by a newer ukernel), file errors (a directory, unreadable, over 16 MiB).
 */
export function readLockFile(projectRoot: string, display: string = LOCK_FILE): LockFile | null {
  const bytes = readProjectFile(join(projectRoot, LOCK_FILE), {
    display,
    maxBytes: LOCK_FILE_BYTES_MAX,
    invalid: 'LockInvalid',
  });
  if (bytes === null) return null;
  const text = bytes.toString('utf8');
  let data: Record<string, unknown>;
  try {
    data = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const what = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new UkernelError('LockInvalid', `${display}:${err.line}:${err.column}: ${what}`, {
      details: excerptAt(text, err.line, err.column),
    });
  }
  const format = data.format;
  if (typeof format === 'number' && Number.isInteger(format) && format > LOCK_FORMAT_VERSION) {
    const at = locateKey(text, ['format']);
    throw new UkernelError(
      'LockFormatNewer',
      `${display}:${at.line}:${at.column}: lock format ${format}; this ukernel (${VERSION}) reads lock format ${LOCK_FORMAT_VERSION}`,
    );
  }
  const result = lockSchema.safeParse(data);
  if (result.success) return { lock: result.data, text };
  const issue = result.error.issues[0]!;
  const path = issue.path.map(String);
  const at = locateLockKey(text, path);
  const shown = path.length === 0 ? '(top level)' : path.join('.');
  throw new UkernelError('LockInvalid', `${display}:${at.line}:${at.column}: ${shown}: ${issueText(issue)}`, {
    details: excerptAt(text, at.line, at.column),
  });
}

/**
 * Where the key at `path` is in the lock's text. A path into a list of tables
 * (`adapter.sources.1.sha256`) is found under the list's N-th `[[adapter.sources]]` header, as
 * `env lock` writes them; anything else, or a list written another way, as locateKey finds it.
 */
function locateLockKey(text: string, path: readonly string[]): Position {
  const fallback = (): Position =>
    locateKey(
      text,
      path.filter((part) => !/^[0-9]+$/.test(part)),
    );
  const at = path.findIndex((part) => /^[0-9]+$/.test(part));
  if (at <= 0) return fallback();
  const header = `[[${path.slice(0, at).join('.')}]]`;
  const index = Number(path[at]);
  const key = path[at + 1];
  const lines = text.split('\n');
  let seen = -1;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== header || ++seen !== index) continue;
    for (let j = i + 1; key !== undefined && j < lines.length && !/^\s*\[/.test(lines[j]!); j++) {
      const line = lines[j]!;
      if (line.trimStart().startsWith(key) && /^\s*=/.test(line.trimStart().slice(key.length))) {
        return { line: j + 1, column: line.length - line.trimStart().length + 1 };
      }
    }
    return { line: i + 1, column: 1 };
  }
  return fallback();
}

function issueText(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `missing (expected ${issue.expected})`;
  if (issue.code === 'invalid_value' && issue.path.join('.') === 'format') {
    return `expected lock format ${LOCK_FORMAT_VERSION}`;
  }
  return issue.message;
}

/** One entry that differs between the lock and the environment. */
export interface Drift {
  /** Dotted path, lists by name: `kernel.sha256`, `adapter.sources[musl].sha256`. */
  entry: string;
  /** What part of the environment it is (driftSection). */
  section: string;
  locked: string | null;
  current: string | null;
}

const SECTIONS: Readonly<Record<string, string>> = {
  format: 'the lock format',
  ukernel: 'the ukernel CLI',
  abi: 'the ABI',
  kernel: 'the kernel',
  toolchain: `the toolchain (${TOOLCHAIN_FILE})`,
  env: "ukernel.toml's environment ([project] language, [env], [build] adapter)",
  adapter: 'the adapter runtime',
  dependencies: 'the language dependencies',
  system: 'the system libraries',
};

/** Scalars of a lock by dotted path; lists of tables keyed by `name`, lists of strings joined. */
function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) {
      out.set(prefix, JSON.stringify(value));
      return;
    }
    for (const [index, item] of value.entries()) {
      const name = (item as { name?: unknown }).name;
      flatten(item, `${prefix}[${typeof name === 'string' ? name : index}]`, out);
    }
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      flatten(inner, prefix === '' ? key : `${prefix}.${key}`, out);
    }
    return;
  }
  out.set(prefix, String(value));
}

/** Every entry where `locked` and `current` differ, in a stable order (sorted by entry). */
export function lockDrift(locked: Lock, current: Lock): Drift[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(locked, '', a);
  flatten(current, '', b);
  const entries = [...new Set([...a.keys(), ...b.keys()])].sort();
  const drift: Drift[] = [];
  for (const entry of entries) {
    const before = a.get(entry) ?? null;
    const now = b.get(entry) ?? null;
    if (before === now) continue;
    const top = /^[a-z_]+/.exec(entry)?.[0] ?? entry;
    drift.push({ entry, section: SECTIONS[top] ?? top, locked: before, current: now });
  }
  return collapseDependencies(drift, locked);
}

/**
 * When `[env] packages` changed, the dependencies are not known until they are resolved again:
 * one entry says so, instead of every field of every locked wheel as "(absent)".
 */
function collapseDependencies(drift: Drift[], locked: Lock): Drift[] {
  const isDependency = (d: Drift): boolean => d.entry === 'dependencies' || d.entry.startsWith('dependencies[');
  if (!drift.some((d) => d.entry.startsWith('env.packages')) || !drift.some(isDependency)) return drift;
  const resolved = locked.dependencies.length;
  const summary: Drift = {
    entry: 'dependencies',
    section: SECTIONS.dependencies ?? 'dependencies',
    locked: `${resolved} distribution${resolved === 1 ? '' : 's'} resolved for the [env] packages locked`,
    current: 'not resolved for the new [env] packages (`ukernel env lock` resolves them)',
  };
  return [summary, ...drift.filter((d) => !isDependency(d))];
}

/**
 * `[env] system` against the lock's `[[system]]`, by name, without the adapter runtime: a set of
 * libraries the lock did not pin is drift seen before a runtime with them is found or built
 * (minutes), so `--locked`, `CI=true` and `env lock --check` refuse at once. One entry, `system`,
 * or none (also when the names match: versions and hashes are compared against the runtime).
 * An alias or unknown name in `[env] system` is SystemUnknown (UK178), as at the build.
 */
export function systemDrift(ctx: LockContext, locked: Lock): Drift[] {
  if (ctx.project.config.build.adapter !== 'python') return [];
  const catalog = systemCatalog(ctx.pins.all);
  const asked = projectSystem(catalog, ctx.project.config.env.system, 'ukernel.toml [env] system').map((lib) => lib.name);
  const pinned = locked.system.map((lib) => lib.name).sort();
  if (asked.join(',') === pinned.join(',')) return [];
  return [
    {
      entry: 'system',
      section: SECTIONS.system!,
      locked: pinned.join(', ') || 'none',
      current: `${asked.join(', ') || 'none'} (ukernel.toml [env] system)`,
    },
  ];
}

/** "the kernel, the adapter runtime": what drifted, each part once, in order of first entry. */
export function driftSections(drift: readonly Drift[]): string {
  return [...new Set(drift.map((d) => d.section))].join(', ');
}

/** One line per drifted entry (at most LOCK_DRIFT_LISTED_MAX, then a count). */
export function driftLines(drift: readonly Drift[]): string[] {
  const lines = drift
    .slice(0, LOCK_DRIFT_LISTED_MAX)
    .map(
      (d) => `${d.entry}: locked ${d.locked ?? '(absent)'}, now ${d.current === '' ? '(unknown)' : (d.current ?? '(absent)')}`,
    );
  if (drift.length > LOCK_DRIFT_LISTED_MAX) lines.push(`… and ${drift.length - LOCK_DRIFT_LISTED_MAX} more`);
  return lines;
}

/** The stale-lock error: what drifted (sections) in the message, each entry a detail line. */
export function staleLockError(display: string, drift: readonly Drift[], kernelMissing: string | null): UkernelError {
  const details = driftLines(drift);
  if (kernelMissing !== null) details.push(`(${kernelMissing})`);
  return new UkernelError('LockStale', `${display} does not match the environment: ${driftSections(drift)} changed`, {
    details,
  });
}

/** Whether the environment asks for locked builds: CI=true (or 1), as most CI services set it. */
export function ciLocked(env: NodeJS.ProcessEnv): boolean {
  return env.CI === 'true' || env.CI === '1';
}

/**
 * A build installs what the lock resolved, so `[env] packages` needs a lock that resolved exactly
 * them: LockMissing (UK171) without a lock, LockStale (UK170) when the lock resolved other
 * packages (ukernel.toml was edited), both saying to run `ukernel env lock`. A build never
 * resolves (docs/environments.md, "Builds").
 */
export function requireResolvedPackages(project: Project, file: LockFile | null, display: string): void {
  const packages = project.config.env.packages ?? [];
  if (packages.length === 0) return;
  const hint = 'Run `ukernel env lock` (it resolves them and pins every wheel), then build again.';
  if (file === null) {
    throw new UkernelError(
      'LockMissing',
      `ukernel.toml [env] packages asks for ${packages.join(', ')}, and there is no ${display} resolving them`,
      { hint },
    );
  }
  if (!samePackages(file.lock.env.packages, packages)) {
    throw new UkernelError(
      'LockStale',
      `ukernel.toml [env] packages asks for ${[...packages].sort().join(', ')}, but ${display} resolved ${file.lock.env.packages.join(', ') || 'none'}`,
      { hint },
    );
  }
}

export interface BuildLockOptions {
  /** `--locked`: a missing or stale lock is an error. */
  locked: boolean;
  /** The lock as messages name it (env/ukernel.lock relative to the cwd). */
  display: string;
  /** A warning line for the user (stderr). */
  warn: (line: string) => void;
}

/**
 * The lock check before a build (docs/environments.md, "Builds"): with --locked, a missing lock
 * is LockMissing (UK171); with --locked or CI=true, a lock that does not match the environment
 * is LockStale (UK170) naming every drifted entry; otherwise a stale lock is one warning. An
 * invalid lock or one of a newer format is refused always (the image would carry it).
 */
export async function checkLockForBuild(
  ctx: LockContext,
  kernel: KernelSource,
  options: BuildLockOptions,
  abort: AbortSignal,
): Promise<void> {
  const file = readLockFile(ctx.project.root, options.display);
  requireResolvedPackages(ctx.project, file, options.display);
  if (file === null) {
    if (!options.locked) return;
    throw new UkernelError('LockMissing', `${options.display} does not exist, and --locked builds only from a lock`);
  }
  const refuse = (drift: readonly Drift[], kernelMissing: string | null): UkernelError => {
    const error = staleLockError(options.display, drift, kernelMissing);
    const why = options.locked ? '--locked' : 'CI=true';
    return new UkernelError('LockStale', `${error.message} (${why}: refusing to build)`, { details: error.details });
  };
  // Before the runtime is found: one with other system libraries may be minutes of build.
  const systemChanged = systemDrift(ctx, file.lock);
  if (systemChanged.length > 0 && (options.locked || ciLocked(ctx.env))) throw refuse(systemChanged, null);
  const current = await currentEnvironment(ctx, kernel, abort);
  const drift = lockDrift(file.lock, current.lock);
  if (drift.length === 0) return;
  if (options.locked || ciLocked(ctx.env)) throw refuse(drift, current.kernelMissing);
  const entries = `${drift
    .slice(0, 3)
    .map((d) => d.entry)
    .join(', ')}${drift.length > 3 ? ', …' : ''}`;
  // A kernel not built yet (a fresh clone) is not a kernel that changed: say which it is.
  const why = current.kernelMissing !== null ? `; ${current.kernelMissing}: build it with scripts/build-kernel.sh` : '';
  options.warn(
    `warning: ${options.display} is stale (${driftSections(drift)} changed: ${entries}${why}); building with what is here now. Run \`ukernel env lock\` to update it.`,
  );
}

/**
 * At pack: the adapter runtime the last build used (build.json, `runtimeKey`; undefined for a
 * native build) against the lock's `adapter.runtime`: after `env add --system` without a build,
 * the image would carry a lock naming libraries its bin/python does not have. CI=true: LockStale
 * (UK170); otherwise one warning.
 */
export function checkPackedRuntime(
  lock: Lock,
  runtimeKey: string | undefined,
  options: { display: string; env: NodeJS.ProcessEnv; warn: (line: string) => void },
): void {
  const locked = lock.adapter.runtime;
  if (runtimeKey === undefined || locked === undefined || locked === runtimeKey) return;
  const drift: Drift[] = [{ entry: 'adapter.runtime', section: SECTIONS.adapter!, locked, current: runtimeKey }];
  if (ciLocked(options.env)) {
    const error = staleLockError(options.display, drift, null);
    throw new UkernelError('LockStale', `${error.message} (CI=true: refusing to pack)`, {
      details: error.details,
      hint: 'Run `ukernel build` before `ukernel pack` (it builds with the runtime the lock pins, or says why not).',
    });
  }
  options.warn(
    `warning: ${options.display} pins another adapter runtime (adapter.runtime ${locked}) than the last build used (${runtimeKey}): the image would carry a lock that does not describe its bin/python. Run \`ukernel build\` (and \`ukernel env lock\` if the lock is the older of the two), then pack.`,
  );
}

/**
 * At pack: the kernel going into the image against the lock's `kernel.sha256` (the kernel may
 * have been rebuilt, or UKERNEL_KERNEL changed, since the build's check). CI=true: LockStale
 * (UK170); otherwise one warning.
 */
export function checkPackedKernel(
  lock: Lock,
  kernelSha256: string,
  options: { display: string; env: NodeJS.ProcessEnv; warn: (line: string) => void },
): void {
  if (lock.kernel.sha256 === kernelSha256) return;
  const drift: Drift[] = [
    { entry: 'kernel.sha256', section: SECTIONS.kernel!, locked: lock.kernel.sha256, current: kernelSha256 },
  ];
  if (ciLocked(options.env)) {
    const error = staleLockError(options.display, drift, null);
    throw new UkernelError('LockStale', `${error.message} (CI=true: refusing to pack)`, { details: error.details });
  }
  options.warn(
    `warning: ${options.display} pins another kernel (kernel.sha256 ${lock.kernel.sha256}); packing ${kernelSha256}. Run \`ukernel env lock\` to lock this one.`,
  );
}
