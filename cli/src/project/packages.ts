// The Python packages of a project (docs/environments.md, "Python packages"): what the user asks
// for (`[env] packages` in ukernel.toml, edited by `ukernel env add|remove`), its resolution
// with pip's resolver for the adapter's Python (3.13, pure-Python wheels only: the guest loads no
// extension modules), and the content-addressed wheel cache the build installs from.
//
// Resolution runs `python3 -m pip install --dry-run --report` (pip >= 22.2): pip's own resolver
// and index client, with `--only-binary=:all: --python-version 3.13 --implementation py --abi
// none --platform any`, so only py3-none-any (or py313-none-any …) wheels are candidates. Its
// report gives each distribution's name, version, wheel URL and sha256 (PyPI publishes it in the
// URL's fragment); each wheel is then downloaded once, checked against that sha256, and kept as
// ${XDG_CACHE_HOME:-~/.cache}/ukernel/wheels/<sha256>.whl. A build reads only the lock: it takes
// the wheels from the cache (re-fetching by URL when missing or corrupted) and checks every one.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import {
  PIP_RESOLVE_TIMEOUT_MS,
  PIP_RETRIES,
  PIP_SOCKET_TIMEOUT_S,
  PIP_VERSION_MIN,
  PYPI_JSON_URL,
  PYPI_QUERY_TIMEOUT_MS,
  REQUIREMENTS_FILE_BYTES_MAX,
  WHEEL_BYTES_MAX,
  WHEEL_FETCH_TIMEOUT_MS,
} from '../constants.js';
import { UkernelError } from '../errors.js';
import { printable, removeQuietly, writeFileAtomic } from '../fsutil.js';
import { sha256Hex } from '../hash.js';
import { PACKAGE_REQUIREMENT_RE, packageName } from './config.js';

/** A resolved distribution as env/ukernel.lock pins it (lock.ts dependencySchema). */
export interface Dependency {
  name: string;
  version: string;
  /** The wheel's file name. */
  artifact: string;
  /** sha256 of the wheel, 64 lower-case hex digits. */
  sha256: string;
  /** Where the wheel is fetched from (https://). */
  url: string;
}

/**
 * The Pythons pip may run under, in order: UKERNEL_PIP_PYTHON alone when set, else python3.13
 * (markers are then evaluated for the guest's Python exactly) and python3. The first with pip
 * >= 22.2 resolves.
 */
export function resolverPythons(env: NodeJS.ProcessEnv): string[] {
  if (env.UKERNEL_PIP_PYTHON !== undefined && env.UKERNEL_PIP_PYTHON !== '') return [env.UKERNEL_PIP_PYTHON];
  const onPath = (name: string): boolean => (env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, name)));
  return [...(onPath('python3.13') ? ['python3.13'] : []), 'python3'];
}

// ---- What the user asks for ------------------------------------------------------------------

/** A requirement as typed (`NAME` or `NAME==VERSION`), or a Usage error naming it and `where`. */
export function checkRequirement(text: string, where: string): string {
  if (PACKAGE_REQUIREMENT_RE.test(text)) return text;
  throw new UkernelError('Usage', `${where}: "${text.slice(0, 80)}" is not NAME or NAME==VERSION`, {
    hint: 'ukernel takes a package name, optionally pinned with == (e.g. requests==2.32); ranges, extras, markers and URLs are not supported.',
  });
}

/**
 * The requirements of a requirements file (`env add -r FILE`): one `NAME` or `NAME==VERSION` a
 * line; blank lines and `#` comments are skipped. Anything else (options such as `-r` or
 * `--index-url`, ranges, extras, markers, URLs) is a Usage error at `display:line`.
 */
export function parseRequirementsFile(text: string, display: string): string[] {
  const found: string[] = [];
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    found.push(checkRequirement(line.replace(/\s*==\s*/, '=='), `${display}:${index + 1}`));
  }
  if (found.length === 0) throw new UkernelError('Usage', `${display} lists no packages`);
  return found;
}

/** Reads a requirements file (at most REQUIREMENTS_FILE_BYTES_MAX) and parses it. */
export function readRequirementsFile(path: string, display: string): string[] {
  let text: string;
  try {
    if (statSync(path).size > REQUIREMENTS_FILE_BYTES_MAX) {
      throw new UkernelError('Usage', `${display} is larger than ${REQUIREMENTS_FILE_BYTES_MAX} bytes`);
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof UkernelError) throw err;
    throw new UkernelError('FileUnreadable', `cannot read ${display}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseRequirementsFile(text, display);
}

/** `existing` with `added` in: a package already listed is replaced in place, new ones appended. */
export function addRequirements(existing: readonly string[], added: readonly string[]): string[] {
  const result = [...existing];
  for (const requirement of added) {
    const at = result.findIndex((r) => packageName(r) === packageName(requirement));
    if (at >= 0) result[at] = requirement;
    else result.push(requirement);
  }
  return result;
}

/** `existing` without `names` (by normalized name); the names that were not there. */
export function removeRequirements(
  existing: readonly string[],
  names: readonly string[],
): { packages: string[]; missing: string[] } {
  const wanted = new Set(names.map(packageName));
  const present = new Set(existing.map(packageName));
  return {
    packages: existing.filter((r) => !wanted.has(packageName(r))),
    missing: names.filter((n) => !present.has(packageName(n))),
  };
}

// ---- Editing ukernel.toml ----------------------------------------------------------------------

/** Where a multi-line TOML value that starts at `lines[start]` (after `key =`) ends. */
function valueEnd(lines: readonly string[], start: number): number {
  let depth = 0;
  let quote: string | null = null;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i]!;
    const from = i === start ? line.indexOf('=') + 1 : 0;
    for (let j = from; j < line.length; j++) {
      const c = line[j]!;
      if (quote !== null) {
        if (c === '\\' && quote === '"') j++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '#') break;
      else if (c === '[') depth++;
      else if (c === ']') depth--;
    }
    if (depth <= 0) return i;
  }
  return lines.length - 1;
}

/**
 * ukernel.toml's text with `[env] <key>` (`packages` or `system`) set to `values`, everything
 * else as it was: the `<key> = …` line (or lines) replaced, or one added at the end of `[env]`, or
 * an `[env]` table appended. The result is parsed back; when it does not hold exactly `values`
 * (an `[env]` written as an inline table or with dotted keys), ConfigInvalid (UK112) asks for a
 * hand edit.
 */
export function setManifestList(text: string, key: 'packages' | 'system', values: readonly string[], display: string): string {
  const value = `${key} = [${values.map((p) => JSON.stringify(p)).join(', ')}]`;
  const lines = text.split('\n');
  const header = lines.findIndex((l) => /^\s*\[\s*env\s*\]\s*(#.*)?$/.test(l));
  let result: string;
  if (header < 0) {
    const body = text.endsWith('\n') || text === '' ? text : `${text}\n`;
    result = `${body}${body === '' ? '' : '\n'}[env]\n${value}\n`;
  } else {
    let end = lines.length;
    for (let i = header + 1; i < lines.length; i++) {
      if (/^\s*\[/.test(lines[i]!)) {
        end = i;
        break;
      }
    }
    const at = lines.findIndex((l, i) => i > header && i < end && new RegExp(`^\\s*${key}\\s*=`).test(l));
    if (at >= 0) {
      lines.splice(at, valueEnd(lines, at) - at + 1, value);
    } else {
      let last = end - 1;
      while (last > header && lines[last]!.trim() === '') last--;
      lines.splice(last + 1, 0, value);
    }
    result = lines.join('\n');
  }
  let parsed: { env?: Record<string, unknown> };
  try {
    parsed = parseToml(result) as typeof parsed;
  } catch {
    parsed = {};
  }
  if (JSON.stringify(parsed.env?.[key]) !== JSON.stringify(values)) {
    throw new UkernelError('ConfigInvalid', `${display}: cannot set [env] ${key} in this file's layout`, {
      hint: `Edit it by hand: under [env], ${value}`,
    });
  }
  return result;
}

// ---- Resolution (pip) --------------------------------------------------------------------------

/** A wheel file name's tags (PEP 427): {python, abi, platform}, or null when it is not a wheel name. */
export function wheelTags(filename: string): { python: string; abi: string; platform: string } | null {
  const match = /^[^-/]+-[^-/]+(?:-[0-9][^-/]*)?-([^-/]+)-([^-/]+)-([^-/]+)\.whl$/.exec(filename);
  if (match === null) return null;
  return { python: match[1]!, abi: match[2]!, platform: match[3]! };
}

/** Whether a wheel needs no compiled code: abi `none`, platform `any`, a `py3…` python tag. */
export function isPureWheel(filename: string): boolean {
  const tags = wheelTags(filename);
  if (tags === null || tags.abi !== 'none' || tags.platform !== 'any') return false;
  return tags.python.split('.').some((t) => t === 'py3' || /^py3[0-9]+$/.test(t) || t === 'py2.py3');
}

/** One entry of pip's installation report, as far as the lock reads it. */
interface ReportItem {
  metadata?: { name?: unknown; version?: unknown };
  download_info?: { url?: unknown; archive_info?: { hashes?: { sha256?: unknown } } };
}

/**
 * The distributions of pip's installation report (`pip install --dry-run --report`, format 1),
 * sorted by name: each must be a pure wheel from an https URL with a sha256. Errors:
 * PackageNotPure (UK175) for a wheel with compiled code, PackageFetchFailed (UK176) for a report
 * without what the lock needs.
 */
export function parsePipReport(report: unknown): Dependency[] {
  const install = (report as { install?: unknown })?.install;
  if (!Array.isArray(install)) throw new UkernelError('PackageFetchFailed', "pip's report has no install list");
  const dependencies: Dependency[] = [];
  for (const item of install as ReportItem[]) {
    const name = String(item?.metadata?.name ?? '');
    const version = String(item?.metadata?.version ?? '');
    const url = String(item?.download_info?.url ?? '');
    const sha256 = String(item?.download_info?.archive_info?.hashes?.sha256 ?? '');
    const artifact = decodeURIComponent(basename(new URL(url, 'https://invalid/').pathname));
    if (!url.startsWith('https://') || !/^[0-9a-f]{64}$/.test(sha256) || name === '' || version === '') {
      throw new UkernelError(
        'PackageFetchFailed',
        `pip resolved ${name || '?'} ${version} to ${url.slice(0, 200) || '?'}, without the https URL and sha256 a lock needs`,
      );
    }
    if (!isPureWheel(artifact)) {
      throw new UkernelError(
        'PackageNotPure',
        `${name} ${version} comes as ${artifact}, which holds compiled code: the guest cannot load extension modules`,
      );
    }
    dependencies.push({ name, version, artifact, sha256, url: url.split('#')[0]! });
  }
  return dependencies.sort((a, b) => (packageName(a.name) < packageName(b.name) ? -1 : 1));
}

/** What PyPI's JSON API says of a release: its files (name and whether it is a wheel). */
export interface ReleaseFiles {
  version: string;
  files: string[];
}

/**
 * Why `requirement` did not resolve, from PyPI's answer: null (no such project), or its release
 * for the version asked (null when that version does not exist) and its newest version.
 * Returns the typed error, or null when the release has a pure wheel (the failure is elsewhere).
 */
export function explainUnresolved(
  requirement: string,
  project: { newest: string; release: ReleaseFiles | null } | null,
): UkernelError | null {
  const [name, version] = requirement.split('==') as [string, string | undefined];
  if (project === null) return new UkernelError('PackageNotFound', `no package named "${name}" on PyPI`);
  if (project.release === null) {
    return new UkernelError(
      'PackageNotFound',
      `${name} has no version ${version ?? '?'} on PyPI (the newest is ${project.newest})`,
    );
  }
  const { files } = project.release;
  if (files.some(isPureWheel)) return null;
  const wheels = files.filter((f) => f.endsWith('.whl'));
  const shown = `${name} ${project.release.version}`;
  if (wheels.length === 0) {
    return new UkernelError(
      'PackageNotPure',
      `${shown} has no wheel on PyPI, only a source distribution; ukernel installs wheels only and builds nothing from source`,
    );
  }
  const tags = [...new Set(wheels.map((w) => wheelTags(w)?.abi ?? '?'))].slice(0, 4).join(', ');
  return new UkernelError(
    'PackageNotPure',
    `${shown} has only compiled wheels (${wheels.length}, ABI ${tags}; e.g. ${wheels[0]}): it needs extension modules, which the guest cannot load`,
  );
}

function networkError(what: string, err: unknown): UkernelError {
  const cause = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const why =
    cause?.name === 'TimeoutError' ? 'timed out' : (cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? 'failed');
  return new UkernelError('PackageFetchFailed', `${what}: ${why}`);
}

async function getJson(url: string, abort: AbortSignal): Promise<unknown | null> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.any([abort, AbortSignal.timeout(PYPI_QUERY_TIMEOUT_MS)]) });
  } catch (err) {
    if (abort.aborted) throw abort.reason;
    throw networkError(`asking PyPI (${url})`, err);
  }
  if (response.status === 404) return null;
  if (!response.ok) throw new UkernelError('PackageFetchFailed', `asking PyPI (${url}): HTTP ${response.status}`);
  return response.json();
}

/** A version for comparison as PEP 440's `==` does: lower case, trailing `.0` release parts dropped. */
export function versionKey(version: string): string {
  return version
    .toLowerCase()
    .replace(/^v/, '')
    .replace(/(\.0+)+$/, '');
}

/** Asks PyPI's JSON API why `requirement` did not resolve (explainUnresolved). */
async function askPypi(requirement: string, abort: AbortSignal): Promise<UkernelError | null> {
  const [name, version] = requirement.split('==') as [string, string | undefined];
  const project = (await getJson(`${PYPI_JSON_URL}/${encodeURIComponent(name)}/json`, abort)) as {
    info?: { version?: string };
    urls?: Array<{ filename?: string }>;
    releases?: Record<string, Array<{ filename?: string }>>;
  } | null;
  if (project === null) return explainUnresolved(requirement, null);
  const newest = String(project.info?.version ?? '?');
  let urls = project.urls ?? [];
  let shown = newest;
  if (version !== undefined) {
    const match = Object.keys(project.releases ?? {}).find((v) => versionKey(v) === versionKey(version));
    if (match === undefined) return explainUnresolved(requirement, { newest, release: null });
    urls = project.releases![match]!;
    shown = match;
  }
  const files = urls.map((u) => String(u.filename ?? ''));
  return explainUnresolved(requirement, { newest, release: { version: shown, files } });
}

interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function run(
  file: string,
  args: readonly string[],
  timeoutMs: number,
  abort: AbortSignal,
  env: NodeJS.ProcessEnv,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20, signal: abort, env },
      (err, stdout, stderr) => {
        if (abort.aborted) return reject(abort.reason);
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: unknown }) | null;
        if (e !== null && typeof e.code === 'string') {
          return reject(
            new UkernelError('PackageFetchFailed', `cannot run ${file} (the Python pip runs under): ${e.code}`, {
              hint: 'Install Python 3 with pip >= 22.2 (or set UKERNEL_PIP_PYTHON to a python that has it).',
            }),
          );
        }
        resolve({
          code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1,
          stdout: String(stdout),
          stderr: String(stderr),
          timedOut: e?.killed === true,
        });
      },
    );
  });
}

/** pip's stderr lines that say the network failed (urllib3's and pip's wording). */
const PIP_NETWORK_RE =
  /NewConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|Could not fetch URL|Temporary failure in name resolution|Network is unreachable|ProxyError|SSLError/;

/**
 * pip's warnings that it picked a yanked release (PEP 592: only when pinned with ==), as one
 * line each with PyPI's reason: `warning: requests 2.32.0 is yanked on PyPI (Yanked due to …)`.
 * pip's text (and the reason, from PyPI) is untrusted: control characters dropped, cut.
 */
export function yankedWarnings(stderr: string): string[] {
  const lines = stderr.split('\n');
  const out: string[] = [];
  lines.forEach((line, i) => {
    const match = /yanked version: '([A-Za-z0-9._-]{1,100})' candidate \(version ([A-Za-z0-9.+!_-]{1,60}) /.exec(line);
    if (match === null) return;
    const reason = /^Reason for being yanked: (.*)$/.exec(lines[i + 1] ?? '')?.[1];
    const why = reason === undefined ? '' : ` (${printable(reason.replace(/[\x00-\x1f\x7f]/g, ''), 200)})`;
    out.push(`warning: ${match[1]} ${match[2]} is yanked on PyPI${why}; pin another version unless you need this one`);
  });
  return out;
}

/**
 * Resolves `requirements` for the adapter's Python with pip (see the file comment); every
 * distribution, sorted by name. Errors: PackageNotFound (UK174: no such package or version),
 * PackageNotPure (UK175: only compiled wheels, or only a source distribution), PackageFetchFailed
 * (UK176: the network, a timeout, no pip, a conflict pip reports). `warn` gets
 * yankedWarnings' lines when pip picked a yanked release.
 */
export async function resolvePackages(
  requirements: readonly string[],
  env: NodeJS.ProcessEnv,
  abort: AbortSignal,
  warn: (line: string) => void = () => {},
): Promise<Dependency[]> {
  // pip's own configuration and PIP_* are ignored (--isolated); a proxy the user needs is kept.
  const proxies = Object.fromEntries(Object.entries(env).filter(([key]) => /^(https?_proxy|no_proxy|all_proxy)$/i.test(key)));
  const childEnv = {
    ...proxies,
    PATH: env.PATH ?? '/usr/bin:/bin',
    HOME: env.HOME ?? tmpdir(),
    LC_ALL: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
  };
  const python = await findPip(resolverPythons(env), childEnv, abort);
  const dir = mkdtempSync(join(tmpdir(), 'ukernel-pip-'));
  try {
    const reportPath = join(dir, 'report.json');
    const args = [
      '-m',
      'pip',
      'install',
      '--dry-run',
      '--ignore-installed',
      '--isolated',
      '--no-input',
      '--quiet',
      '--disable-pip-version-check',
      '--report',
      reportPath,
      '--target',
      join(dir, 'target'),
      '--index-url',
      'https://pypi.org/simple',
      '--only-binary=:all:',
      '--python-version',
      '3.13',
      '--implementation',
      'py',
      '--abi',
      'none',
      '--platform',
      'any',
      '--timeout',
      String(PIP_SOCKET_TIMEOUT_S),
      '--retries',
      String(PIP_RETRIES),
      '--',
      ...requirements,
    ]; // prettier-ignore
    const result = await run(python, args, PIP_RESOLVE_TIMEOUT_MS, abort, childEnv);
    if (result.timedOut) {
      throw new UkernelError(
        'PackageFetchFailed',
        `pip did not resolve ${requirements.join(' ')} within ${PIP_RESOLVE_TIMEOUT_MS / 1000} s`,
      );
    }
    if (result.code === 0) {
      for (const line of yankedWarnings(result.stderr)) warn(line);
      return parsePipReport(JSON.parse(readFileSync(reportPath, 'utf8')));
    }
    throw await explainPipFailure(requirements, result.stderr, abort);
  } finally {
    removeQuietly(dir);
  }
}

/** The first of `pythons` that runs pip >= PIP_VERSION_MIN; PackageFetchFailed naming each otherwise. */
async function findPip(pythons: readonly string[], childEnv: NodeJS.ProcessEnv, abort: AbortSignal): Promise<string> {
  const [major, minor] = PIP_VERSION_MIN;
  const tried: string[] = [];
  for (const python of pythons) {
    let answer: ExecResult;
    try {
      answer = await run(python, ['-m', 'pip', '--version'], PYPI_QUERY_TIMEOUT_MS, abort, childEnv);
    } catch (err) {
      if (abort.aborted) throw err;
      tried.push(`${python}: cannot run`);
      continue;
    }
    const match = /^pip ([0-9]+)\.([0-9]+)/.exec(answer.stdout);
    if (answer.code === 0 && match !== null && Number(match[1]) * 1000 + Number(match[2]) >= major * 1000 + minor) return python;
    tried.push(`${python}: ${match === null ? 'no pip' : `pip ${match[1]}.${match[2]}`}`);
  }
  throw new UkernelError('PackageFetchFailed', `no Python with pip >= ${major}.${minor} to resolve with (${tried.join('; ')})`, {
    hint: "Install pip (python3 -m ensurepip, or your distribution's python3-pip), or set UKERNEL_PIP_PYTHON to a python that has it.",
  });
}

async function explainPipFailure(requirements: readonly string[], stderr: string, abort: AbortSignal): Promise<UkernelError> {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  const tail = lines.slice(-8);
  if (PIP_NETWORK_RE.test(stderr)) {
    return new UkernelError('PackageFetchFailed', `pip could not reach the package index (https://pypi.org/simple)`, {
      details: tail,
    });
  }
  // "No matching distribution found for X": X may be one asked for or a dependency of one.
  const missing = /No matching distribution found for ([A-Za-z0-9._-]+)(?:==([^\s;]+))?/.exec(stderr);
  // Ask PyPI about that one first: the others may well be fine.
  const named = missing === null ? [] : [missing[2] === undefined ? missing[1]! : `${missing[1]}==${missing[2]}`];
  const asked = named.map((n) => requirements.find((r) => packageName(r) === packageName(n)) ?? n);
  const candidates = [...asked, ...requirements.filter((r) => !asked.includes(r))];
  for (const requirement of candidates) {
    const why = await askPypi(requirement, abort);
    if (why === null) continue;
    if (requirements.includes(requirement)) return why;
    // A dependency: say what needs it (the code and hint are the same).
    why.message = `${why.message} (needed by ${requirements.join(', ')})`;
    return why;
  }
  return new UkernelError('PackageFetchFailed', `pip could not resolve ${requirements.join(' ')}`, { details: tail });
}

// ---- The wheel cache -------------------------------------------------------------------------

/** ${XDG_CACHE_HOME:-~/.cache}/ukernel/wheels: wheels by sha256 (<sha256>.whl). */
export function wheelCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'ukernel', 'wheels');
}

export interface WheelOptions {
  env: NodeJS.ProcessEnv;
  abort: AbortSignal;
  /** A warning line for the user (a corrupted cached wheel). */
  warn: (line: string) => void;
  /** How messages name the entry: `env/ukernel.lock: dependencies[requests]`. */
  entry: string;
}

/**
 * The cached wheel of `dep`, checked against its sha256 on every use: when it is missing, or its
 * bytes no longer hash to `dep.sha256` (corrupted: one warning), it is fetched again from
 * `dep.url`. A download with another sha256 is WheelHashMismatch (UK177) naming the entry; a
 * network failure or timeout PackageFetchFailed (UK176). Returns its path.
 */
export async function ensureWheel(dep: Dependency, options: WheelOptions): Promise<string> {
  const dir = wheelCacheDir(options.env);
  const path = join(dir, `${dep.sha256}.whl`);
  if (existsSync(path)) {
    const actual = sha256Hex(readFileSync(path));
    if (actual === dep.sha256) return path;
    options.warn(`warning: the cached wheel ${path} (${dep.artifact}) is corrupted (sha256 ${actual}); fetching it again`);
    removeQuietly(path);
  }
  const data = await download(dep.url, options.abort);
  const actual = sha256Hex(data);
  if (actual !== dep.sha256) {
    throw new UkernelError(
      'WheelHashMismatch',
      `${options.entry}.sha256: the lock pins ${dep.sha256}, but ${dep.url} has sha256 ${actual}`,
    );
  }
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(path, data);
  return path;
}

async function download(url: string, abort: AbortSignal): Promise<Buffer> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.any([abort, AbortSignal.timeout(WHEEL_FETCH_TIMEOUT_MS)]) });
    if (!response.ok) throw new UkernelError('PackageFetchFailed', `downloading ${url}: HTTP ${response.status}`);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (length > WHEEL_BYTES_MAX) throw new UkernelError('PackageFetchFailed', `${url} is larger than ${WHEEL_BYTES_MAX} bytes`);
    const data = Buffer.from(await response.arrayBuffer());
    if (data.length > WHEEL_BYTES_MAX)
      throw new UkernelError('PackageFetchFailed', `${url} is larger than ${WHEEL_BYTES_MAX} bytes`);
    return data;
  } catch (err) {
    if (abort.aborted) throw abort.reason;
    if (err instanceof UkernelError) throw err;
    throw networkError(`downloading ${url}`, err);
  }
}
