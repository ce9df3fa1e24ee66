// The project pipeline behind `ukernel build`, `ukernel pack` and `ukernel run`:
//   sources ─build→ build/bin/main + build/bundle.tgz ─pack→ dist/NAME.img
// (a Python project: ─build→ build/adapter/python-3.13 + build/bundle.tgz, python-build.ts)
// Each step records what it was made from (build/build.json, build/pack.json) as a hash of its
// inputs, so `run` can skip the steps whose inputs did not change.
import { readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { VERSION } from '../version.js';
import {
  BUILD_RECORD_PATH,
  BUNDLE_ENTRY_PATH,
  BUNDLE_MTIME_DEFAULT,
  BUNDLE_PATH,
  ENV_FILE,
  LOCK_FILE,
  ENV_FILE_BYTES_MAX,
  IMAGE_DIR,
  KERNEL_ELF_PATH,
  PACK_RECORD_PATH,
  FILE_TIME_SLACK_MS,
  PYTHON_ADAPTER_OUT_DIR,
  PYTHON_ADAPTERS_DIR,
  PYTHON_TOOL_SCRIPT,
  SDK_DIR,
  SDK_MODULE_FILE,
  SDK_ROOT_FILE,
  STALE_TEMP_AGE_MS,
  WORKLOAD_BIN_PATH,
  ZIG_CACHE_DIR,
  ZIG_GLOBAL_CACHE_DIR,
} from '../constants.js';
import { checkKernelElf, describeWorkloadElf } from '../elf.js';
import { errnoError, fileError, Interrupted, isUkernelError, UkernelError } from '../errors.js';
import { interruptible } from '../child.js';
import { errColors, writeErr } from '../ui.js';
import {
  displayPath,
  errnoCode,
  makeDirectory,
  readProjectFile,
  removeEntriesChanged,
  removeQuietly,
  removeStaleTemps,
  tempPathFor,
  writeFileAtomic,
} from '../fsutil.js';
import { streamProgress, type Progress } from '../progress.js';
import { sha256Hex } from '../hash.js';
import { findZig, readToolchainPins, ukernelRoot, type ToolchainPins } from '../toolchain.js';
import { createBundle, readBundle } from '../build/bundle.js';
import { buildInputsHash } from '../build/inputs.js';
import { pythonLinkSourcesDigest } from '../build/python.js';
import { BUILD_RECIPE, runZig, zigBuildArgs, type Optimize } from '../build/zig.js';
import { formatAbiVersion, IMAGE_FORMAT_VERSION } from '../image/format.js';
import { isoSeconds, PROVIDED_ABI, renderManifest, sourceDateEpoch } from '../image/manifest.js';
import { bufferSource, verifyImage, type ImageInfo } from '../image/reader.js';
import { writeImage } from '../image/writer.js';
import { loadProject, type Project } from './config.js';
import { locateKey } from './toml-position.js';
import { parseEnvFile } from './envfile.js';
import {
  checkLockForBuild,
  checkPackedKernel,
  checkPackedRuntime,
  type Dependency,
  lockedDependencies,
  readLockFile,
} from './lock.js';
import { buildPythonBundle, pythonBuildIntact, type PythonBuildParts } from './python-build.js';
import { projectSystem, systemCatalog } from './system.js';

/** Part of a Python build's inputs hash: changes with the Python build's layout and steps. */
const PYTHON_BUILD_RECIPE = 'python-v2:adapter-python-3.13:rootfs-v1:bundle-v1:gzip-6';

export interface WorkflowContext {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The ukernel checkout (kernel, SDK, ABI, toolchain pins). */
  ukernelRoot: string;
  pins: ToolchainPins;
  project: Project;
  /** Progress lines ("Built workload bundle: …"). */
  say: (line: string) => void;
  /** What a long step is doing while it does it (stderr; noProgress for --json). */
  progress: Progress;
}

export function workflowContext(
  cwd: string,
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
  root = ukernelRoot(),
  progress: Progress = streamProgress(),
): WorkflowContext {
  const pins = readToolchainPins(root);
  return { cwd, env, ukernelRoot: root, pins, project: loadProject(cwd, pins.zigVersion), say, progress };
}

/** A path under the project, for messages (relative to the cwd when below it). */
function show(ctx: WorkflowContext, relativeToProject: string): string {
  return displayPath(ctx.cwd, join(ctx.project.root, relativeToProject));
}

export interface BuildRecord extends Partial<PythonBuildParts> {
  format: 1;
  inputs: string;
  bundle_sha256: string;
  /** The rootfs entry's sha256 (bin/main, or bin/python for a Python project). */
  workload_sha256: string;
  optimize: Optimize;
  zig: string;
}

export interface PackRecord {
  format: 1;
  inputs: string;
  /** Relative to the project root when inside it, else absolute. */
  image: string;
  header_sha256: string;
  readonly: boolean;
}

function readRecord<T extends { format: 1 }>(path: string): T | null {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as T;
    return record !== null && typeof record === 'object' && record.format === 1 ? record : null;
  } catch {
    return null;
  }
}

export function readBuildRecord(ctx: WorkflowContext): BuildRecord | null {
  return readRecord<BuildRecord>(join(ctx.project.root, BUILD_RECORD_PATH));
}

export function readPackRecord(ctx: WorkflowContext): PackRecord | null {
  return readRecord<PackRecord>(join(ctx.project.root, PACK_RECORD_PATH));
}

interface Sdk {
  dir: string;
  root: string;
  module: string;
}

/** The Zig SDK directory: env UKERNEL_SDK, else <ukernel root>/sdk/zig; both files must exist. */
function findSdk(ctx: WorkflowContext): Sdk {
  const fromEnv = ctx.env.UKERNEL_SDK;
  const dir = fromEnv !== undefined && fromEnv !== '' ? resolve(ctx.cwd, fromEnv) : join(ctx.ukernelRoot, SDK_DIR);
  const sdk = { dir, root: join(dir, SDK_ROOT_FILE), module: join(dir, SDK_MODULE_FILE) };
  for (const file of [sdk.root, sdk.module]) {
    let isFile = false;
    try {
      isFile = statSync(file).isFile();
    } catch {
      // Reported below.
    }
    if (!isFile) {
      const which = fromEnv !== undefined && fromEnv !== '' ? ` (UKERNEL_SDK=${fromEnv})` : '';
      throw new UkernelError('SdkNotFound', `the ukernel Zig SDK is incomplete: ${file}${which} is not a file`);
    }
  }
  return sdk;
}

function readEnvFile(ctx: WorkflowContext): Buffer {
  const display = show(ctx, ENV_FILE);
  // No environment: an empty etc/ukernel.env.
  const bytes =
    readProjectFile(join(ctx.project.root, ENV_FILE), { display, maxBytes: ENV_FILE_BYTES_MAX, invalid: 'ConfigInvalid' }) ??
    Buffer.alloc(0);
  parseEnvFile(bytes, display);
  return bytes;
}

/** tar mtime: SOURCE_DATE_EPOCH when set (and not 0), else a fixed date. */
function bundleMtime(env: NodeJS.ProcessEnv): Date {
  const epoch = sourceDateEpoch(env);
  return epoch === 0 ? new Date(BUNDLE_MTIME_DEFAULT) : new Date(epoch * 1000);
}

function currentBuildInputs(ctx: WorkflowContext, optimize: Optimize, env: Buffer): string {
  const { config, root } = ctx.project;
  // A Python project: the adapter's sources stand for the SDK; the tool script and a runtime
  // named by the environment go into the recipe (the runtime's files: pythonBuildIntact), and
  // so do the stdlib tests the image carries ([build] python_stdlib_tests) and sdk/c and sdk/zig,
  // which the final link reads (pythonLinkSourcesDigest).
  const python = config.build.adapter === 'python';
  const tests =
    config.build.python_stdlib_tests === undefined ? '' : `:tests=${JSON.stringify(config.build.python_stdlib_tests)}`;
  const recipe = python
    ? `${PYTHON_BUILD_RECIPE}:tool=${sha256Hex(readFileSync(join(ctx.ukernelRoot, PYTHON_TOOL_SCRIPT)))}:runtime=${ctx.env.UKERNEL_PYTHON_RUNTIME ?? ''}${tests}:link=${pythonLinkSourcesDigest(ctx.ukernelRoot)}:system=${(config.env.system ?? []).join(',')}:wheels=${buildDependencies(
        ctx,
      )
        .map((d) => d.sha256)
        .join(',')}`
    : BUILD_RECIPE;
  return buildInputsHash({
    projectRoot: root,
    entry: config.project.entry,
    name: config.project.name,
    adapter: config.build.adapter,
    envBase: config.env.base,
    sdkDir: python ? join(ctx.ukernelRoot, PYTHON_ADAPTERS_DIR) : findSdk(ctx).dir,
    zigVersion: ctx.pins.zigVersion,
    optimize,
    mtime: bundleMtime(ctx.env),
    recipe,
    env,
  });
}

function checkEntry(ctx: WorkflowContext): void {
  const { config, configPath, root } = ctx.project;
  const entry = join(root, config.project.entry);
  let isFile = false;
  try {
    const stat = statSync(entry);
    if (stat.isDirectory())
      throw fileError(errnoError('EISDIR'), { op: 'read', display: `workload entry ${show(ctx, config.project.entry)}` });
    isFile = stat.isFile();
  } catch (err) {
    if (err instanceof UkernelError) throw err;
    // Missing: reported below.
  }
  if (!isFile) {
    const text = readFileSync(configPath, 'utf8');
    const at = locateKey(text, ['project', 'entry']);
    throw new UkernelError(
      'EntryNotFound',
      `workload entry ${show(ctx, config.project.entry)} not found (project.entry at ${displayPath(ctx.cwd, configPath)}:${at.line}:${at.column})`,
    );
  }
}

/** The last build when it is current (same inputs, bundle intact), else null. */
export function currentBuild(ctx: WorkflowContext, optimize: Optimize): BuildRecord | null {
  const record = readBuildRecord(ctx);
  if (record === null || record.optimize !== optimize) return null;
  if (record.inputs !== currentBuildInputs(ctx, optimize, readEnvFile(ctx))) return null;
  if (ctx.project.config.build.adapter === 'python' && !pythonBuildIntact(ctx.project.root, record)) return null;
  try {
    if (sha256Hex(readFileSync(join(ctx.project.root, BUNDLE_PATH))) !== record.bundle_sha256) return null;
  } catch {
    return null;
  }
  return record;
}

/** How a build treats env/ukernel.lock (lock.ts checkLockForBuild). */
export interface BuildLockPolicy {
  /** `--locked`: refuse a missing or stale lock (CI=true refuses a stale one anyway). */
  locked: boolean;
  /** Where a stale-lock warning goes (default: stderr, yellow). */
  warn?: (line: string) => void;
}

/**
 * Compile the workload and write build/bundle.tgz (always compiles; Zig's cache keeps it quick),
 * after checking env/ukernel.lock against the environment (BuildLockPolicy).
 * SIGINT/SIGTERM stop the compiler, remove the temp files and end in Interrupted.
 */
export function buildWorkload(
  ctx: WorkflowContext,
  optimize: Optimize,
  policy: BuildLockPolicy = { locked: false },
): Promise<BuildRecord> {
  return interruptible('build stopped', async (abort) => {
    const warn = policy.warn ?? ((line: string) => writeErr(errColors().yellow(line)));
    await checkLockForBuild(ctx, kernelPath(ctx), { locked: policy.locked, display: show(ctx, LOCK_FILE), warn }, abort);
    return ctx.project.config.build.adapter === 'python' ? buildPython(ctx, optimize, abort) : compileAndBundle(ctx, optimize);
  });
}

async function buildPython(ctx: WorkflowContext, optimize: Optimize, abort: AbortSignal): Promise<BuildRecord> {
  const { root, config } = ctx.project;
  checkEntry(ctx);
  const env = readEnvFile(ctx);
  const inputs = currentBuildInputs(ctx, optimize, env);
  removeStaleTemps(join(root, 'build'));
  const { bundle, parts } = await buildPythonBundle({
    dependencies: buildDependencies(ctx),
    lockDisplay: show(ctx, LOCK_FILE),
    system: projectSystem(systemCatalog(ctx.pins.all), config.env.system, `${show(ctx, 'ukernel.toml')} [env] system`).map(
      (lib) => lib.name,
    ),
    ukernelRoot: ctx.ukernelRoot,
    projectRoot: root,
    env: ctx.env,
    entry: config.project.entry,
    stdlibTests: config.build.python_stdlib_tests ?? [],
    envFile: env,
    mtime: bundleMtime(ctx.env),
    progress: ctx.progress,
    show: (relative) => show(ctx, relative),
    abort,
  });
  const record: BuildRecord = {
    format: 1,
    inputs,
    bundle_sha256: sha256Hex(bundle),
    workload_sha256: parts.adapter_sha256,
    optimize,
    zig: ctx.pins.zigVersion,
    ...parts,
  };
  writeFileAtomic(join(root, BUILD_RECORD_PATH), `${JSON.stringify(record, null, 2)}\n`, {
    display: show(ctx, BUILD_RECORD_PATH),
  });
  ctx.say(`Built workload bundle: ${show(ctx, BUNDLE_PATH)}`);
  ctx.say(`Adapter runtime: ${show(ctx, PYTHON_ADAPTER_OUT_DIR)}`);
  return record;
}

/** What a Python build installs: the lock's dependencies when it resolved `[env] packages`. */
function buildDependencies(ctx: WorkflowContext): Dependency[] {
  return lockedDependencies(ctx.project, ctx.project.config.env.packages ?? []);
}

async function compileAndBundle(ctx: WorkflowContext, optimize: Optimize): Promise<BuildRecord> {
  const { root } = ctx.project;
  checkEntry(ctx);
  const sdk = findSdk(ctx);
  const env = readEnvFile(ctx);
  const zig = findZig(ctx.ukernelRoot, ctx.pins, ctx.env);
  const inputs = currentBuildInputs(ctx, optimize, env);
  const binary = join(root, WORKLOAD_BIN_PATH);
  const temp = tempPathFor(binary);
  makeDirectory(dirname(binary), show(ctx, 'build/bin'));
  // Temp outputs of builds that were killed (SIGKILL) before they could clean up; not those of
  // a build running now (concurrent `ukernel run`s), nor Zig's own temp files in use.
  removeStaleTemps(dirname(binary));
  removeStaleTemps(join(root, 'build'));
  for (const dir of zigTempDirs(root)) removeEntriesChanged(dir, 0, Date.now() - STALE_TEMP_AGE_MS);
  try {
    const bytes = await compileWorkload(ctx, { sdk, zig, optimize, temp });
    renameSync(temp, binary);
    const bundle = writeBundle(ctx, binary, env);
    const record: BuildRecord = {
      format: 1,
      inputs,
      bundle_sha256: sha256Hex(bundle),
      workload_sha256: sha256Hex(bytes),
      optimize,
      zig: zig.version,
    };
    writeFileAtomic(join(root, BUILD_RECORD_PATH), `${JSON.stringify(record, null, 2)}\n`, {
      display: show(ctx, BUILD_RECORD_PATH),
    });
    ctx.say(`Built workload bundle: ${show(ctx, BUNDLE_PATH)}`);
    return record;
  } finally {
    removeQuietly(temp);
  }
}

function zigTempDirs(root: string): string[] {
  return [join(root, ZIG_CACHE_DIR, 'tmp'), join(root, ZIG_GLOBAL_CACHE_DIR, 'tmp')];
}

/** Run Zig to write the workload to `temp`; returns its bytes once they pass the ELF checks. */
async function compileWorkload(
  ctx: WorkflowContext,
  build: { sdk: Sdk; zig: { path: string; version: string }; optimize: Optimize; temp: string },
): Promise<Buffer> {
  const { config, root } = ctx.project;
  const { sdk, zig, optimize, temp } = build;
  const args = zigBuildArgs({
    entry: config.project.entry,
    sdkRoot: sdk.root,
    sdkModule: sdk.module,
    optimize,
    output: displayPath(root, temp),
    cacheDir: ZIG_CACHE_DIR,
    globalCacheDir: ZIG_GLOBAL_CACHE_DIR,
  });
  const compiling = ctx.progress.begin(`Compiling ${config.project.entry} with zig ${zig.version} (${optimize})`);
  const startedMs = Date.now();
  try {
    await runZig(zig.path, args, root);
  } catch (err) {
    // Stopped by a signal: Zig's temp files of this compile go too. File times come from the
    // kernel's coarse clock, up to a tick behind Date.now(): a margin keeps an entry made just
    // after the start from looking older than it.
    if (err instanceof Interrupted) {
      for (const dir of zigTempDirs(root)) removeEntriesChanged(dir, startedMs - FILE_TIME_SLACK_MS, Infinity);
    }
    throw err;
  } finally {
    compiling.done();
  }
  const bytes = readFileSync(temp);
  const problem = describeWorkloadElf(bytes);
  if (problem !== null) {
    throw new UkernelError('WorkloadInvalid', `the compiled workload ${show(ctx, WORKLOAD_BIN_PATH)} ${problem}`, {
      hint: 'The ukernel SDK must provide the entry point (_start); check that src/main.zig imports "ukernel" and defines pub fn main.',
    });
  }
  return bytes;
}

/** build/bundle.tgz from the workload and the environment; returns its bytes. */
function writeBundle(ctx: WorkflowContext, binary: string, env: Buffer): Buffer {
  const { root } = ctx.project;
  const bundling = ctx.progress.begin(`Writing bundle ${show(ctx, BUNDLE_PATH)}`);
  try {
    const bundle = createBundle({
      workloadPath: binary,
      env,
      mtime: bundleMtime(ctx.env),
      stagingDir: join(root, 'build', `.bundle.${process.pid}.tmp`),
    });
    writeFileAtomic(join(root, BUNDLE_PATH), bundle, { display: show(ctx, BUNDLE_PATH) });
    return bundle;
  } finally {
    bundling.done();
  }
}

export interface PackOptions {
  /** Absolute path of the image to write. */
  imagePath: string;
  readonly: boolean;
}

export function defaultImagePath(ctx: WorkflowContext): string {
  return join(ctx.project.root, IMAGE_DIR, `${ctx.project.config.project.name}.img`);
}

/** The kernel ELF a pack uses: UKERNEL_KERNEL, else the checkout's kernel/zig-out/bin/ukernel.elf. */
export function kernelPath(ctx: WorkflowContext): { path: string; from: string } {
  const fromEnv = ctx.env.UKERNEL_KERNEL;
  if (fromEnv !== undefined && fromEnv !== '') return { path: resolve(ctx.cwd, fromEnv), from: 'UKERNEL_KERNEL' };
  return { path: join(ctx.ukernelRoot, KERNEL_ELF_PATH), from: 'the ukernel checkout' };
}

export interface PackPlan {
  inputs: string;
  /** The rootfs entry (bin/main; bin/python for Python) and the header's adapter field. */
  entry: string;
  adapter: string;
  bundle: Buffer;
  kernel: Buffer;
  manifest: Buffer;
  build: BuildRecord;
}

function planPack(ctx: WorkflowContext, readonly: boolean): PackPlan {
  const { root, config } = ctx.project;
  const build = readBuildRecord(ctx);
  let bundle: Buffer;
  try {
    bundle = readFileSync(join(root, BUNDLE_PATH));
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw fileError(err, { op: 'read', display: show(ctx, BUNDLE_PATH) });
    throw new UkernelError('BundleInvalid', `cannot read ${show(ctx, BUNDLE_PATH)} (ENOENT); build the workload first`);
  }
  if (build === null || build.bundle_sha256 !== sha256Hex(bundle)) {
    throw new UkernelError(
      'BundleInvalid',
      `${show(ctx, BUNDLE_PATH)} does not match ${show(ctx, BUILD_RECORD_PATH)} (changed after \`ukernel build\`?)`,
    );
  }
  const kernel = kernelPath(ctx);
  try {
    checkKernelElf(kernel.path, kernel.from);
  } catch (err) {
    if (isUkernelError(err, 'KernelNotFound')) {
      throw new UkernelError('KernelNotFound', err.message, {
        hint: 'Build the kernel: bash scripts/build-kernel.sh (or set UKERNEL_KERNEL).',
      });
    }
    throw err;
  }
  const kernelBytes = readFileSync(kernel.path);
  const lockDisplay = show(ctx, LOCK_FILE);
  const lock = readLockFile(root, lockDisplay)?.lock ?? null;
  if (lock !== null) {
    const warn = (line: string): void => writeErr(errColors().yellow(line));
    checkPackedKernel(lock, sha256Hex(kernelBytes), { display: lockDisplay, env: ctx.env, warn });
    checkPackedRuntime(lock, build.runtime?.key, { display: lockDisplay, env: ctx.env, warn });
  }
  const entry = build.entry ?? BUNDLE_ENTRY_PATH;
  const adapter = build.adapter ?? config.build.adapter;
  const manifest = renderManifest({
    abi: formatAbiVersion(PROVIDED_ABI),
    adapter,
    build: { optimize: build.optimize, zig: build.zig },
    created: isoSeconds(sourceDateEpoch(ctx.env)),
    entry,
    ...(build.runtime !== undefined ? { runtime: publicRuntime(build) } : {}),
    lock,
    name: config.project.name,
    ukernel: VERSION,
  });
  const inputs = sha256Hex(
    [
      'ukernel pack inputs v1',
      `format=${IMAGE_FORMAT_VERSION}`,
      `bundle=${build.bundle_sha256}`,
      `kernel=${sha256Hex(kernelBytes)}`,
      `manifest=${sha256Hex(manifest)}`,
      `readonly=${readonly}`,
    ].join('\n'),
  );
  return { inputs, entry, adapter, bundle, kernel: kernelBytes, manifest, build };
}

/** The image manifest's `runtime`: what the adapter was built from (not the host's cache path). */
function publicRuntime(build: BuildRecord): Record<string, unknown> {
  const runtime = build.runtime!;
  return {
    name: runtime.name,
    version: runtime.version,
    key: runtime.key,
    manifest_sha256: runtime.manifest_sha256,
    sources: runtime.sources,
    ...(runtime.system !== undefined && runtime.system.length > 0 ? { system: runtime.system } : {}),
    adapter_sha256: build.adapter_sha256,
    stdlib_zip_sha256: build.stdlib_zip?.sha256,
  };
}

function recordedImagePath(ctx: WorkflowContext, record: PackRecord): string {
  return resolve(ctx.project.root, record.image);
}

/** What a pack wrote and the verified image (the reader's view), so `run` need not verify it again. */
export interface PackResult {
  record: PackRecord;
  image: ImageInfo;
}

/**
 * The image at `opts.imagePath`, packed again only when its inputs changed since the last pack:
 * then the image is returned as verified while packing; null when the last pack is current (the
 * file on disk has not been read: its reader must verify it).
 */
export function packIfChanged(ctx: WorkflowContext, opts: PackOptions): PackResult | null {
  let plan: PackPlan | null;
  try {
    plan = planPack(ctx, opts.readonly);
  } catch {
    plan = null; // Let packImage report it.
  }
  const record = readPackRecord(ctx);
  const current =
    plan !== null &&
    record !== null &&
    record.readonly === opts.readonly &&
    recordedImagePath(ctx, record) === opts.imagePath &&
    plan.inputs === record.inputs;
  return current ? null : packImage(ctx, opts, plan ?? undefined);
}

/**
 * Write the image from build/bundle.tgz + the kernel + the manifest; verify it before renaming it
 * in place. `plan`: the inputs already read for this pack (else read now).
 */
export function packImage(ctx: WorkflowContext, opts: PackOptions, plan?: PackPlan): PackResult {
  const packing = ctx.progress.begin(`Packing image ${displayPath(ctx.cwd, opts.imagePath)}`);
  try {
    return writePackedImage(ctx, opts, plan ?? planPack(ctx, opts.readonly));
  } finally {
    packing.done();
  }
}

function writePackedImage(ctx: WorkflowContext, opts: PackOptions, plan: PackPlan): PackResult {
  const { root, config } = ctx.project;
  const files = readBundle(plan.bundle, show(ctx, BUNDLE_PATH));
  const entry = files.find((f) => f.path === plan.entry);
  if (entry === undefined || entry.kind !== 'file') {
    throw new UkernelError('BundleInvalid', `${show(ctx, BUNDLE_PATH)} has no ${plan.entry}`);
  }
  const problem = describeWorkloadElf(entry.data);
  if (problem !== null) throw new UkernelError('WorkloadInvalid', `${plan.entry} in ${show(ctx, BUNDLE_PATH)} ${problem}`);

  const abi = PROVIDED_ABI;
  const image = writeImage({
    kernel: plan.kernel,
    files,
    manifest: plan.manifest,
    abi,
    readonly: opts.readonly,
    adapter: plan.adapter,
    entry: plan.entry,
    name: config.project.name,
  });
  const display = displayPath(ctx.cwd, opts.imagePath);
  const info = verifyImage(bufferSource(image), display, abi); // The writer's output must pass the reader.
  writeFileAtomic(opts.imagePath, image, { mode: 0o644, display });
  const record: PackRecord = {
    format: 1,
    inputs: plan.inputs,
    image: displayPath(root, opts.imagePath),
    header_sha256: info.headerSha256,
    readonly: opts.readonly,
  };
  writeFileAtomic(join(root, PACK_RECORD_PATH), `${JSON.stringify(record, null, 2)}\n`, { display: show(ctx, PACK_RECORD_PATH) });
  ctx.say(`Image created: ${display}`);
  return { record, image: info };
}

/** Warn when the sources changed since the last build (pack packs what was built). */
export function buildIsStale(ctx: WorkflowContext): boolean {
  const record = readBuildRecord(ctx);
  if (record === null) return false;
  try {
    return record.inputs !== currentBuildInputs(ctx, record.optimize, readEnvFile(ctx));
  } catch {
    return false;
  }
}
