// `ukernel inspect IMAGE [--json]`: verify an image fully and show what is in it.
import { resolve } from 'node:path';
import { terminalText } from '../console/sanitize.js';
import { LOCK_VALUE_CHARS_MAX } from '../constants.js';
import { displayPath } from '../fsutil.js';
import { formatBytes } from '../format.js';
import { PROVIDED_ABI } from '../image/manifest.js';
import { readImageFile, type ImageInfo } from '../image/reader.js';
import { writeOut } from '../ui.js';

export interface RawInspectOptions {
  json?: boolean;
}

export interface InspectDeps {
  cwd: string;
  out: (line: string) => void;
}

export async function inspect(image: string, raw: RawInspectOptions, deps: Partial<InspectDeps> = {}): Promise<number> {
  const cwd = deps.cwd ?? process.cwd();
  const out = deps.out ?? writeOut;
  const path = resolve(cwd, image);
  const info = readImageFile(path, displayPath(cwd, path), PROVIDED_ABI);
  if (raw.json === true) out(JSON.stringify(inspectJson(info)));
  else for (const line of formatInspect(info)) out(line);
  return 0;
}

export function inspectJson(info: ImageInfo): Record<string, unknown> {
  return {
    image: info.image,
    size: info.imageBytes,
    format_version: info.formatVersion,
    abi: info.abi,
    adapter: info.adapter,
    entry: info.entry,
    name: info.name,
    readonly: info.readonly,
    header_sha256: info.headerSha256,
    rootfs_index_sha256: info.rootfsIndexSha256,
    sections: info.sections.map((s) => ({ name: s.name, offset: s.offset, size: s.size, sha256: s.sha256 })),
    files: info.files.map((f) => ({
      path: f.path,
      kind: f.kind,
      mode: `0${f.mode.toString(8)}`,
      size: f.size,
      sha256: f.sha256,
    })),
    adapter_runtime: adapterRuntime(info.manifest) ?? null,
    lock: info.manifest.lock ?? null,
    manifest: info.manifest,
  };
}

interface RuntimeSummary {
  name?: unknown;
  version?: unknown;
  key?: unknown;
  sources?: Array<{ name?: unknown; debian_version?: unknown; sha256?: unknown }>;
  system?: Array<{ name?: unknown; debian_version?: unknown; sha256?: unknown }>;
}

/** The manifest's `runtime` (a Python image's adapter runtime), or undefined. */
function adapterRuntime(manifest: Record<string, unknown>): RuntimeSummary | undefined {
  const runtime = manifest.runtime;
  return runtime !== null && typeof runtime === 'object' ? (runtime as RuntimeSummary) : undefined;
}

/** "python 3.13.5 (python-3.13.5-…): python3.13 3.13.5-2, musl 1.2.5-3, zlib …" lines. */
function runtimeLines(manifest: Record<string, unknown>): string[] {
  const runtime = adapterRuntime(manifest);
  if (runtime === undefined) return [];
  const lines = [
    `Adapter runtime: ${String(runtime.name ?? '?')} ${String(runtime.version ?? '?')} (${String(runtime.key ?? '?')})`,
  ];
  const listed = (what: string, entries: unknown): void => {
    for (const source of Array.isArray(entries) ? (entries as NonNullable<RuntimeSummary['sources']>) : []) {
      const version = source.debian_version !== undefined ? ` ${String(source.debian_version)}` : '';
      lines.push(`  ${what} ${String(source.name ?? '?')}${version}  sha256 ${String(source.sha256 ?? '?')}`);
    }
  };
  listed('source', runtime.sources);
  listed('system', runtime.system);
  return lines;
}

function modeString(kind: 'file' | 'directory', mode: number): string {
  const bits = 'rwxrwxrwx'
    .split('')
    .map((c, i) => ((mode >> (8 - i)) & 1 ? c : '-'))
    .join('');
  return `${kind === 'directory' ? 'd' : '-'}${bits}`;
}

/** Blueprint style: `Image: …`, `ABI: …`, then sections, files and the lock. */
export function formatInspect(info: ImageInfo): string[] {
  const manifest = info.manifest;
  const build = manifest.build as { optimize?: unknown; zig?: unknown } | null | undefined;
  const lines = [
    `Image: ${info.image}`,
    `Name: ${info.name}`,
    `ABI: ${info.abi}`,
    `Adapter: ${info.adapter}`,
    ...runtimeLines(manifest),
    `Entry: ${info.entry}`,
    `Size: ${formatBytes(info.imageBytes)} (${info.imageBytes} bytes)`,
    `Read-only: ${info.readonly ? 'yes' : 'no'}`,
    `Created: ${String(manifest.created ?? 'unknown')}`,
    `Built by: ukernel ${String(manifest.ukernel ?? '?')}` +
      (build !== null && typeof build === 'object' ? `, zig ${String(build.zig ?? '?')} ${String(build.optimize ?? '?')}` : ''),
    `Sections:`,
  ];
  const width = Math.max(...info.sections.map((s) => String(s.size).length));
  for (const s of info.sections) {
    lines.push(
      `  ${s.name.padEnd(8)}  offset ${String(s.offset).padStart(9)}  size ${String(s.size).padStart(width)}  sha256 ${s.sha256}`,
    );
  }
  lines.push(`Files (${info.files.length}):`);
  const sizeWidth = Math.max(...info.files.map((f) => String(f.size).length));
  for (const f of info.files) {
    const name = f.kind === 'directory' ? `${f.path}/` : f.path;
    const hash = f.sha256 !== null ? `  sha256 ${f.sha256}` : '';
    lines.push(`  ${modeString(f.kind, f.mode)}  ${String(f.size).padStart(sizeWidth)}  ${name}${hash}`);
  }
  lines.push(...lockLines(manifest.lock));
  return lines;
}

type Table = Record<string, unknown>;

function table(value: unknown): Table {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Table) : {};
}

function list(value: unknown): Table[] {
  return Array.isArray(value) ? value.map(table) : [];
}

/**
 * The lock the image was built from (the manifest's `lock`: env/ukernel.lock when packed,
 * docs/environments.md), one pinned input per line. Read defensively: an image made by another
 * ukernel may carry another shape; what is not there shows as "?".
 */
export function lockLines(lock: unknown): string[] {
  if (lock === null || lock === undefined) return ['Lock: none (no env/ukernel.lock when packed)'];
  // Untrusted (the image's bytes): sanitized like guest output and cut.
  const text = (value: unknown): string =>
    value === undefined || value === null ? '?' : terminalText(String(value), LOCK_VALUE_CHARS_MAX);
  const l = table(lock);
  const kernel = table(l.kernel);
  const toolchain = table(l.toolchain);
  const adapter = table(l.adapter);
  const lines = [
    `Lock: format ${text(l.format)} (env/ukernel.lock when packed)`,
    `  ukernel ${text(table(l.ukernel).version)}  abi ${text(table(l.abi).version)}`,
    `  kernel ${text(kernel.version)}  sha256 ${text(kernel.sha256)}`,
    `  toolchain zig ${text(toolchain.zig)}  ${text(toolchain.zig_wheel)}  sha256 ${text(toolchain.zig_wheel_sha256)}`,
    adapter.runtime !== undefined
      ? `  adapter ${text(adapter.name)} ${text(adapter.version)} (runtime ${text(adapter.runtime)})`
      : `  adapter ${text(adapter.name)}`,
  ];
  for (const s of list(adapter.sources)) lines.push(`    source ${text(s.name)} ${text(s.version)}  sha256 ${text(s.sha256)}`);
  const dependencies = list(l.dependencies);
  lines.push(`  dependencies: ${dependencies.length === 0 ? 'none' : ''}`.trimEnd());
  for (const d of dependencies)
    lines.push(`    ${text(d.name)} ${text(d.version)}  ${text(d.artifact)}  sha256 ${text(d.sha256)}`);
  const system = list(l.system);
  lines.push(`  system libraries: ${system.length === 0 ? 'none' : ''}`.trimEnd());
  for (const s of system) lines.push(`    ${text(s.name)} ${text(s.version)}  source sha256 ${text(s.source_sha256)}`);
  return lines;
}
