// ukernel.toml validation: every error names file:line:column, the key and the fix; unknown keys
// get a did-you-mean; the committed JSON Schema is what the zod schema generates.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EXCERPT_LINE_CHARS_MAX, PROJECT_FILE_BYTES_MAX } from '../constants.js';
import { UkernelError } from '../errors.js';
import { parseToolchainEnv } from '../toolchain.js';
import { findProjectRoot, loadProject, parseProjectConfig, renderJsonSchema } from './config.js';
import { didYouMean, editDistance } from './suggest.js';
import { locateKey } from './toml-position.js';

const ZIG = '0.15.2';
const VALID = `[project]
name = "demo"
language = "native"
entry = "src/main.zig"

[env]
base = "zig-0.15.2"

[build]
adapter = "native"

[run]
vcpu = 2
memory_mb = 256
net = "none"
`;

function failure(text: string): UkernelError {
  try {
    parseProjectConfig(text, 'ukernel.toml', ZIG);
  } catch (err) {
    if (err instanceof UkernelError) return err;
    throw err;
  }
  throw new Error('expected a validation error');
}

describe('parseProjectConfig', () => {
  it('accepts the init template and fills defaults for what is left out', () => {
    expect(parseProjectConfig(VALID, 'ukernel.toml', ZIG)).toEqual({
      project: { name: 'demo', language: 'native', entry: 'src/main.zig' },
      env: { base: 'zig-0.15.2' },
      build: { adapter: 'native' },
      run: { vcpu: 2, memory_mb: 256, net: 'none' },
    });
    expect(parseProjectConfig('[project]\nname = "a"\nlanguage = "native"\n', 'ukernel.toml', ZIG)).toEqual({
      project: { name: 'a', language: 'native', entry: 'src/main.zig' },
      env: { base: 'zig-0.15.2' },
      build: { adapter: 'native' },
      run: { vcpu: 1, memory_mb: 128 },
    });
    expect(parseProjectConfig(VALID.replace('"none"', '"tap:tap0"'), 'ukernel.toml', ZIG).run.net).toBe('tap:tap0');
  });

  it('accepts a Python project, and fills its entry, base and adapter when left out', () => {
    const python = VALID.replace('"native"', '"python"')
      .replace('src/main.zig', 'src/main.py')
      .replace('"zig-0.15.2"', '"python-3.13"')
      .replace('adapter = "native"', 'adapter = "python"');
    expect(parseProjectConfig(python, 'ukernel.toml', ZIG)).toMatchObject({
      project: { name: 'demo', language: 'python', entry: 'src/main.py' },
      env: { base: 'python-3.13' },
      build: { adapter: 'python' },
    });
    expect(parseProjectConfig('[project]\nname = "a"\nlanguage = "python"\n', 'ukernel.toml', ZIG)).toEqual({
      project: { name: 'a', language: 'python', entry: 'src/main.py' },
      env: { base: 'python-3.13' },
      build: { adapter: 'python' },
      run: { vcpu: 1, memory_mb: 128 },
    });
  });

  it.each([
    [
      'a Python project under the native adapter',
      ['language = "native"', 'language = "python"', 'src/main.zig', 'src/main.py', '"zig-0.15.2"', '"python-3.13"'],
      /^ukernel\.toml:10:1: build\.adapter: adapter "native" does not fit project\.language = "python"$/,
      'set adapter = "python" under [build].',
    ],
    [
      'a Python project on the Zig base',
      ['language = "native"', 'language = "python"', 'src/main.zig', 'src/main.py', 'adapter = "native"', 'adapter = "python"'],
      /^ukernel\.toml:7:1: env\.base: base "zig-0\.15\.2" does not fit project\.language = "python"$/,
      'set base = "python-3.13" under [env].',
    ],
    [
      'a Python project with a .zig entry',
      ['language = "native"', 'language = "python"', '"zig-0.15.2"', '"python-3.13"', 'adapter = "native"', 'adapter = "python"'],
      /^ukernel\.toml:4:1: project\.entry: entry "src\/main\.zig" \(a Python project's entry is a \.py file\) does not fit/,
      'set entry = "src/main.py" under [project], or a path to your .py entry.',
    ],
    [
      'a native project with the Python adapter, base and entry',
      ['adapter = "native"', 'adapter = "python"', '"zig-0.15.2"', '"python-3.13"', 'src/main.zig', 'src/main.py'],
      /^ukernel\.toml:4:1: project\.entry: entry "src\/main\.py" \(a Zig project's entry is a \.zig file\) does not fit project\.language = "native"$/,
      'set entry = "src/main.zig" under [project], or a path to your .zig entry.',
    ],
  ])('%s is UK112 at the key, with the value to set', (_what, edits, message, hint) => {
    let text = VALID;
    for (let i = 0; i < edits.length; i += 2) text = text.replace(edits[i]!, edits[i + 1]!);
    const err = failure(text);
    expect(err.code).toBe('UK112');
    expect(err.message).toMatch(message);
    expect(err.hint).toBe(hint);
  });

  it('[build] python_stdlib_tests: dotted names under test, Python projects only (UK112 otherwise)', () => {
    const python = '[project]\nname = "a"\nlanguage = "python"\n[build]\n';
    const names = 'python_stdlib_tests = ["test.support", "test.test_math", "test.mathdata"]\n';
    expect(parseProjectConfig(python + names, 'ukernel.toml', ZIG).build).toEqual({
      adapter: 'python',
      python_stdlib_tests: ['test.support', 'test.test_math', 'test.mathdata'],
    });
    for (const bad of ['"os"', '"test/../etc"', '"test..support"', '"test.support."', '"test.1x"', '"test.support/x"']) {
      const err = failure(`${python}python_stdlib_tests = [${bad}]\n`);
      expect(err.message, bad).toMatch(/^ukernel\.toml:5:24: build\.python_stdlib_tests\.0: the string ".*" is not valid$/);
      expect(err.hint).toContain('dotted names under "test"');
    }
    const many = Array.from({ length: 65 }, (_, i) => `"test.t${i}"`).join(', ');
    expect(failure(`${python}python_stdlib_tests = [${many}]\n`).message).toMatch(/build\.python_stdlib_tests: .*out of range/);
    const native = VALID.replace('adapter = "native"', `adapter = "native"\n${names}`);
    const err = failure(native);
    expect(err.code).toBe('UK112');
    expect(err.message).toMatch(/build\.python_stdlib_tests: python_stdlib_tests does not fit project\.language = "native"$/);
    expect(err.hint).toBe('remove python_stdlib_tests from [build].');
  });

  it('[env] packages: what a Python project asks for; malformed, repeated or on a native project is UK112 at the key', () => {
    const python = VALID.replace('"native"', '"python"')
      .replace('src/main.zig', 'src/main.py')
      .replace('"zig-0.15.2"', '"python-3.13"')
      .replace('adapter = "native"', 'adapter = "python"');
    const asking = (list: string): string => python.replace('[env]', `[env]\npackages = ${list}`);
    expect(parseProjectConfig(asking('["requests==2.32", "idna"]'), 'ukernel.toml', ZIG).env).toEqual({
      base: 'python-3.13',
      packages: ['requests==2.32', 'idna'],
    });
    expect(failure(asking('["requests>=2"]')).message).toBe(
      'ukernel.toml:7:13: env.packages.0: the string "requests>=2" is not valid',
    );
    expect(failure(asking('["requests", "Requests==2.0"]')).message).toBe(
      'ukernel.toml:7:1: env.packages: an array is not valid: a package is listed twice',
    );
    const native = failure(VALID.replace('[env]', '[env]\npackages = ["requests"]'));
    expect(native.code).toBe('UK112');
    expect(native.message).toBe(
      'ukernel.toml:7:1: env.packages: a native project has no language packages: its lock pins the toolchain, the kernel and the ABI',
    );
  });

  it('accepts the network keys', () => {
    const text = VALID.replace(
      'net = "none"',
      'net = "user"\npublish = ["8080:80", "0.0.0.0:5353:53/udp", "127.0.0.1:8443:443/tcp"]\ndns = "10.0.2.2:5353"',
    );
    expect(parseProjectConfig(text, 'ukernel.toml', ZIG).run).toEqual({
      vcpu: 2,
      memory_mb: 256,
      net: 'user',
      publish: ['8080:80', '0.0.0.0:5353:53/udp', '127.0.0.1:8443:443/tcp'],
      dns: '10.0.2.2:5353',
    });
    const tap = VALID.replace('net = "none"', 'net = "tap:tap0"\nip = "172.16.0.2/30"\ngateway = "172.16.0.1"');
    expect(parseProjectConfig(tap, 'ukernel.toml', ZIG).run).toMatchObject({ ip: '172.16.0.2/30', gateway: '172.16.0.1' });
    // publish without net: net is left out (the run resolves it to "user").
    const implied = VALID.replace('net = "none"', 'publish = ["8080:80"]');
    expect(parseProjectConfig(implied, 'ukernel.toml', ZIG).run.net).toBeUndefined();
  });

  it('reports TOML syntax errors at their position with the code block', () => {
    const err = failure('[project]\nname = "demo\nlanguage = "native"\n');
    expect(err.code).toBe('UK111');
    expect(err.message).toMatch(/^ukernel\.toml:2:\d+: /);
    expect(err.details.join('\n')).toContain('2:  name = "demo');
  });

  it('quotes a hostile file safely: escape codes escaped, a 1 MB line cut around the column', () => {
    const hostile = failure('[project]\nname = "a\x1b[31mred"\n');
    expect(hostile.code).toBe('UK111');
    const shown = hostile.shown();
    expect(shown.details.join('\n')).toContain('2:  name = "a\\x1b[31mred"');
    expect([shown.message, ...shown.details].join('\n')).not.toMatch(/\x1b/);
    // The caret stands under the escape, widened as it is shown.
    const caret = shown.details.at(-1)!;
    expect(shown.details[1]!.indexOf('\\x1b')).toBe(caret.indexOf('^'));

    const long = failure(`[project]\nname = "${'A'.repeat(1 << 20)}\x1b[2J"\n`);
    const text = [long.shown().message, ...long.shown().details, long.shown().hint].join('\n');
    expect(text.length).toBeLessThan(2000);
    expect(text).toContain('…AAAA');
    expect(text).not.toMatch(/\x1b/);
    expect(long.details.every((line) => line.length <= EXCERPT_LINE_CHARS_MAX + 20)).toBe(true);

    // A line of characters that widen when escaped (C1 U+0085 is allowed in TOML strings): the
    // excerpt is cut by its shown width, so the caret survives every cut.
    const wide = failure(`[project]\nname = "${'\u0085'.repeat(3000)}" junk\n`);
    const lines = wide.shown().details;
    expect(lines.every((line) => line.length <= EXCERPT_LINE_CHARS_MAX + 20)).toBe(true);
    expect(lines[1]).toMatch(/^2: {2}…(\\u0085)+" junk$/);
    expect(lines[1]!.indexOf('junk')).toBe(lines[2]!.indexOf('^'));
  });

  it.each<[string, string, RegExp, RegExp]>([
    [
      'an unknown key close to a known one',
      VALID.replace('vcpu = 2', 'vcpus = 2'),
      /^ukernel\.toml:13:1: run\.vcpus: unknown key "vcpus" in \[run\]; did you mean "vcpu"\?$/,
      /rename it to "vcpu"/,
    ],
    [
      'an unknown table',
      VALID.replace('[build]', '[biuld]'),
      /^ukernel\.toml:9:1: biuld: unknown key "biuld" at the top level; did you mean "build"\?$/,
      /rename it to "build"/,
    ],
    [
      'an unknown key far from any',
      VALID.replace('vcpu = 2', 'colour = "red"'),
      /^ukernel\.toml:13:1: run\.colour: unknown key "colour" in \[run\]$/,
      /remove it; keys allowed in \[run\]: vcpu, memory_mb, net, publish, ip, gateway, dns/,
    ],
    [
      'a value out of range',
      VALID.replace('memory_mb = 256', 'memory_mb = 9000'),
      /^ukernel\.toml:14:1: run\.memory_mb: the integer 9000 is out of range$/,
      /set run\.memory_mb to an integer in 16\.\.3072 \(default 128\)/,
    ],
    [
      'a wrong type',
      VALID.replace('vcpu = 2', 'vcpu = "2"'),
      /^ukernel\.toml:13:1: run\.vcpu: wrong type: the string "2"$/,
      /set run\.vcpu to an integer in 1\.\.32/,
    ],
    [
      'a float',
      VALID.replace('vcpu = 2', 'vcpu = 1.5'),
      /^ukernel\.toml:13:1: run\.vcpu: wrong type: the float 1\.5$/,
      /an integer in 1\.\.32/,
    ],
    [
      'a bad name',
      VALID.replace('"demo"', '"Demo_1"'),
      /^ukernel\.toml:2:1: project\.name: the string "Demo_1" is not valid$/,
      /1–63 characters of a–z/,
    ],
    [
      'a language that does not exist',
      VALID.replace('"native"\nentry', '"rust"\nentry'),
      /^ukernel\.toml:3:1: project\.language: the string "rust" is not valid$/,
      /set project\.language to "native" or "python"/,
    ],
    [
      'an entry outside the project',
      VALID.replace('"src/main.zig"', '"../main.zig"'),
      /^ukernel\.toml:4:1: project\.entry: /,
      /without "\.\."/,
    ],
    [
      'another toolchain',
      VALID.replace('zig-0.15.2', 'zig-0.14.0'),
      /^ukernel\.toml:7:1: env\.base: the string "zig-0\.14\.0" is not valid$/,
      /"zig-0\.15\.2"/,
    ],
    [
      'a malformed net',
      VALID.replace('"none"', '"bridge"'),
      /^ukernel\.toml:15:1: run\.net: the string "bridge" is not valid: expected none, user or tap:IFACE$/,
      /set run\.net to "none", "user" \(QEMU user networking\) or "tap:IFACE"/,
    ],
    [
      'a tap name too long',
      VALID.replace('"none"', '"tap:abcdefghijklmnop"'),
      /^ukernel\.toml:15:1: run\.net: the string "tap:abcdefghijklmnop" is not valid: the interface name must be 1–15/,
      /"tap:IFACE"/,
    ],
    [
      'a bad publish entry, at the entry',
      VALID.replace('net = "none"', 'net = "user"\npublish = ["8080:80", "8080:0"]'),
      /^ukernel\.toml:16:23: run\.publish\.1: the string "8080:0" is not valid: the guest port must be an integer in 1\.\.65535 \(got "0"\)$/,
      /set run\.publish to up to 64 strings "\[HOST_IP:\]HOST_PORT:GUEST_PORT\[\/tcp\|\/udp\]"/,
    ],
    [
      'a publish entry with a bad protocol, on its own line',
      VALID.replace('net = "none"', 'publish = [\n  "8080:80",\n  "9090:90/sctp",\n]'),
      /^ukernel\.toml:17:3: run\.publish\.1: the string "9090:90\/sctp" is not valid: the protocol must be tcp or udp \(got "sctp"\)$/,
      /HOST_PORT:GUEST_PORT/,
    ],
    [
      'a publish entry with a bad host address',
      VALID.replace('net = "none"', 'publish = ["localhost:8080:80"]'),
      /^ukernel\.toml:15:12: run\.publish\.0: .*the host address must be an IPv4 address/,
      /HOST_PORT/,
    ],
    [
      'a port out of range',
      VALID.replace('net = "none"', 'publish = ["70000:80"]'),
      /run\.publish\.0: .*the host port must be an integer in 1\.\.65535 \(got "70000"\)/,
      /HOST_PORT/,
    ],
    [
      'publish with net = "none"',
      VALID.replace('net = "none"', 'net = "none"\npublish = ["8080:80"]'),
      /^ukernel\.toml:16:1: run\.publish: an array is not valid: publishing ports needs net = "user" \(net is "none"\)/,
      /set run\.publish to/,
    ],
    [
      'publish with a tap',
      VALID.replace('net = "none"', 'net = "tap:tap0"\nip = "172.16.0.2/30"\npublish = ["8080:80"]'),
      /^ukernel\.toml:17:1: run\.publish: .*needs net = "user" \(net is "tap:tap0"\)/,
      /set run\.publish/,
    ],
    [
      'a host port published twice',
      VALID.replace('net = "none"', 'publish = ["127.0.0.1:8080:80", "0.0.0.0:8080:81"]'),
      /^ukernel\.toml:15:33: run\.publish\.1: .*binds the same host port as publish\[0\] \("127\.0\.0\.1:8080:80"\)/,
      /HOST_PORT/,
    ],
    [
      'an address without its prefix',
      VALID.replace('net = "none"', 'net = "tap:tap0"\nip = "172.16.0.2"'),
      /^ukernel\.toml:16:1: run\.ip: the string "172\.16\.0\.2" is not valid: expected A\.B\.C\.D\/PREFIX/,
      /set run\.ip to "A\.B\.C\.D\/PREFIX" with a prefix of 1\.\.32/,
    ],
    [
      'a network address as the guest address',
      VALID.replace('net = "none"', 'net = "tap:tap0"\nip = "172.16.0.0/30"'),
      /run\.ip: .*172\.16\.0\.0 is the network address of \/30/,
      /run\.ip/,
    ],
    [
      'a gateway outside the subnet',
      VALID.replace('net = "none"', 'net = "tap:tap0"\nip = "172.16.0.2/30"\ngateway = "172.16.1.1"'),
      /^ukernel\.toml:17:1: run\.gateway: .*the gateway 172\.16\.1\.1 is outside the guest's subnet 172\.16\.0\.2\/30$/,
      /inside the subnet of ip/,
    ],
    [
      'a gateway without a static address',
      VALID.replace('net = "none"', 'net = "user"\ngateway = "10.0.2.2"'),
      /run\.gateway: .*a gateway needs a static ip/,
      /run\.gateway/,
    ],
    [
      'a DNS server with a bad port',
      VALID.replace('net = "none"', 'net = "user"\ndns = "10.0.2.3:99999"'),
      /^ukernel\.toml:16:1: run\.dns: .*the DNS port must be an integer in 1\.\.65535/,
      /"A\.B\.C\.D" or "A\.B\.C\.D:PORT"/,
    ],
    [
      'a misspelt network key',
      VALID.replace('net = "none"', 'publsh = ["8080:80"]'),
      /^ukernel\.toml:15:1: run\.publsh: unknown key "publsh" in \[run\]; did you mean "publish"\?$/,
      /rename it to "publish"/,
    ],
    [
      'a missing key, reported at its table',
      VALID.replace('language = "native"\n', ''),
      /^ukernel\.toml:1:1: project\.language: missing$/,
      /add language = … under \[project\]/,
    ],
    ['a missing table', '[run]\nvcpu = 1\n', /^ukernel\.toml:1:1: project: missing$/, /add project/],
    [
      'a key in an inline table',
      'run = { vcpu = 2, memory_mb = 5 }\n[project]\nname = "demo"\nlanguage = "native"\n',
      /^ukernel\.toml:1:19: run\.memory_mb: the integer 5 is out of range$/,
      /16\.\.3072/,
    ],
    [
      'a dotted key',
      'run.vcpu = 99\n[project]\nname = "demo"\nlanguage = "native"\n',
      /^ukernel\.toml:1:1: run\.vcpu: the integer 99 is out of range$/,
      /1\.\.32/,
    ],
  ])('%s: names file:line:column, the key and the fix', (_what, text, message, hint) => {
    const err = failure(text);
    expect(err.code).toBe('UK112');
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(message);
    expect(err.hint).toMatch(hint);
  });

  it('reports every problem, in file order: the first as the message, the rest as details', () => {
    const err = failure(VALID.replace('memory_mb = 256', 'memory_mb = 1').replace('[project]', '[project]\nnmae = "x"'));
    expect(err.message).toMatch(/^ukernel\.toml:2:1: project\.nmae: unknown key "nmae" in \[project\]; did you mean "name"\?/);
    expect(err.details).toEqual([
      expect.stringMatching(/^ukernel\.toml:15:1: run\.memory_mb: the integer 1 is out of range \(set run\.memory_mb to/),
    ]);
  });
});

describe('locateKey', () => {
  it('finds table keys, quoted keys, headers, and falls back to the enclosing table', () => {
    const text = '# comment [run]\n[project]\n  "name" = "x"\n\n[run]\nvcpu=1\n';
    expect(locateKey(text, ['project', 'name'])).toEqual({ line: 3, column: 3 });
    expect(locateKey(text, ['run', 'vcpu'])).toEqual({ line: 6, column: 1 });
    expect(locateKey(text, ['run', 'net'])).toEqual({ line: 5, column: 1 });
    expect(locateKey(text, ['env', 'base'])).toEqual({ line: 1, column: 1 });
  });
});

describe('did you mean', () => {
  it('measures edit distance and suggests only close words', () => {
    expect(editDistance('vcpus', 'vcpu')).toBe(1);
    expect(editDistance('memroy_mb', 'memory_mb')).toBe(2);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(didYouMean('memroy_mb', ['vcpu', 'memory_mb', 'net'])).toBe('memory_mb');
    expect(didYouMean('Vcpu', ['vcpu'])).toBe('vcpu');
    expect(didYouMean('colour', ['vcpu', 'memory_mb', 'net'])).toBeNull();
  });
});

describe('projects on disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uk-project-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the project root is the nearest ancestor with ukernel.toml', () => {
    mkdirSync(join(dir, 'p/src/deep'), { recursive: true });
    writeFileSync(join(dir, 'p/ukernel.toml'), VALID);
    expect(findProjectRoot(join(dir, 'p/src/deep'))).toBe(join(dir, 'p'));
    expect(findProjectRoot(dir)).toBeNull();
    const project = loadProject(join(dir, 'p/src/deep'), ZIG);
    expect(project.root).toBe(join(dir, 'p'));
    expect(project.config.run.vcpu).toBe(2);
  });

  it('no ukernel.toml is UK110; errors name the file relative to the cwd', () => {
    expect(() => loadProject(dir, ZIG)).toThrow(expect.objectContaining({ code: 'UK110' }));
    writeFileSync(join(dir, 'p/ukernel.toml'), VALID.replace('vcpu = 2', 'vcpu = 0'));
    expect(() => loadProject(join(dir, 'p'), ZIG)).toThrow(
      expect.objectContaining({ message: expect.stringMatching(/^ukernel\.toml:13:1: run\.vcpu/) }),
    );
    // From a subdirectory the file is outside the cwd: named by its absolute path.
    expect(() => loadProject(join(dir, 'p/src'), ZIG)).toThrow(
      expect.objectContaining({ message: expect.stringContaining(`${join(dir, 'p/ukernel.toml')}:13:1: run.vcpu`) }),
    );
  });
});

describe('odd files where ukernel.toml belongs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uk-project-odd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a directory named ukernel.toml is UK150, not "no project" nor the parent\'s project', () => {
    writeFileSync(join(dir, 'ukernel.toml'), VALID);
    mkdirSync(join(dir, 'sub/ukernel.toml'), { recursive: true });
    expect(() => findProjectRoot(join(dir, 'sub'))).toThrow(
      expect.objectContaining({ code: 'UK150', message: 'cannot read ukernel.toml: it is a directory (EISDIR)' }),
    );
    expect(() => loadProject(join(dir, 'sub'), ZIG)).toThrow(expect.objectContaining({ code: 'UK150' }));
  });

  it('a FIFO is refused at once (no hang), and so is a file over the size limit', () => {
    const fifo = join(dir, 'fifo');
    mkdirSync(fifo);
    execFileSync('mkfifo', [join(fifo, 'ukernel.toml')]);
    expect(() => findProjectRoot(fifo)).toThrow(
      expect.objectContaining({ code: 'UK112', message: expect.stringContaining('not a regular file') }),
    );
    const big = join(dir, 'big');
    mkdirSync(big);
    writeFileSync(join(big, 'ukernel.toml'), Buffer.alloc(PROJECT_FILE_BYTES_MAX + 1, 0x20));
    expect(() => loadProject(big, ZIG)).toThrow(
      expect.objectContaining({ code: 'UK112', message: expect.stringContaining('is larger than') }),
    );
  });
});

describe('schema/ukernel.schema.json', () => {
  it('is what the zod schema generates (run `npm run schema` after changing it)', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
    const pins = parseToolchainEnv(readFileSync(join(root, 'scripts/toolchain.env'), 'utf8'));
    const committed = readFileSync(join(root, 'schema/ukernel.schema.json'), 'utf8');
    expect(committed, 'schema/ukernel.schema.json is stale: run `npm run schema`').toBe(renderJsonSchema(pins.ZIG_VERSION!));
    const schema = JSON.parse(committed);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.run.properties.vcpu).toMatchObject({ type: 'integer', minimum: 1, maximum: 32, default: 1 });
  });
});
