// The ukernel checkout the CLI runs from (its "root": kernel, SDK, ABI, toolchain pins) and the
// pinned Zig. Pins are read from scripts/toolchain.env, the one source of truth for versions.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withParentDeathSignal } from './child.js';
import { TOOLCHAIN_FILE, ZIG_VERSION_TIMEOUT_MS } from './constants.js';
import { UkernelError } from './errors.js';
import { printable } from './fsutil.js';

/** How far up from this module the checkout root may be (cli/dist/chunks → root is 3 up). */
const ROOT_SEARCH_DEPTH_MAX = 6;

let cachedRoot: string | undefined;

/** The ukernel checkout: the nearest ancestor of this module holding scripts/toolchain.env. */
export function ukernelRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < ROOT_SEARCH_DEPTH_MAX; depth++) {
    if (existsSync(join(dir, TOOLCHAIN_FILE))) {
      cachedRoot = dir;
      return dir;
    }
    dir = dirname(dir);
  }
  throw new UkernelError('ToolchainMissing', `cannot find ${TOOLCHAIN_FILE} above ${fileURLToPath(import.meta.url)}`, {
    hint: 'Run the CLI from its ukernel checkout (cli/bin/ukernel.mjs).',
  });
}

export interface ToolchainPins {
  zigVersion: string;
  /** Every KEY=VALUE of the file, for callers that need more pins. */
  all: Readonly<Record<string, string>>;
}

/** Parse scripts/toolchain.env (shell-style KEY=VALUE lines, # comments). */
export function parseToolchainEnv(text: string): Record<string, string> {
  const pins: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z][A-Z0-9_]*)=(.*?)\s*$/.exec(line);
    if (match === null) continue;
    pins[match[1]!] = match[2]!.replace(/^"(.*)"$/, '$1');
  }
  return pins;
}

export function readToolchainPins(root: string): ToolchainPins {
  const path = join(root, TOOLCHAIN_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UkernelError('ToolchainMissing', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const all = parseToolchainEnv(text);
  const zigVersion = all.ZIG_VERSION;
  if (zigVersion === undefined || !/^[0-9]+\.[0-9]+\.[0-9]+$/.test(zigVersion)) {
    throw new UkernelError('ToolchainMissing', `${path} has no valid ZIG_VERSION=X.Y.Z line`);
  }
  return { zigVersion, all };
}

export interface Zig {
  path: string;
  version: string;
}

/** The pinned Zig: env UKERNEL_ZIG, else <root>/.toolchain/zig-<ver>/ziglang/zig; version checked. */
export function findZig(root: string, pins: ToolchainPins, env: NodeJS.ProcessEnv = process.env): Zig {
  const fromEnv = env.UKERNEL_ZIG !== undefined && env.UKERNEL_ZIG !== '';
  const path = fromEnv ? resolve(env.UKERNEL_ZIG!) : join(root, '.toolchain', `zig-${pins.zigVersion}`, 'ziglang', 'zig');
  const where = fromEnv ? `UKERNEL_ZIG=${env.UKERNEL_ZIG}` : path;
  if (!existsSync(path)) {
    throw new UkernelError('ToolchainMissing', `zig ${pins.zigVersion} not found at ${where}`);
  }
  const command = withParentDeathSignal(path, ['version'], env);
  const result = spawnSync(command.file, command.args, { encoding: 'utf8', timeout: ZIG_VERSION_TIMEOUT_MS });
  if (result.error !== undefined || result.status !== 0) {
    const why =
      result.error !== undefined
        ? ((result.error as NodeJS.ErrnoException).code ?? String(result.error))
        : `exit ${result.status}`;
    throw new UkernelError('ToolchainMissing', `\`${where} version\` failed (${why})`);
  }
  const version = result.stdout.trim();
  if (version !== pins.zigVersion) {
    throw new UkernelError(
      'ToolchainMissing',
      `${where} is zig ${printable(version)}, but this ukernel is pinned to zig ${pins.zigVersion} (${TOOLCHAIN_FILE})`,
    );
  }
  return { path, version };
}
