// `ukernel build [--release] [--locked]`: check env/ukernel.lock, compile the workload with the
// pinned Zig and write the deterministic bundle build/bundle.tgz.
import { writeOut } from '../ui.js';
import { buildWorkload, workflowContext } from '../project/workflow.js';

export interface RawBuildOptions {
  release?: boolean;
  /** Refuse to build when env/ukernel.lock is missing or stale (docs/environments.md). */
  locked?: boolean;
}

export interface BuildDeps {
  cwd: string;
  env: NodeJS.ProcessEnv;
  say: (line: string) => void;
  warn: (line: string) => void;
}

export async function build(raw: RawBuildOptions, deps: Partial<BuildDeps> = {}): Promise<number> {
  const ctx = workflowContext(deps.cwd ?? process.cwd(), deps.env ?? process.env, deps.say ?? writeOut);
  await buildWorkload(ctx, raw.release === true ? 'ReleaseFast' : 'ReleaseSafe', {
    locked: raw.locked === true,
    ...(deps.warn !== undefined ? { warn: deps.warn } : {}),
  });
  return 0;
}
