// The pure parts of Python package handling (packages.ts): requirements, the ukernel.toml edit,
// wheel tags, pip's report, why a resolution failed; and the wheel cache against a local HTTP
// server (download, corrupted cache, wrong sha256, a dead server).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isUkernelError, type UkernelError } from '../errors.js';
import {
  addRequirements,
  type Dependency,
  ensureWheel,
  explainUnresolved,
  isPureWheel,
  parsePipReport,
  parseRequirementsFile,
  removeRequirements,
  setManifestList,
  yankedWarnings,
  versionKey,
  wheelCacheDir,
} from './packages.js';

function thrown(f: () => unknown): UkernelError {
  try {
    f();
  } catch (err) {
    return err as UkernelError;
  }
  throw new Error('did not throw');
}

describe('requirements', () => {
  it('reads a requirements file: names and ==, comments and blank lines skipped, spaces around == allowed', () => {
    expect(parseRequirementsFile('# deps\nrequests == 2.32.3  # pinned\n\nidna\n', 'r.txt')).toEqual([
      'requests==2.32.3',
      'idna',
    ]);
  });

  it('refuses what it cannot pin at file:line: ranges, options, extras, an empty file', () => {
    for (const [text, line] of [
      ['idna\nrequests>=2\n', 2],
      ['-r other.txt\n', 1],
      ['requests[socks]\n', 1],
    ] as const) {
      const err = thrown(() => parseRequirementsFile(text, 'r.txt'));
      expect(isUkernelError(err, 'Usage')).toBe(true);
      expect(err.message).toMatch(new RegExp(`^r\\.txt:${line}: ".*" is not NAME or NAME==VERSION$`));
    }
    expect(thrown(() => parseRequirementsFile('# nothing\n', 'r.txt')).message).toBe('r.txt lists no packages');
  });

  it('adds in place by normalized name (PEP 503) and appends new ones; removes by name, naming the missing', () => {
    expect(addRequirements(['Requests==2.31', 'idna'], ['requests==2.32.3', 'certifi'])).toEqual([
      'requests==2.32.3',
      'idna',
      'certifi',
    ]);
    expect(addRequirements(['charset_normalizer'], ['charset-normalizer==3.5.3'])).toEqual(['charset-normalizer==3.5.3']);
    expect(removeRequirements(['requests==2.32.3', 'idna'], ['REQUESTS', 'six'])).toEqual({
      packages: ['idna'],
      missing: ['six'],
    });
  });
});

describe('setManifestList (ukernel.toml, the rest kept)', () => {
  const base = '# my project\n[project]\nname = "p"\n\n[env]\nbase = "python-3.13"  # the adapter\n\n[run]\nvcpu = 1\n';

  it('adds the key at the end of [env], keeping comments, blank lines and the other tables', () => {
    const out = setManifestList(base, 'packages', ['requests==2.32.3'], 'ukernel.toml');
    expect(out).toBe(base.replace('# the adapter\n', '# the adapter\npackages = ["requests==2.32.3"]\n'));
  });

  it('replaces a one-line or a multi-line list in place', () => {
    const one = setManifestList(base, 'packages', ['idna'], 'ukernel.toml');
    expect(setManifestList(one, 'packages', ['a', 'b'], 'ukernel.toml')).toBe(
      base.replace('# the adapter\n', '# the adapter\npackages = ["a", "b"]\n'),
    );
    const multi = base.replace('[run]', 'packages = [\n  "x", # one\n  "y[z]",\n]\n\n[run]');
    const out = setManifestList(multi, 'packages', [], 'ukernel.toml');
    expect(out).toBe(base.replace('[run]', 'packages = []\n\n[run]'));
  });

  it('appends an [env] table when there is none', () => {
    const out = setManifestList('[project]\nname = "p"', 'packages', ['idna'], 'ukernel.toml');
    expect(out).toBe('[project]\nname = "p"\n\n[env]\npackages = ["idna"]\n');
    expect(parseToml(out)).toEqual({ project: { name: 'p' }, env: { packages: ['idna'] } });
  });

  it('refuses a layout it cannot edit (an inline env table) with UK112 and the line to write', () => {
    const err = thrown(() => setManifestList('env = { base = "python-3.13" }\n', 'packages', ['idna'], 'ukernel.toml'));
    expect(isUkernelError(err, 'ConfigInvalid')).toBe(true);
    expect(err.hint).toContain('packages = ["idna"]');
  });
});

describe('wheels and pip', () => {
  it('tells pure wheels from compiled ones', () => {
    expect(isPureWheel('requests-2.32.3-py3-none-any.whl')).toBe(true);
    expect(isPureWheel('six-1.17.0-py2.py3-none-any.whl')).toBe(true);
    expect(isPureWheel('foo-1.0-1-py313-none-any.whl')).toBe(true);
    expect(isPureWheel('numpy-2.3.0-cp313-cp313-manylinux_2_28_x86_64.whl')).toBe(false);
    expect(isPureWheel('cffi-1.0-cp313-abi3-any.whl')).toBe(false);
    expect(isPureWheel('legacy-1.0-py2-none-any.whl')).toBe(false);
    expect(isPureWheel('requests-2.32.3.tar.gz')).toBe(false);
  });

  const item = (name: string, version: string, file: string, sha = 'a'.repeat(64)) => ({
    metadata: { name, version },
    download_info: { url: `https://files.example/p/${file}#sha256=${sha}`, archive_info: { hashes: { sha256: sha } } },
  });

  it("reads pip's report: every distribution, sorted by normalized name, the URL without its fragment", () => {
    const deps = parsePipReport({
      version: '1',
      install: [
        item('urllib3', '2.8.0', 'urllib3-2.8.0-py3-none-any.whl'),
        item('Charset_Normalizer', '3.5.3', 'charset_normalizer-3.5.3-py3-none-any.whl'),
      ],
    });
    expect(deps.map((d) => d.name)).toEqual(['Charset_Normalizer', 'urllib3']);
    expect(deps[1]).toEqual({
      name: 'urllib3',
      version: '2.8.0',
      artifact: 'urllib3-2.8.0-py3-none-any.whl',
      sha256: 'a'.repeat(64),
      url: 'https://files.example/p/urllib3-2.8.0-py3-none-any.whl',
    });
  });

  it('refuses a compiled wheel (UK175) and an entry without https URL or sha256 (UK176)', () => {
    const compiled = thrown(() =>
      parsePipReport({ install: [item('numpy', '2.3.0', 'numpy-2.3.0-cp313-cp313-manylinux_2_28_x86_64.whl')] }),
    );
    expect(isUkernelError(compiled, 'PackageNotPure')).toBe(true);
    expect(compiled.message).toContain(
      'numpy 2.3.0 comes as numpy-2.3.0-cp313-cp313-manylinux_2_28_x86_64.whl, which holds compiled code',
    );
    const noHash = item('idna', '3.20', 'idna-3.20-py3-none-any.whl');
    noHash.download_info.archive_info.hashes.sha256 = '';
    expect(
      isUkernelError(
        thrown(() => parsePipReport({ install: [noHash] })),
        'PackageFetchFailed',
      ),
    ).toBe(true);
    expect(
      isUkernelError(
        thrown(() => parsePipReport({})),
        'PackageFetchFailed',
      ),
    ).toBe(true);
  });

  it('says why a requirement did not resolve: no project, no version, only compiled wheels, only an sdist', () => {
    expect(explainUnresolved('nope', null)?.message).toBe('no package named "nope" on PyPI');
    const version = explainUnresolved('idna==9', { newest: '3.20', release: null })!;
    expect([version.code, version.message]).toEqual(['UK174', 'idna has no version 9 on PyPI (the newest is 3.20)']);
    const compiled = explainUnresolved('numpy', {
      newest: '2.3.0',
      release: {
        version: '2.3.0',
        files: [
          'numpy-2.3.0.tar.gz',
          'numpy-2.3.0-cp313-cp313-manylinux_2_28_x86_64.whl',
          'numpy-2.3.0-cp313-cp313t-win_amd64.whl',
        ],
      },
    })!;
    expect(compiled.code).toBe('UK175');
    expect(compiled.message).toBe(
      'numpy 2.3.0 has only compiled wheels (2, ABI cp313, cp313t; e.g. numpy-2.3.0-cp313-cp313-manylinux_2_28_x86_64.whl): it needs extension modules, which the guest cannot load',
    );
    expect(explainUnresolved('x', { newest: '1', release: { version: '1', files: ['x-1.tar.gz'] } })?.message).toContain(
      'only a source distribution',
    );
    expect(explainUnresolved('x', { newest: '1', release: { version: '1', files: ['x-1-py3-none-any.whl'] } })).toBeNull();
  });

  it("compares versions as PEP 440's == does (trailing .0 parts)", () => {
    expect(versionKey('2.32')).toBe(versionKey('2.32.0'));
    expect(versionKey('2.32')).not.toBe(versionKey('2.32.3'));
  });
});

describe('the wheel cache (a local HTTP server stands in for PyPI)', () => {
  const cache = mkdtempSync(join(tmpdir(), 'ukernel-wheels-'));
  const env = { XDG_CACHE_HOME: cache };
  const wheel = Buffer.from('PK pretend wheel bytes');
  const sha = createHash('sha256').update(wheel).digest('hex');
  let server: Server;
  let hits = 0;
  let base = '';
  const dep = (url: string, sha256 = sha): Dependency => ({
    name: 'idna',
    version: '3.20',
    artifact: 'idna-3.20-py3-none-any.whl',
    sha256,
    url,
  });
  const options = (warnings: string[] = []) => ({
    env,
    abort: new AbortController().signal,
    warn: (l: string) => void warnings.push(l),
    entry: 'env/ukernel.lock: dependencies[idna]',
  });

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/idna-3.20-py3-none-any.whl') res.end(wheel);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(cache, { recursive: true, force: true });
  });

  it('downloads once into <cache>/ukernel/wheels/<sha256>.whl, then serves it from the cache', async () => {
    const path = await ensureWheel(dep(`${base}/idna-3.20-py3-none-any.whl`), options());
    expect(path).toBe(join(wheelCacheDir(env), `${sha}.whl`));
    expect(readFileSync(path)).toEqual(wheel);
    const before = hits;
    await ensureWheel(dep(`${base}/idna-3.20-py3-none-any.whl`), options());
    expect(hits).toBe(before);
  });

  it('detects a corrupted cached wheel (one warning) and fetches it again', async () => {
    const path = join(wheelCacheDir(env), `${sha}.whl`);
    writeFileSync(path, 'garbage');
    const warnings: string[] = [];
    await ensureWheel(dep(`${base}/idna-3.20-py3-none-any.whl`), options(warnings));
    expect(readFileSync(path)).toEqual(wheel);
    expect(warnings).toEqual([expect.stringContaining(`the cached wheel ${path} (idna-3.20-py3-none-any.whl) is corrupted`)]);
  });

  it('refuses a download whose sha256 is not the lock’s (UK177 naming the entry) and caches nothing', async () => {
    const wrong = 'e'.repeat(64);
    const err = await ensureWheel(dep(`${base}/idna-3.20-py3-none-any.whl`, wrong), options()).then(
      () => new Error('resolved') as UkernelError,
      (e: unknown) => e as UkernelError,
    );
    expect(isUkernelError(err, 'WheelHashMismatch')).toBe(true);
    expect((err as UkernelError).message).toBe(
      `env/ukernel.lock: dependencies[idna].sha256: the lock pins ${wrong}, but ${base}/idna-3.20-py3-none-any.whl has sha256 ${sha}`,
    );
    expect(() => readFileSync(join(wheelCacheDir(env), `${wrong}.whl`))).toThrow();
  });

  it('a missing file or a dead server is UK176', async () => {
    const missing = await ensureWheel(dep(`${base}/gone.whl`, 'd'.repeat(64)), options()).then(
      () => new Error('resolved') as UkernelError,
      (e: unknown) => e as UkernelError,
    );
    expect([missing.code, missing.message]).toEqual(['UK176', `downloading ${base}/gone.whl: HTTP 404`]);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = await ensureWheel(dep(`http://127.0.0.1:${port}/x.whl`, 'c'.repeat(64)), options()).then(
      () => new Error('resolved') as UkernelError,
      (e: unknown) => e as UkernelError,
    );
    expect([dead.code, dead.message]).toEqual(['UK176', `downloading http://127.0.0.1:${port}/x.whl: ECONNREFUSED`]);
  });
});

describe('yankedWarnings (pip stderr)', () => {
  it("turns pip's yanked-release warning into one line with PyPI's reason", () => {
    const stderr = [
      "WARNING: The candidate selected for download or install is a yanked version: 'requests' candidate (version 2.32.0 at https://files.pythonhosted.org/packages/24/e8/requests-2.32.0-py3-none-any.whl (from https://pypi.org/simple/requests/) (requires-python:>=3.8))",
      'Reason for being yanked: Yanked due to conflicts with CVE-2024-35195 mitigation\x1b[31m',
      'WARNING: something else',
    ].join('\n');
    expect(yankedWarnings(stderr)).toEqual([
      'warning: requests 2.32.0 is yanked on PyPI (Yanked due to conflicts with CVE-2024-35195 mitigation[31m); pin another version unless you need this one',
    ]);
    expect(yankedWarnings('WARNING: nothing yanked here\n')).toEqual([]);
  });
});
