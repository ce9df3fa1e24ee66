// Hints after a run whose workload failed (docs/python.md): the end of the guest's output
// (vmm/session.ts outputTail) is matched against a few fixed patterns of a Python traceback that have a
// known fix here — a module a system library of the catalog brings, or memory running out. The
// console is guest output, so untrusted: it is only matched, never echoed into a hint.
import { MEMORY_MIB_MAX } from './constants.js';
import type { SystemLibrary } from './project/system.js';

/**
 * The hints for a failed run's console tail: `env add --system NAME` when a traceback says a
 * module of the catalog is missing (`No module named '_ssl'`, or urllib3's "without an ssl
 * module"), a larger `--memory` after a `MemoryError`. At most one hint per library.
 */
export function failureHints(tail: string, catalog: readonly SystemLibrary[], memoryMib: number): string[] {
  const hints: string[] = [];
  for (const lib of catalog) {
    const missing = lib.modules.find(
      (module) =>
        tail.includes(`No module named '${module}'`) ||
        (module === '_ssl' && tail.includes('SSLContext object without an ssl module')),
    );
    if (missing === undefined) continue;
    hints.push(
      `the workload needs ${missing}, which this image does not have: run \`ukernel env add --system ${lib.name}\` (${lib.about}; docs/environments.md, "System libraries")`,
    );
  }
  if (/^MemoryError\b/m.test(tail) && memoryMib < MEMORY_MIB_MAX) {
    const more = Math.min(memoryMib * 2, MEMORY_MIB_MAX);
    hints.push(
      `the workload ran out of memory at --memory ${memoryMib} MiB: try \`ukernel run --memory ${more}\` (or [run] memory_mb in ukernel.toml)`,
    );
  }
  return hints;
}
