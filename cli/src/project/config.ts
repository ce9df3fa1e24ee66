// ukernel.toml: parsed with smol-toml, validated with a zod schema (which also generates
// schema/ukernel.schema.json for editors). Every error names file:line:column, the key and the
// fix; unknown keys get a "did you mean".
import { join } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { z } from 'zod';
import {
  ENTRY_DEFAULT,
  ENV_PACKAGES_MAX,
  ENV_SYSTEM_MAX,
  MEMORY_MIB_DEFAULT,
  MEMORY_MIB_MAX,
  MEMORY_MIB_MIN,
  PROJECT_FILE,
  PROJECT_FILE_BYTES_MAX,
  PROJECT_NAME_BYTES_MAX,
  PUBLISH_MAX,
  PYTHON_BASE,
  PYTHON_ENTRY_DEFAULT,
  PYTHON_STDLIB_TESTS_MAX,
  VCPU_DEFAULT,
  VCPU_MAX,
  VCPU_MIN,
} from '../constants.js';
import { UkernelError } from '../errors.js';
import { displayPath, printable, readProjectFile } from '../fsutil.js';
import {
  gatewayProblem,
  NetSyntaxError,
  parseDnsServer,
  parseIpSetting,
  parseIpv4,
  parseNetMode,
  parsePortMapping,
  samePublishedSocket,
} from '../vmm/network.js';
import { didYouMean } from './suggest.js';
import { findProjectRoot } from './locate.js';
import { excerptAt, locateKey } from './toml-position.js';

export { findProjectRoot };

/** Languages and their templates. */
export const TEMPLATES = { native: ['worker', 'http'], python: ['worker'] } as const satisfies Record<string, readonly string[]>;
export type Language = keyof typeof TEMPLATES;
export const LANGUAGES = ['native', 'python'] as const satisfies readonly Language[];
export const ADAPTERS = ['native', 'python'] as const;

/**
 * What each language needs: its build adapter, its [env] base and the extension of its entry.
 * The schema's defaults are native's; a Python project's missing keys get these (parseProjectConfig).
 */
export function languageRules(
  zigVersion: string,
): Record<Language, { adapter: string; base: string; entryExt: string; entry: string }> {
  return {
    native: { adapter: 'native', base: `zig-${zigVersion}`, entryExt: '.zig', entry: ENTRY_DEFAULT },
    python: { adapter: 'python', base: PYTHON_BASE, entryExt: '.py', entry: PYTHON_ENTRY_DEFAULT },
  };
}

/** 1–63 of a–z, 0–9 and "-", not starting or ending with "-" (a DNS label; fits the image header). */
export const PROJECT_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** A name of `[build] python_stdlib_tests`: `test` or a dotted path under it (no "..", no "/"). */
export const STDLIB_TEST_NAME_RE = /^test(?:\.[A-Za-z_][A-Za-z0-9_]{0,99}){0,8}$/;

/** Per key: what it is and what a valid value looks like (JSON Schema descriptions, error fixes). */
export interface FieldHelp {
  what: string;
  valid: string;
}

export function fieldHelp(zigVersion: string): Record<string, FieldHelp> {
  const quoted = (values: readonly string[]): string => values.map((v) => `"${v}"`).join(' or ');
  return {
    project: { what: 'the project', valid: 'a [project] table with name, language and entry' },
    'project.name': {
      what: 'the project name',
      valid: `1–${PROJECT_NAME_BYTES_MAX} characters of a–z, 0–9 and "-", not starting or ending with "-"`,
    },
    'project.language': { what: 'the workload language', valid: quoted(LANGUAGES) },
    'project.entry': {
      what: 'the workload source file, relative to the project',
      valid: `a relative path without ".." to a .zig file (language "native", default "${ENTRY_DEFAULT}") or a .py file (language "python", default "${PYTHON_ENTRY_DEFAULT}")`,
    },
    env: { what: 'the environment', valid: 'an [env] table with base, packages and system' },
    'env.base': {
      what: 'the pinned toolchain environment',
      valid: `"zig-${zigVersion}" (language "native") or "${PYTHON_BASE}" (language "python")`,
    },
    'env.packages': {
      what: 'the Python packages the project asks for (docs/environments.md; resolved into env/ukernel.lock)',
      valid: `up to ${ENV_PACKAGES_MAX} distinct strings "NAME" or "NAME==VERSION" (e.g. ["requests==2.32"]); language "python" only`,
    },
    'env.system': {
      what: 'the system libraries built into the Python adapter (docs/environments.md, "System libraries"; pinned in env/ukernel.lock)',
      valid: `up to ${ENV_SYSTEM_MAX} distinct catalog names, e.g. ["openssl", "sqlite"] (\`ukernel env add --system NAME\` lists the catalog); language "python" only`,
    },
    build: { what: 'how the workload is built', valid: 'a [build] table with adapter' },
    'build.adapter': { what: 'the build adapter', valid: `${quoted(ADAPTERS)}, the same as project.language` },
    'build.python_stdlib_tests': {
      what: "CPython's own test packages to put in a Python image (docs/python.md)",
      valid: `up to ${PYTHON_STDLIB_TESTS_MAX} dotted names under "test" of the standard library (packages, modules or data directories, e.g. ["test.support", "test.test_math", "test.mathdata"]); language "python" only`,
    },
    run: {
      what: 'defaults for `ukernel run`',
      valid: 'a [run] table with vcpu, memory_mb, net, publish, ip, gateway and dns',
    },
    'run.vcpu': { what: 'number of vCPUs', valid: `an integer in ${VCPU_MIN}..${VCPU_MAX} (default ${VCPU_DEFAULT})` },
    'run.memory_mb': {
      what: 'guest memory in MiB',
      valid: `an integer in ${MEMORY_MIB_MIN}..${MEMORY_MIB_MAX} (default ${MEMORY_MIB_DEFAULT})`,
    },
    'run.net': {
      what: 'networking',
      valid: '"none", "user" (QEMU user networking) or "tap:IFACE" (default "none", or "user" when publish is set)',
    },
    'run.publish': {
      what: 'host ports forwarded to the guest under net = "user"',
      valid: `up to ${PUBLISH_MAX} strings "[HOST_IP:]HOST_PORT:GUEST_PORT[/tcp|/udp]", ports 1..65535, host address 127.0.0.1 unless given (e.g. ["8080:80"])`,
    },
    'run.ip': {
      what: "the guest's static IPv4 address",
      valid: '"A.B.C.D/PREFIX" with a prefix of 1..32 (e.g. "172.16.0.2/30"), or "dhcp"; required with a tap',
    },
    'run.gateway': { what: "the guest's default gateway", valid: '"A.B.C.D" inside the subnet of ip (e.g. "172.16.0.1")' },
    'run.dns': { what: "the guest's DNS server", valid: '"A.B.C.D" or "A.B.C.D:PORT" (port 53 when absent)' },
  };
}

/** A system library's name as `[env] system` holds it (a catalog name: lower case). */
const SYSTEM_NAME_RE = /^[a-z0-9][a-z0-9.+-]{0,63}$/;

/** A requirement as `[env] packages` takes it: a PEP 508 name, optionally `==VERSION` (PEP 440). */
export const PACKAGE_REQUIREMENT_RE = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?(?:==[0-9A-Za-z][0-9A-Za-z.+!_-]{0,62})?$/;

/** The normalized name of a requirement (PEP 503: lower case, runs of -_. as one -). */
export function packageName(requirement: string): string {
  return requirement
    .split('==')[0]!
    .toLowerCase()
    .replace(/[-_.]+/g, '-');
}

function isSafeEntry(entry: string): boolean {
  if (entry.startsWith('/') || entry.includes('\\') || !(entry.endsWith('.zig') || entry.endsWith('.py'))) return false;
  return entry.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

function describe(help: FieldHelp | undefined): string {
  return help === undefined ? '' : `${help.what}: ${help.valid}`;
}

export function configSchema(zigVersion: string) {
  const help = fieldHelp(zigVersion);
  const project = z
    .strictObject({
      name: z
        .string()
        .regex(PROJECT_NAME_RE)
        .meta({ description: describe(help['project.name']) }),
      language: z.enum(LANGUAGES).meta({ description: describe(help['project.language']) }),
      entry: z
        .string()
        .refine(isSafeEntry)
        .default(ENTRY_DEFAULT)
        .meta({ description: describe(help['project.entry']) }),
    })
    .meta({ description: describe(help.project) });
  const env = z
    .strictObject({
      base: z
        .enum([`zig-${zigVersion}`, PYTHON_BASE])
        .default(`zig-${zigVersion}`)
        .meta({ description: describe(help['env.base']) }),
      packages: z
        .array(z.string().regex(PACKAGE_REQUIREMENT_RE).meta({ pattern: PACKAGE_REQUIREMENT_RE.source }))
        .max(ENV_PACKAGES_MAX)
        .refine((list) => new Set(list.map(packageName)).size === list.length, { message: 'a package is listed twice' })
        .optional()
        .meta({ description: describe(help['env.packages']) }),
      system: z
        .array(z.string().regex(SYSTEM_NAME_RE).meta({ pattern: SYSTEM_NAME_RE.source }))
        .max(ENV_SYSTEM_MAX)
        .refine((list) => new Set(list).size === list.length, { message: 'a library is listed twice' })
        .optional()
        .meta({ description: describe(help['env.system']) }),
    })
    .default({ base: `zig-${zigVersion}` })
    .meta({ description: describe(help.env) });
  const build = z
    .strictObject({
      adapter: z
        .enum(ADAPTERS)
        .default('native')
        .meta({ description: describe(help['build.adapter']) }),
      python_stdlib_tests: z
        .array(z.string().regex(STDLIB_TEST_NAME_RE))
        .max(PYTHON_STDLIB_TESTS_MAX)
        .optional()
        .meta({ description: describe(help['build.python_stdlib_tests']) }),
    })
    .default({ adapter: 'native' })
    .meta({ description: describe(help.build) });
  const run = z
    .strictObject({
      vcpu: z
        .int()
        .min(VCPU_MIN)
        .max(VCPU_MAX)
        .default(VCPU_DEFAULT)
        .meta({ description: describe(help['run.vcpu']) }),
      memory_mb: z
        .int()
        .min(MEMORY_MIB_MIN)
        .max(MEMORY_MIB_MAX)
        .default(MEMORY_MIB_DEFAULT)
        .meta({ description: describe(help['run.memory_mb']) }),
      net: netString(parseNetMode)
        .optional()
        .meta({ description: describe(help['run.net']), pattern: NET_PATTERN }),
      publish: z
        .array(netString(parsePortMapping).meta({ pattern: PUBLISH_PATTERN }))
        .max(PUBLISH_MAX)
        .optional()
        .meta({ description: describe(help['run.publish']) }),
      ip: netString(parseIpSetting)
        .optional()
        .meta({ description: describe(help['run.ip']) }),
      gateway: netString((v) => parseIpv4(v, 'gateway'))
        .optional()
        .meta({ description: describe(help['run.gateway']) }),
      dns: netString(parseDnsServer)
        .optional()
        .meta({ description: describe(help['run.dns']) }),
    })
    .superRefine(checkRunNetwork)
    .default({ vcpu: VCPU_DEFAULT, memory_mb: MEMORY_MIB_DEFAULT })
    .meta({ description: describe(help.run) });
  return z
    .strictObject({ project, env, build, run })
    .superRefine((config, ctx) => checkLanguage(config, ctx, zigVersion))
    .meta({ title: 'ukernel.toml', description: 'ukernel project configuration (https://toml.io)' });
}

/** For editors (JSON Schema); the parsers in vmm/network.ts are what decides. */
const NET_PATTERN = '^(?:none|user|tap:[A-Za-z0-9_.-]{1,15})$';
const PUBLISH_PATTERN = '^(?:[0-9.]+:)?[0-9]{1,5}:[0-9]{1,5}(?:/(?:tcp|udp))?$';

/** A string checked by one of the network parsers (vmm/network.ts); its reason is the issue. */
function netString(parse: (value: string) => unknown) {
  return z.string().superRefine((value, ctx) => {
    try {
      parse(value);
    } catch (err) {
      if (!(err instanceof NetSyntaxError)) throw err;
      ctx.addIssue({ code: 'custom', message: err.reason });
    }
  });
}

interface RunNetworkKeys {
  net?: string | undefined;
  publish?: string[] | undefined;
  ip?: string | undefined;
  gateway?: string | undefined;
}

/** What the keys of [run] cannot say together (each alone is checked by its own schema). */
function checkRunNetwork(run: RunNetworkKeys, ctx: z.core.$RefinementCtx<RunNetworkKeys>): void {
  const attempt = <T>(parse: () => T): T | null => {
    try {
      return parse();
    } catch {
      return null; // reported by the key's own schema
    }
  };
  const net = run.net === undefined ? null : attempt(() => parseNetMode(run.net!));
  const publish = (run.publish ?? []).map((p) => attempt(() => parsePortMapping(p)));
  if (net !== null && net.kind !== 'user' && publish.length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['publish'],
      message: `publishing ports needs net = "user" (net is "${run.net}"); set net = "user", or remove publish`,
    });
  }
  publish.forEach((m, index) => {
    const earlier = publish.slice(0, index).findIndex((o) => m !== null && o !== null && samePublishedSocket(o, m));
    if (earlier !== -1) {
      ctx.addIssue({
        code: 'custom',
        path: ['publish', index],
        message: `binds the same host port as publish[${earlier}] ("${run.publish![earlier]}"); give each host port once`,
      });
    }
  });
  const ip = run.ip === undefined ? null : attempt(() => parseIpSetting(run.ip!));
  if (run.gateway !== undefined && attempt(() => parseIpv4(run.gateway!)) !== null) {
    const problem =
      ip === null || ip === 'dhcp' ? 'a gateway needs a static ip = "A.B.C.D/PREFIX"' : gatewayProblem(ip, run.gateway);
    if (problem !== null) ctx.addIssue({ code: 'custom', path: ['gateway'], message: problem });
  }
}

interface LanguageKeys {
  project: { language: Language; entry: string };
  env: { base: string; packages?: string[] | undefined; system?: string[] | undefined };
  build: { adapter: string; python_stdlib_tests?: string[] | undefined };
}

/**
 * What the language says about the other keys: adapter, base and the entry's extension must be
 * the language's (a Python entry under the Zig adapter cannot build). Each issue carries its fix
 * (params.fix), which names the value to set.
 */
function checkLanguage(config: LanguageKeys, ctx: z.core.$RefinementCtx<LanguageKeys>, zigVersion: string): void {
  const language = config.project.language;
  const rules = languageRules(zigVersion)[language];
  const mismatch = (path: string[], what: string, fix: string): void =>
    ctx.addIssue({ code: 'custom', path, message: `${what} does not fit project.language = "${language}"`, params: { fix } });
  if (config.build.adapter !== rules.adapter) {
    mismatch(['build', 'adapter'], `adapter "${config.build.adapter}"`, `set adapter = "${rules.adapter}" under [build]`);
  }
  if (config.build.python_stdlib_tests !== undefined && language !== 'python') {
    mismatch(['build', 'python_stdlib_tests'], 'python_stdlib_tests', 'remove python_stdlib_tests from [build]');
  }
  if (config.env.base !== rules.base) {
    mismatch(['env', 'base'], `base "${config.env.base}"`, `set base = "${rules.base}" under [env]`);
  }
  if (language !== 'python' && (config.env.packages ?? []).length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['env', 'packages'],
      message: `a ${language} project has no language packages: its lock pins the toolchain, the kernel and the ABI`,
      params: { fix: 'remove packages from [env] (a native workload links what it needs from its Zig sources)' },
    });
  }
  if (language !== 'python' && (config.env.system ?? []).length > 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['env', 'system'],
      message: `a ${language} project has no system libraries to build in: they go into the Python adapter`,
      params: { fix: 'remove system from [env]' },
    });
  }
  if (!config.project.entry.endsWith(rules.entryExt)) {
    mismatch(
      ['project', 'entry'],
      `entry "${printable(config.project.entry)}" (a ${rules.entryExt === '.py' ? 'Python' : 'Zig'} project's entry is a ${rules.entryExt} file)`,
      `set entry = "${rules.entry}" under [project], or a path to your ${rules.entryExt} entry`,
    );
  }
}

/**
 * The keys a Python project may leave out, filled with Python's values before validation (the
 * schema's defaults are native's): entry, [env] base and [build] adapter.
 */
function withLanguageDefaults(data: unknown, zigVersion: string): unknown {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return data;
  const top = data as Record<string, unknown>;
  const project = top.project as Record<string, unknown> | undefined;
  if (project === null || typeof project !== 'object' || project.language !== 'python') return data;
  const rules = languageRules(zigVersion).python;
  const table = (key: string): Record<string, unknown> | null => {
    const value = top[key];
    if (value === undefined) return {};
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  };
  const env = table('env');
  const build = table('build');
  return {
    ...top,
    project: { entry: rules.entry, ...project },
    ...(env === null ? {} : { env: { base: rules.base, ...env } }),
    ...(build === null ? {} : { build: { adapter: rules.adapter, ...build } }),
  };
}

export type ProjectConfig = z.output<ReturnType<typeof configSchema>>;

/** schema/ukernel.schema.json, exactly as committed (scripts/generate-schema.mjs writes it). */
export function renderJsonSchema(zigVersion: string): string {
  const schema = z.toJSONSchema(configSchema(zigVersion), { io: 'input', target: 'draft-2020-12' });
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** Keys allowed at `path` ([] = top level), read from the schema itself. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  for (const part of [...path, null]) {
    while (node instanceof z.ZodDefault || node instanceof z.ZodOptional) node = node.unwrap() as z.ZodType;
    if (!(node instanceof z.ZodObject)) return [];
    if (part === null) return Object.keys(node.shape);
    node = node.shape[String(part)] as z.ZodType | undefined;
  }
  return [];
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let node = data;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `the string "${printable(value)}"`;
  if (typeof value === 'number') return Number.isInteger(value) ? `the integer ${value}` : `the float ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (value !== null && typeof value === 'object') return 'a table';
  return String(value);
}

interface ConfigProblem {
  path: string[];
  problem: string;
  fix: string;
}

function problemFor(issue: z.core.$ZodIssue, data: unknown, schema: z.ZodType, help: Record<string, FieldHelp>): ConfigProblem[] {
  const path = issue.path.map(String);
  const key = path.join('.');
  const value = valueAt(data, issue.path);
  const helpKey = path.filter((part) => !/^[0-9]+$/.test(part)).join('.');
  const valid = help[helpKey]?.valid ?? issue.message;
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((unknown) => {
      const known = knownKeys(schema, issue.path);
      const suggestion = didYouMean(unknown, known);
      const where = path.length === 0 ? 'at the top level' : `in [${key}]`;
      return {
        path: [...path, unknown],
        problem: `unknown key "${printable(unknown)}" ${where}${suggestion !== null ? `; did you mean "${suggestion}"?` : ''}`,
        fix: suggestion !== null ? `rename it to "${suggestion}"` : `remove it; keys allowed ${where}: ${known.join(', ')}`,
      };
    });
  }
  if (value === undefined) {
    const under = path.length > 1 ? ` under [${path.slice(0, -1).join('.')}]` : '';
    return [{ path, problem: 'missing', fix: `add ${path.at(-1)} = …${under} (${help[key]?.what ?? key}: ${valid})` }];
  }
  if (issue.code === 'invalid_type') {
    return [{ path, problem: `wrong type: ${describeValue(value)}`, fix: `set ${key} to ${valid}` }];
  }
  if (issue.code === 'too_small' || issue.code === 'too_big') {
    return [{ path, problem: `${describeValue(value)} is out of range`, fix: `set ${key} to ${valid}` }];
  }
  if (issue.code === 'custom') {
    const fix = (issue.params as { fix?: unknown } | undefined)?.fix;
    if (typeof fix === 'string') return [{ path, problem: issue.message, fix }];
    return [{ path, problem: `${describeValue(value)} is not valid: ${issue.message}`, fix: `set ${helpKey} to ${valid}` }];
  }
  return [{ path, problem: `${describeValue(value)} is not valid`, fix: `set ${key} to ${valid}` }];
}

/** Parse and validate ukernel.toml text; `file` is how errors name it (e.g. "ukernel.toml"). */
export function parseProjectConfig(text: string, file: string, zigVersion: string): ProjectConfig {
  let data: unknown;
  try {
    data = parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // The excerpt is built here, not taken from smol-toml: a 1 MB line must not become a 1 MB
    // error, and the file's bytes are sanitized like guest output (errors.ts shown()).
    const what = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw new UkernelError('ConfigSyntax', `${file}:${err.line}:${err.column}: ${what}`, {
      details: excerptAt(text, err.line, err.column),
    });
  }
  data = withLanguageDefaults(data, zigVersion);
  const schema = configSchema(zigVersion);
  const result = schema.safeParse(data);
  if (result.success) return result.data;

  const help = fieldHelp(zigVersion);
  const problems = result.error.issues.flatMap((issue) => problemFor(issue, data, schema, help));
  const lines = problems
    .map((p) => ({ ...p, at: locateKey(text, p.path) }))
    .sort((a, b) => a.at.line - b.at.line || a.at.column - b.at.column)
    .map((p) => ({ text: `${file}:${p.at.line}:${p.at.column}: ${p.path.join('.')}: ${p.problem}`, fix: p.fix }));
  const [first, ...rest] = lines;
  throw new UkernelError('ConfigInvalid', first!.text, {
    hint: `${first!.fix}.`,
    details: rest.map((l) => `${l.text} (${l.fix})`),
  });
}

export interface Project {
  /** The directory holding ukernel.toml. */
  root: string;
  configPath: string;
  config: ProjectConfig;
}

export function loadProject(cwd: string, zigVersion: string): Project {
  const root = findProjectRoot(cwd);
  if (root === null) {
    throw new UkernelError('ProjectNotFound', `no ${PROJECT_FILE} in ${cwd} or any parent directory`);
  }
  const configPath = join(root, PROJECT_FILE);
  const file = displayPath(cwd, configPath);
  const bytes = readProjectFile(configPath, {
    display: file,
    maxBytes: PROJECT_FILE_BYTES_MAX,
    invalid: 'ConfigInvalid',
    tooLargeHint: 'ukernel.toml holds a few settings; is this the right file?',
  });
  if (bytes === null) throw new UkernelError('ProjectNotFound', `${file} disappeared while ukernel was reading it`);
  return { root, configPath, config: parseProjectConfig(bytes.toString('utf8'), file, zigVersion) };
}
