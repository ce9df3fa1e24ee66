// The Python project's build (docs/python.md): the adapter runtime, the syntax check and .pyc of
// src/, the stdlib zip, the final link, then the bundle whose files are the image's rootfs:
//   bin/python  lib/python313.zip  src/…(.py + __pycache__/*.pyc + data)  etc/ukernel/python-entry
//   etc/ukernel.env  [lib/python3.13/test/… for [build] python_stdlib_tests]
// and build/adapter/python-3.13/ (the linked adapter + runtime.json). Nothing is written to
// build/ before every check has passed: a syntax error leaves the last build as it was.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  BUNDLE_ENV_PATH,
  BUNDLE_PATH,
  IMAGE_BYTES_MAX,
  PYTHON_ADAPTER_OUT_DIR,
  PYTHON_BASE,
  PYTHON_BIN_PATH,
  PYTHON_BUNDLE_GZIP_LEVEL,
  PYTHON_ENTRY_FILE_PATH,
  PYTHON_SITE_PACKAGES_PATH,
  PYTHON_STDLIB_TESTS_PATH,
  PYTHON_STDLIB_ZIP_PATH,
} from '../constants.js';
import { describeWorkloadElf } from '../elf.js';
import { ROOTFS_PATH_BYTES_MAX, rootfsPathProblem } from '../image/format.js';
import { UkernelError } from '../errors.js';
import { removeQuietly, writeFileAtomic } from '../fsutil.js';
import { sha256Hex } from '../hash.js';
import { type BundleInput, createBundleFrom, MODE_EXECUTABLE, MODE_FILE } from '../build/bundle.js';
import {
  compileSources,
  defaultPythonBuildUi,
  ensurePythonRuntime,
  runtimeImageFiles,
  runtimeSystem,
  installSitePackages,
  linkPythonAdapter,
  type PythonRuntime,
  stdlibTests,
  stdlibZip,
} from '../build/python.js';
import type { Dependency } from './lock.js';
import { ensureWheel, isPureWheel } from './packages.js';

/** What build.json records of a Python build (besides the common fields). */
export interface PythonBuildParts {
  /** The image header's adapter field and the manifest's `adapter`. */
  adapter: string;
  /** The rootfs entry (the image header's `entry`). */
  entry: string;
  runtime: RuntimeRecord;
  adapter_sha256: string;
  stdlib_zip: { path: string; sha256: string };
}

/** The runtime as build.json and the image manifest name it. */
export interface RuntimeRecord {
  name: string;
  version: string;
  key: string;
  dir: string;
  manifest_sha256: string;
  sources: unknown;
  /** The system libraries built in (`[env] system`): name, Debian version, source sha256. */
  system: { name: string; debian_version: string; sha256: string }[];
}

export interface PythonBuildContext {
  ukernelRoot: string;
  projectRoot: string;
  env: NodeJS.ProcessEnv;
  entry: string;
  /** `[build] python_stdlib_tests`: test packages put in the image under lib/python3.13/. */
  stdlibTests: readonly string[];
  envFile: Buffer;
  mtime: Date;
  progress: import('../ui.js').Progress;
  /** A project-relative path as messages show it. */
  show: (relative: string) => string;
  abort: AbortSignal;
  /** The lock's resolved dependencies to install into lib/site-packages (none without packages). */
  dependencies: readonly Dependency[];
  /** env/ukernel.lock as messages name it. */
  lockDisplay: string;
  /** `[env] system`: the catalog names of the system libraries the runtime is built with. */
  system: readonly string[];
}

export function runtimeRecord(runtime: PythonRuntime): RuntimeRecord {
  return {
    name: String(runtime.manifest.name ?? 'python'),
    version: String(runtime.manifest.version ?? ''),
    key: runtime.key,
    dir: runtime.dir,
    manifest_sha256: runtime.manifestSha256,
    sources: runtime.manifest.sources,
    system: runtimeSystem(runtime).map((lib) => ({ name: lib.name, debian_version: lib.debian_version, sha256: lib.sha256 })),
  };
}

/** Build a Python project; returns the bundle's bytes and what build.json records. */
export async function buildPythonBundle(ctx: PythonBuildContext): Promise<{ bundle: Buffer; parts: PythonBuildParts }> {
  const root = ctx.projectRoot;
  const runtime = await ensurePythonRuntime(
    ctx.ukernelRoot,
    ctx.env,
    defaultPythonBuildUi(ctx.progress, ctx.env),
    ctx.abort,
    ctx.system,
  );
  const staging = join(root, 'build', `.python.${process.pid}.tmp`);
  removeQuietly(staging);
  try {
    const sourceDir = dirname(ctx.entry) === '.' ? '' : dirname(ctx.entry);
    const checking = ctx.progress.begin(
      `Checking ${sourceDir === '' ? ctx.entry : `${sourceDir}/`} with Python ${runtime.manifest.version}`,
    );
    let sources: { files: string[]; pycs: string[]; data: string[] };
    try {
      const project = { root, sourceDir, entry: ctx.entry, display: ctx.show };
      sources = await compileSources(ctx.ukernelRoot, runtime, project, join(staging, 'pycache'), ctx.abort);
    } finally {
      checking.done();
    }
    checkImagePaths([...sources.files, ...sources.data, ...sources.pycs], ctx.show);
    const where = sourceDir === '' ? ctx.show(ctx.entry) : `${ctx.show(sourceDir)}/`;
    checkSourceBytes(root, where, [...sources.files, ...sources.data], ctx.show);
    const zip = await stdlibZip(ctx.ukernelRoot, ctx.env, runtime, ctx.progress, ctx.abort);
    const site = await sitePackages(ctx, runtime, join(staging, 'site-packages'));
    checkImagePaths(
      site.map((file) => `${PYTHON_SITE_PACKAGES_PATH}/${file}`),
      (path) => path,
    );
    const testsDir = join(staging, 'stdlib-tests');
    const tests =
      ctx.stdlibTests.length === 0 ? [] : await stdlibTests(ctx.ukernelRoot, runtime, ctx.stdlibTests, testsDir, ctx.abort);
    const linked = join(staging, 'python');
    mkdirSync(staging, { recursive: true });
    await linkPythonAdapter(ctx.ukernelRoot, ctx.env, runtime, linked, ctx.progress, ctx.abort);
    const adapter = readFileSync(linked);
    const problem = describeWorkloadElf(adapter);
    if (problem !== null) throw new UkernelError('WorkloadInvalid', `the linked Python adapter ${problem}`);

    const entries: BundleInput[] = [
      { path: PYTHON_BIN_PATH, kind: 'file', mode: MODE_EXECUTABLE, data: adapter },
      { path: PYTHON_STDLIB_ZIP_PATH, kind: 'file', mode: MODE_FILE, from: zip },
      ...[...sources.files, ...sources.data].map(
        (file): BundleInput => ({ path: file, kind: 'file', mode: MODE_FILE, from: join(root, file) }),
      ),
      ...sources.pycs.map(
        (pyc): BundleInput => ({ path: pyc, kind: 'file', mode: MODE_FILE, from: join(staging, 'pycache', pyc) }),
      ),
      ...site.map(
        (file): BundleInput => ({
          path: `${PYTHON_SITE_PACKAGES_PATH}/${file}`,
          kind: 'file',
          mode: MODE_FILE,
          from: join(staging, 'site-packages', file),
        }),
      ),
      ...tests.map(
        (file): BundleInput => ({
          path: `${PYTHON_STDLIB_TESTS_PATH}/${file}`,
          kind: 'file',
          mode: MODE_FILE,
          from: join(testsDir, file),
        }),
      ),
      // What the system libraries bring (the CA bundle of openssl at etc/ssl/cert.pem).
      ...runtimeImageFiles(runtime).map(
        (file): BundleInput => ({ path: file.path, kind: 'file', mode: MODE_FILE, from: file.from }),
      ),
      { path: PYTHON_ENTRY_FILE_PATH, kind: 'file', mode: MODE_FILE, data: Buffer.from(ctx.entry) },
      { path: BUNDLE_ENV_PATH, kind: 'file', mode: MODE_FILE, data: ctx.envFile },
    ];
    const bundling = ctx.progress.begin(`Writing bundle ${ctx.show(BUNDLE_PATH)}`);
    let bundle: Buffer;
    try {
      bundle = createBundleFrom({
        entries,
        mtime: ctx.mtime,
        stagingDir: join(staging, 'bundle'),
        gzipLevel: PYTHON_BUNDLE_GZIP_LEVEL,
      });
    } finally {
      bundling.done();
    }
    const parts: PythonBuildParts = {
      adapter: PYTHON_BASE,
      entry: PYTHON_BIN_PATH,
      runtime: runtimeRecord(runtime),
      adapter_sha256: sha256Hex(adapter),
      stdlib_zip: { path: zip, sha256: sha256Hex(readFileSync(zip)) },
    };
    writeAdapterDir(ctx, adapter, parts);
    writeFileAtomic(join(root, BUNDLE_PATH), bundle, { display: ctx.show(BUNDLE_PATH) });
    return { bundle, parts };
  } finally {
    removeQuietly(staging);
  }
}

/**
 * The locked wheels, each checked (packages.ts ensureWheel: from the cache, fetched by URL when
 * missing or corrupted, refused when its sha256 is not the lock's), unpacked into `outDir`. An
 * entry whose artifact is not a pure wheel, or whose URL names another file, is LockInvalid
 * (UK121) naming it: the lock was edited by hand.
 */
async function sitePackages(ctx: PythonBuildContext, runtime: PythonRuntime, outDir: string): Promise<string[]> {
  if (ctx.dependencies.length === 0) return [];
  const step = ctx.progress.begin(`Installing ${ctx.dependencies.length} locked wheel(s) into ${PYTHON_SITE_PACKAGES_PATH}`);
  try {
    const wheels: string[] = [];
    for (const dep of ctx.dependencies) {
      const entry = `${ctx.lockDisplay}: dependencies[${dep.name}]`;
      const urlName = decodeURIComponent(basename(new URL(dep.url).pathname));
      if (!isPureWheel(dep.artifact) || urlName !== dep.artifact) {
        throw new UkernelError(
          'LockInvalid',
          `${entry}: artifact ${dep.artifact} ${urlName !== dep.artifact ? `is not the file its url names (${urlName})` : 'is not a pure-Python wheel (py3-none-any)'}`,
          { hint: 'Restore env/ukernel.lock (it is written by `ukernel env add` / `env lock`; do not edit it by hand).' },
        );
      }
      wheels.push(
        await ensureWheel(dep, { env: ctx.env, abort: ctx.abort, warn: (line) => void process.stderr.write(`${line}\n`), entry }),
      );
    }
    return await installSitePackages(ctx.ukernelRoot, runtime, wheels, outDir, ctx.abort);
  } finally {
    step.done();
  }
}

/**
 * Every path the image will have for the project's files must be a rootfs path (printable
 * ASCII, at most ROOTFS_PATH_BYTES_MAX bytes, docs/image-format.md): said here, naming the file,
 * rather than by `ukernel pack` after a bundle was written. A .pyc is named with its source.
 */
function checkImagePaths(paths: readonly string[], show: (relative: string) => string): void {
  for (const path of paths) {
    const problem = rootfsPathProblem(path);
    if (problem === null) continue;
    const source = /^(.*\/)?__pycache__\/([^/]+)\.cpython-[0-9]+\.pyc$/.exec(path);
    const what = source === null ? show(path) : `${show(path)} (compiled from ${show(`${source[1] ?? ''}${source[2]}.py`)})`;
    throw new UkernelError('BuildFailed', `${what}: its path in the image ${problem}`, {
      hint: `Rename it: the image's paths are printable ASCII, at most ${ROOTFS_PATH_BYTES_MAX} bytes (docs/image-format.md).`,
    });
  }
}

/**
 * The project's files must fit an image (IMAGE_BYTES_MAX, 1 GiB) before they are read into the
 * bundle: a multi-GiB data file under src/ was read whole into memory, and `ukernel pack` then
 * refused the bundle.
 */
function checkSourceBytes(root: string, where: string, paths: readonly string[], show: (relative: string) => string): void {
  let total = 0;
  let largest = { path: '', bytes: -1 };
  for (const path of paths) {
    const bytes = statSync(join(root, path)).size;
    total += bytes;
    if (bytes > largest.bytes) largest = { path, bytes };
  }
  if (total <= IMAGE_BYTES_MAX) return;
  const gib = (bytes: number): string => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  throw new UkernelError(
    'BuildFailed',
    `the files under ${where} take ${gib(total)}, more than an image holds (${gib(IMAGE_BYTES_MAX).replace('.0', '')}); the largest: ${show(largest.path)} (${gib(largest.bytes)})`,
    { hint: 'Keep large data out of the code directory (an image holds at most 1 GiB in all).' },
  );
}

/** build/adapter/python-3.13/: the linked adapter (python) and runtime.json naming what made it. */
function writeAdapterDir(ctx: PythonBuildContext, adapter: Buffer, parts: PythonBuildParts): void {
  const dir = join(ctx.projectRoot, PYTHON_ADAPTER_OUT_DIR);
  writeFileAtomic(join(dir, 'python'), adapter, { mode: 0o755, display: ctx.show(`${PYTHON_ADAPTER_OUT_DIR}/python`) });
  const record = {
    adapter: parts.adapter,
    python_sha256: parts.adapter_sha256,
    runtime: parts.runtime,
    stdlib_zip: parts.stdlib_zip,
  };
  writeFileAtomic(join(dir, 'runtime.json'), `${JSON.stringify(record, null, 2)}\n`, {
    display: ctx.show(`${PYTHON_ADAPTER_OUT_DIR}/runtime.json`),
  });
}

/** Whether the files a Python build used are still what it recorded (run's rebuild check). */
export function pythonBuildIntact(projectRoot: string, parts: Partial<PythonBuildParts>): boolean {
  try {
    if (parts.runtime === undefined || parts.stdlib_zip === undefined) return false;
    if (sha256Hex(readFileSync(join(parts.runtime.dir, 'manifest.json'))) !== parts.runtime.manifest_sha256) return false;
    if (sha256Hex(readFileSync(parts.stdlib_zip.path)) !== parts.stdlib_zip.sha256) return false;
    return sha256Hex(readFileSync(join(projectRoot, PYTHON_ADAPTER_OUT_DIR, 'python'))) === parts.adapter_sha256;
  } catch {
    return false;
  }
}
