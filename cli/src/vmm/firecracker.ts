// Firecracker backend: `--config-file` JSON (pure) and the argv to boot it without the API.
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UkernelError } from '../errors.js';

export interface FirecrackerOptions {
  kernel: string;
  memoryMib: number;
  vcpus: number;
  cmdline: string;
}

/** Schema: Firecracker `VmmConfig` (kebab-case top level; `drives` has no default). */
export interface FirecrackerConfig {
  'boot-source': { kernel_image_path: string; boot_args: string };
  drives: never[];
  'machine-config': { vcpu_count: number; mem_size_mib: number };
}

export function firecrackerConfig(opts: FirecrackerOptions): FirecrackerConfig {
  return {
    // boot_args is always set: when omitted Firecracker substitutes Linux defaults.
    'boot-source': { kernel_image_path: opts.kernel, boot_args: opts.cmdline },
    drives: [],
    'machine-config': { vcpu_count: opts.vcpus, mem_size_mib: opts.memoryMib },
  };
}

export function firecrackerArgs(configPath: string): string[] {
  return ['--no-api', '--config-file', configPath];
}

/** Write via a temp file in the same directory + rename, so readers never see half a file. */
export function writeFileAtomic(path: string, contents: string, display: string = path): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temp, contents, { mode: 0o644 });
    renameSync(temp, path);
  } catch (err) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // best effort: the temp path may not even be creatable
    }
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UkernelError('OutputUnwritable', `cannot write ${display}: ${code}`, { cause: err });
  }
}
