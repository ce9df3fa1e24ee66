// `ukernel build` for a Python project (docs/python.md): the adapter runtime (built once into a
// content-addressed cache by adapters/python/build.sh), the final link of bin/python, the
// syntax check and .pyc of src/, and the standard library zip (cached by content).
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import {
  FETCH_SOURCE_SCRIPT,
  PYTHON_ADAPTER_BUILD_SCRIPT,
  PYTHON_ADAPTER_BUILD_TIMEOUT_MS,
  PYTHON_ADAPTER_LINK_SCRIPT,
  PYTHON_ADAPTERS_DIR,
  PYTHON_BASE,
  PYTHON_STEP_TIMEOUT_MS,
  PYTHON_SOURCE_FILES_MAX,
  PYTHON_SYNTAX_ERRORS_LISTED_MAX,
  PYTHON_ASYNCIO_MODULE,
  PYTHON_TOOL_SCRIPT,
  PYTHON_UKERNEL_PACKAGE_DIR,
  SDK_C_DIR,
  SDK_DIR,
  SOURCE_DIR_DEPTH_MAX,
  TOOLCHAIN_FILE,
} from '../constants.js';
import { errnoError, fileError, UkernelError } from '../errors.js';
import { removeQuietly, removeStaleTemps, tempPathFor } from '../fsutil.js';
import { sha256Hex } from '../hash.js';
import { isInteractive } from '../progress.js';
import type { Progress, ProgressStep } from '../ui.js';
import { excerptAt } from '../project/toml-position.js';
import { digestTree } from './inputs.js';
import { runTool } from './tool.js';

/** The one-line notice when the runtime is built without a terminal to show progress on. */
export const RUNTIME_BUILD_NOTICE = 'building the Python adapter runtime (first time, a few minutes)';

/** A source package of the runtime, as its manifest.json lists it (py-design.md). */
export interface RuntimeSource {
  name: string;
  debian_version?: string;
  tarball?: string;
  sha256: string;
}

/** The adapter runtime: a directory of the cache (py-design.md, "Cache"). */
export interface PythonRuntime {
  dir: string;
  /** The cache directory's name, e.g. python-3.13.5-0123456789abcdef. */
  key: string;
  /** manifest.json as read, and its sha256 (what the build depends on). */
  manifest: { name: string; version: string; sources: RuntimeSource[]; [key: string]: unknown };
  manifestSha256: string;
  hostPython: string;
  libDir: string;
  /** lib/_sysconfigdata__linux_.py of the cross build, when the runtime has one. */
  sysconfigdata: string | null;
}

export interface PythonBuildUi {
  progress: Progress;
  /** A line for the user on stderr (the notice). */
  notice: (line: string) => void;
  /** Whether stderr shows live progress (a terminal). */
  interactive: boolean;
}

export function defaultPythonBuildUi(progress: Progress, env: NodeJS.ProcessEnv): PythonBuildUi {
  return {
    progress,
    notice: (line) => void process.stderr.write(`${line}\n`),
    interactive: isInteractive(process.stderr, env),
  };
}

/** ${XDG_CACHE_HOME:-~/.cache}/ukernel/adapters: where build.sh keeps runtimes and we keep zips. */
export function adapterCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'ukernel', 'adapters');
}

/**
 * The runtime directory: UKERNEL_PYTHON_RUNTIME when set (a runtime built elsewhere), else the
 * one adapters/python/build.sh prints last on stdout, building it first when the cache lacks it
 * (minutes; its `progress: N/M label` stderr lines drive the progress display on a terminal,
 * a one-line notice otherwise). Bounded by PYTHON_ADAPTER_BUILD_TIMEOUT_MS. `system`: the catalog
 * names of the system libraries to build in (`[env] system`, build.sh --system), each runtime
 * with its own key; a runtime from UKERNEL_PYTHON_RUNTIME must have exactly these
 * (AdapterMissing otherwise).
 */
export async function ensurePythonRuntime(
  root: string,
  env: NodeJS.ProcessEnv,
  ui: PythonBuildUi,
  abort: AbortSignal,
  system: readonly string[] = [],
): Promise<PythonRuntime> {
  const fromEnv = env.UKERNEL_PYTHON_RUNTIME;
  if (fromEnv !== undefined && fromEnv !== '') {
    const runtime = readRuntime(resolve(fromEnv), `UKERNEL_PYTHON_RUNTIME=${fromEnv}`);
    const has = runtimeSystem(runtime).map((lib) => lib.name);
    const asked = [...system].sort();
    if (has.join(',') !== asked.join(',')) {
      const listed = (names: readonly string[]): string => (names.length === 0 ? 'none' : `[${names.join(', ')}]`);
      const build =
        asked.length === 0
          ? `without system libraries (bash ${PYTHON_ADAPTER_BUILD_SCRIPT})`
          : `with them (bash ${PYTHON_ADAPTER_BUILD_SCRIPT} --system ${asked.join(',')})`;
      throw new UkernelError(
        'AdapterMissing',
        `the runtime UKERNEL_PYTHON_RUNTIME=${fromEnv} has ${has.length === 0 ? 'no system libraries' : `the system libraries ${listed(has)}`}, the project asks for ${listed(asked)}`,
        { hint: `Build a runtime ${build} or unset UKERNEL_PYTHON_RUNTIME.` },
      );
    }
    return runtime;
  }
  const script = join(root, PYTHON_ADAPTER_BUILD_SCRIPT);
  if (!existsSync(script)) {
    throw new UkernelError('AdapterMissing', `this ukernel checkout has no ${PYTHON_ADAPTER_BUILD_SCRIPT}`);
  }
  let step: ProgressStep | null = null;
  let noticed = false;
  const onStderrLine = (line: string): void => {
    // Another `ukernel build` is building the same runtime: build.sh waits for its lock (bounded).
    if (line.startsWith('python-runtime: waiting for another build')) {
      ui.notice(line);
      return;
    }
    const match = /^progress: ([0-9]+)\/([0-9]+) (.*)$/.exec(line);
    if (match === null) return;
    if (ui.interactive) {
      step?.done();
      step = ui.progress.begin(`Building the Python adapter runtime: ${match[1]}/${match[2]} ${match[3]}`);
    } else if (!noticed) {
      noticed = true;
      ui.notice(RUNTIME_BUILD_NOTICE);
    }
  };
  let stdout: string;
  try {
    ({ stdout } = await runTool({
      file: 'bash',
      args: system.length === 0 ? [script] : [script, '--system', [...system].sort().join(',')],
      cwd: root,
      env,
      timeoutMs: PYTHON_ADAPTER_BUILD_TIMEOUT_MS,
      what: PYTHON_ADAPTER_BUILD_SCRIPT,
      code: 'AdapterBuildFailed',
      onStderrLine,
      abort,
    }));
  } finally {
    (step as ProgressStep | null)?.done();
  }
  const dir = stdout.trimEnd().split('\n').at(-1) ?? '';
  if (!dir.startsWith('/')) {
    throw new UkernelError('AdapterBuildFailed', `${PYTHON_ADAPTER_BUILD_SCRIPT} did not print the runtime directory last`, {
      details: stdout.trimEnd().split('\n').slice(-5),
    });
  }
  return readRuntime(dir, PYTHON_ADAPTER_BUILD_SCRIPT);
}

/** A system library built into a runtime, as its manifest.json lists it (build.sh). */
export interface RuntimeSystemLibrary {
  name: string;
  package: string;
  debian_version: string;
  tarball: string;
  sha256: string;
  modules: string[];
}

/** The runtime's system libraries (manifest.json "system"; none in a runtime built without). */
export function runtimeSystem(runtime: PythonRuntime): RuntimeSystemLibrary[] {
  const list = runtime.manifest.system;
  return Array.isArray(list) ? (list as RuntimeSystemLibrary[]) : [];
}

/**
 * Files of the runtime that go into the image as they are (manifest.json "image_files", e.g. the
 * CA bundle etc/ssl/cert.pem that comes with openssl): `from` under the runtime, `path` in the
 * image. An entry leaving either tree is AdapterMissing: the runtime is damaged.
 */
export function runtimeImageFiles(runtime: PythonRuntime): { from: string; path: string }[] {
  const list = runtime.manifest.image_files;
  if (!Array.isArray(list)) return [];
  const safe = (p: unknown): p is string =>
    typeof p === 'string' && /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(p) && !p.split('/').includes('..');
  return list.map((entry: { from?: unknown; path?: unknown }) => {
    if (!safe(entry.from) || !safe(entry.path)) {
      throw new UkernelError(
        'AdapterMissing',
        `${join(runtime.dir, 'manifest.json')}: image_files has a bad entry ${JSON.stringify(entry)}`,
      );
    }
    return { from: join(runtime.dir, entry.from), path: entry.path };
  });
}

/** The runtime at `dir`, checked: manifest.json, host/bin/python3.13 and Lib/ must be there. */
export function readRuntime(dir: string, from: string): PythonRuntime {
  const missing = (what: string): UkernelError =>
    new UkernelError('AdapterMissing', `the Python adapter runtime ${dir} (from ${from}) has no ${what}`);
  let manifestBytes: Buffer;
  try {
    manifestBytes = readFileSync(join(dir, 'manifest.json'));
  } catch {
    throw missing('manifest.json');
  }
  let manifest: PythonRuntime['manifest'];
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as PythonRuntime['manifest'];
  } catch (err) {
    throw new UkernelError('AdapterMissing', `${join(dir, 'manifest.json')} is not JSON: ${(err as Error).message}`);
  }
  if (manifest === null || typeof manifest !== 'object' || !Array.isArray(manifest.sources)) {
    throw new UkernelError('AdapterMissing', `${join(dir, 'manifest.json')} has no "sources" list`);
  }
  const hostPython = join(dir, 'host', 'bin', 'python3.13');
  const libDir = join(dir, 'Lib');
  if (!isFile(hostPython)) throw missing('host/bin/python3.13');
  if (!isDirectory(libDir)) throw missing('Lib/');
  const sysconfigdata = join(dir, 'lib', '_sysconfigdata__linux_.py');
  return {
    dir,
    key: basename(dir),
    manifest,
    manifestSha256: sha256Hex(manifestBytes),
    hostPython,
    libDir,
    sysconfigdata: isFile(sysconfigdata) ? sysconfigdata : null,
  };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** One syntax error as the host compiler reported it (cli/python/uk_pytool.py check). */
interface SyntaxProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

/**
 * Compile every .py under `sourceDir` (relative to `projectRoot`) with the host python3.13.
 * A syntax error is PythonSyntax (UK159) naming file:line:column, with the line and a caret;
 * every further one is a detail. A file that cannot be read (a dangling link) is a file error
 * naming it; more than PYTHON_SOURCE_FILES_MAX files or SOURCE_DIR_DEPTH_MAX levels is
 * BuildFailed. Otherwise each module but the entry gets its unchecked-hash .pyc under
 * `pycacheOut` (<dir>/__pycache__/<name>.cpython-313.pyc); returns the .py files, the .pyc
 * paths and the other files (`data`: every regular file under `sourceDir` but hidden ones and
 * *.pyc, symlinks followed), relative to the project root / `pycacheOut`.
 */
export async function compileSources(
  root: string,
  runtime: PythonRuntime,
  project: { root: string; sourceDir: string; entry: string; display: (rel: string) => string },
  pycacheOut: string,
  abort: AbortSignal,
): Promise<{ files: string[]; pycs: string[]; data: string[] }> {
  const limits = [String(PYTHON_SOURCE_FILES_MAX), String(SOURCE_DIR_DEPTH_MAX)];
  const stdlib = [runtime.libDir, join(runtime.dir, 'manifest.json')];
  const { stdout } = await runTool({
    file: runtime.hostPython,
    args: [
      '-I',
      '-B',
      join(root, PYTHON_TOOL_SCRIPT),
      'check',
      project.sourceDir,
      project.entry,
      pycacheOut,
      ...limits,
      ...stdlib,
    ],
    cwd: project.root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8' },
    timeoutMs: PYTHON_STEP_TIMEOUT_MS,
    what: 'the Python syntax check',
    code: 'BuildFailed',
    abort,
  });
  const answer = parseAnswer(stdout, 'the Python syntax check') as {
    errors?: SyntaxProblem[];
    unreadable?: Array<{ file: string; errno: string; link: string | null }>;
    limit?: string;
    shadowed?: Array<{ file: string; name: string; package: boolean; builtin: boolean }>;
    files?: string[];
    pycs?: string[];
    data?: string[];
  };
  const [unreadable] = answer.unreadable ?? [];
  if (unreadable !== undefined) {
    const link = unreadable.link === null ? '' : ` (a symlink to ${unreadable.link})`;
    throw fileError(errnoError(unreadable.errno), { op: 'read', display: `${project.display(unreadable.file)}${link}` });
  }
  if (answer.limit !== undefined) {
    throw new UkernelError('BuildFailed', answer.limit, {
      hint: "Keep the workload's code directory to its code and data (the image gets every file in it).",
    });
  }
  if (answer.shadowed !== undefined && answer.shadowed.length > 0) {
    const [first, ...rest] = answer.shadowed.map(
      (s) =>
        `${project.display(s.file)}${s.package ? '/' : ''}: ${s.builtin ? 'the adapter has a built-in module' : "the image's standard library has a module"} ${s.name}, which comes first on sys.path: this ${s.package ? 'package' : 'module'} is never imported`,
    );
    throw new UkernelError('BuildFailed', first!, {
      details: rest,
      hint: `Rename ${rest.length > 0 ? 'them' : 'it'} (the standard library and the built-in modules come before src/ on sys.path: docs/python.md).`,
    });
  }
  if (answer.errors !== undefined && answer.errors.length > 0) throw syntaxError(project, answer.errors);
  return { files: answer.files ?? [], pycs: answer.pycs ?? [], data: answer.data ?? [] };
}

function parseAnswer(stdout: string, what: string): unknown {
  try {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    throw new UkernelError('BuildFailed', `${what} gave no answer`, { details: stdout.split('\n').slice(-5) });
  }
}

function syntaxError(
  project: { root: string; display: (rel: string) => string },
  errors: readonly SyntaxProblem[],
): UkernelError {
  const [first, ...rest] = errors;
  const at = (e: SyntaxProblem): string => `${project.display(e.file)}:${e.line}:${e.column}`;
  let excerpt: string[] = [];
  try {
    excerpt = excerptAt(readFileSync(join(project.root, first!.file), 'utf8'), first!.line, first!.column);
  } catch {
    // The file went away meanwhile: the position is enough.
  }
  const more = rest.slice(0, PYTHON_SYNTAX_ERRORS_LISTED_MAX - 1).map((e) => `${at(e)}: SyntaxError: ${e.message}`);
  if (rest.length > more.length) more.push(`… and ${rest.length - more.length} more`);
  return new UkernelError('PythonSyntax', `${at(first!)}: SyntaxError: ${first!.message}`, { details: [...excerpt, ...more] });
}

/**
 * The standard library zip (lib/python313.zip in the image): built by the host python3.13 from
 * the runtime's Lib/ (+ _sysconfigdata__linux_ + adapters/python/ukernel/ and
 * adapters/python/_ukernel_asyncio.py when present) and kept
 * in the adapter cache under a key over everything that goes in (the runtime's manifest, which
 * names its sources, the directory, the tool script and the ukernel package), so a warm build
 * only hashes. Written to a temp file and renamed; returns its path.
 */
export async function stdlibZip(
  root: string,
  env: NodeJS.ProcessEnv,
  runtime: PythonRuntime,
  progress: Progress,
  abort: AbortSignal,
): Promise<string> {
  const packageDir = join(root, PYTHON_UKERNEL_PACKAGE_DIR);
  const hasPackage = isDirectory(packageDir);
  const key = createHash('sha256');
  key.update(`uk stdlib zip v1\nruntime=${runtime.dir}\nmanifest=${runtime.manifestSha256}\n`);
  key.update(`tool=${sha256Hex(readFileSync(join(root, PYTHON_TOOL_SCRIPT)))}\n`);
  key.update(`sysconfigdata=${runtime.sysconfigdata === null ? '-' : sha256Hex(readFileSync(runtime.sysconfigdata))}\n`);
  if (hasPackage)
    for (const f of digestTree(packageDir, packageDir, (n) => n.endsWith('.py'))) key.update(`ukernel/${f.path}=${f.sha256}\n`);
  const asyncioModule = join(root, PYTHON_ASYNCIO_MODULE);
  const hasAsyncioModule = isFile(asyncioModule);
  if (hasAsyncioModule) key.update(`_ukernel_asyncio=${sha256Hex(readFileSync(asyncioModule))}\n`);
  const path = join(adapterCacheDir(env), 'python-stdlib', `${runtime.key}-${key.digest('hex').slice(0, 16)}.zip`);
  if (isFile(path)) return path;

  mkdirSync(dirname(path), { recursive: true });
  removeStaleTemps(dirname(path));
  const temp = tempPathFor(path);
  const args = ['-I', '-B', join(root, PYTHON_TOOL_SCRIPT), 'zip', runtime.libDir, temp];
  if (runtime.sysconfigdata !== null) args.push('--add', `_sysconfigdata__linux_=${runtime.sysconfigdata}`);
  if (hasPackage) args.push('--package', `ukernel=${packageDir}`);
  if (hasAsyncioModule) args.push('--add', `_ukernel_asyncio=${asyncioModule}`);
  const step = progress.begin(
    `Compiling the Python ${runtime.manifest.version ?? '3.13'} standard library into ${basename(path)}`,
  );
  try {
    await runTool({
      file: runtime.hostPython,
      args,
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8' },
      timeoutMs: PYTHON_STEP_TIMEOUT_MS,
      what: 'the standard library zip',
      code: 'BuildFailed',
      abort,
    });
    renameSync(temp, path);
  } finally {
    step.done();
    removeQuietly(temp);
  }
  return path;
}

/**
 * The standard library directory that holds Lib/test for `[build] python_stdlib_tests`: the
 * runtime's Lib/ when it has test/, else Lib/ of the checkout's CPython source tree
 * (`scripts/fetch-source.sh python3.13`, sha256-verified, offline once fetched), accepted only
 * when that tarball's sha256 is the one the runtime's manifest names for python3.13, so the tests
 * are those of the guest's CPython. AdapterMissing (UK161) otherwise.
 */
export async function stdlibTestsLibDir(root: string, runtime: PythonRuntime, abort: AbortSignal): Promise<string> {
  if (isDirectory(join(runtime.libDir, 'test'))) return runtime.libDir;
  const source = runtime.manifest.sources.find((s) => s.name === 'python3.13');
  if (source === undefined) {
    throw new UkernelError(
      'AdapterMissing',
      `the runtime ${runtime.dir} has no Lib/test and its manifest names no python3.13 source`,
    );
  }
  const { stdout } = await runTool({
    file: 'bash',
    args: [join(root, FETCH_SOURCE_SCRIPT), 'python3.13'],
    cwd: root,
    env: process.env,
    timeoutMs: PYTHON_STEP_TIMEOUT_MS,
    what: `${FETCH_SOURCE_SCRIPT} python3.13 (the CPython source, for its tests)`,
    code: 'AdapterMissing',
    abort,
  });
  const tree = stdout.trimEnd().split('\n').at(-1) ?? '';
  let stamp = '';
  try {
    stamp = readFileSync(join(tree, '.ukernel-orig-sha256'), 'utf8').trim();
  } catch {
    // reported below
  }
  if (stamp !== source.sha256 || !isDirectory(join(tree, 'Lib', 'test'))) {
    throw new UkernelError(
      'AdapterMissing',
      `the CPython source at ${tree} (sha256 ${stamp || 'unknown'}) is not the runtime's python3.13 source (sha256 ${source.sha256}), so its Lib/test cannot go with this runtime`,
    );
  }
  return join(tree, 'Lib');
}

/**
 * `[build] python_stdlib_tests`: the named test packages, modules and data directories of the
 * runtime's standard library as real files under `outDir` (test/…, each .py with an
 * unchecked-hash .pyc), by `uk_pytool.py tests`. Returns the paths written, relative to
 * `outDir`. A name that is not under Lib/ is PythonTestsMissing (UK162), naming it.
 */
export async function stdlibTests(
  root: string,
  runtime: PythonRuntime,
  names: readonly string[],
  outDir: string,
  abort: AbortSignal,
): Promise<string[]> {
  const libDir = await stdlibTestsLibDir(root, runtime, abort);
  const { stdout } = await runTool({
    file: runtime.hostPython,
    args: ['-I', '-B', join(root, PYTHON_TOOL_SCRIPT), 'tests', libDir, outDir, ...names],
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8' },
    timeoutMs: PYTHON_STEP_TIMEOUT_MS,
    what: "the standard library's tests",
    code: 'BuildFailed',
    abort,
  });
  const answer = parseAnswer(stdout, "the standard library's tests") as { files?: string[]; missing?: string[] };
  if (answer.missing !== undefined && answer.missing.length > 0) {
    throw new UkernelError(
      'PythonTestsMissing',
      `ukernel.toml: build.python_stdlib_tests: ${answer.missing.map((n) => `"${n}"`).join(', ')} ${answer.missing.length === 1 ? 'is' : 'are'} not in ${libDir}`,
    );
  }
  return answer.files ?? [];
}

/**
 * A digest of the checkout's files the final link reads besides the runtime: the adapters/
 * tree (link.sh, main.c, _ukernel.c, the POSIX layer), sdk/c, sdk/zig (the POSIX layer's
 * build.zig imports sdk/zig/ukernel.zig) and the toolchain pins. `ukernel run`'s rebuild check
 * uses it too.
 */
export function pythonLinkSourcesDigest(root: string): string {
  const key = createHash('sha256');
  key.update(`pins=${sha256Hex(readFileSync(join(root, TOOLCHAIN_FILE)))}\n`);
  for (const dir of [PYTHON_ADAPTERS_DIR, SDK_C_DIR, SDK_DIR]) {
    for (const f of digestTree(root, join(root, dir), () => true)) key.update(`${f.path}=${f.sha256}\n`);
  }
  return key.digest('hex');
}

/**
 * Where the linked adapter for these inputs is kept: a key over the runtime and
 * pythonLinkSourcesDigest, so an edit of the project's src/ does not link again.
 */
export function linkedAdapterPath(root: string, env: NodeJS.ProcessEnv, runtime: PythonRuntime): string {
  const key = createHash('sha256');
  key.update(`uk python link v1\nruntime=${runtime.dir}\nmanifest=${runtime.manifestSha256}\n`);
  key.update(`sources=${pythonLinkSourcesDigest(root)}\n`);
  return join(adapterCacheDir(env), 'python-link', `${runtime.key}-${key.digest('hex').slice(0, 16)}`, 'python');
}

/**
 * The final link of bin/python (py-design.md): `bash adapters/python/link.sh RUNTIME_DIR OUTPUT`,
 * which links the adapter's main.c, _ukernel, the POSIX layer, libpython3.13.a, libz.a and musl
 * into a static PIE at OUTPUT — or a copy of the one linked before from the same inputs
 * (linkedAdapterPath). The one call site of the link, so that a change of its contract is one
 * edit.
 */
export async function linkPythonAdapter(
  root: string,
  env: NodeJS.ProcessEnv,
  runtime: PythonRuntime,
  output: string,
  progress: Progress,
  abort: AbortSignal,
): Promise<void> {
  const script = join(root, PYTHON_ADAPTER_LINK_SCRIPT);
  if (!existsSync(script)) {
    throw new UkernelError(
      'AdapterMissing',
      `this ukernel checkout has no ${PYTHON_ADAPTER_LINK_SCRIPT} (the final link of bin/python)`,
    );
  }
  const cached = linkedAdapterPath(root, env, runtime);
  if (isFile(cached)) {
    copyFileSync(cached, output);
    return;
  }
  const step = progress.begin(`Linking the Python adapter (${PYTHON_BASE})`);
  try {
    await runTool({
      file: 'bash',
      args: [script, runtime.dir, output],
      cwd: root,
      env,
      timeoutMs: PYTHON_STEP_TIMEOUT_MS,
      what: PYTHON_ADAPTER_LINK_SCRIPT,
      code: 'AdapterBuildFailed',
      abort,
    });
  } finally {
    step.done();
  }
  if (!isFile(output)) {
    throw new UkernelError('AdapterBuildFailed', `${PYTHON_ADAPTER_LINK_SCRIPT} exited 0 but wrote no ${output}`);
  }
  mkdirSync(dirname(cached), { recursive: true });
  removeStaleTemps(dirname(cached));
  const temp = tempPathFor(cached);
  try {
    copyFileSync(output, temp);
    renameSync(temp, cached);
  } finally {
    removeQuietly(temp);
  }
}

/**
 * lib/site-packages of the image from the locked wheels (paths of checked wheels, in the lock's
 * order): `uk_pytool.py sitepackages` unpacks them into `outDir` and compiles each .py to an
 * unchecked-hash .pyc. Returns every file written, relative to `outDir`, sorted bytewise; a
 * wheel with an unsafe path or a compiled extension is BuildFailed naming it.
 */
export async function installSitePackages(
  root: string,
  runtime: PythonRuntime,
  wheels: readonly string[],
  outDir: string,
  abort: AbortSignal,
): Promise<string[]> {
  if (wheels.length === 0) return [];
  mkdirSync(outDir, { recursive: true });
  const { stdout } = await runTool({
    file: runtime.hostPython,
    args: ['-I', '-B', join(root, PYTHON_TOOL_SCRIPT), 'sitepackages', outDir, ...wheels],
    cwd: root,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C.UTF-8' },
    timeoutMs: PYTHON_STEP_TIMEOUT_MS,
    what: 'installing the locked wheels',
    code: 'BuildFailed',
    abort,
  });
  const answer = parseAnswer(stdout, 'installing the locked wheels') as { files?: string[]; error?: string };
  if (answer.error !== undefined) throw new UkernelError('BuildFailed', `a locked wheel cannot be installed: ${answer.error}`);
  return answer.files ?? [];
}
