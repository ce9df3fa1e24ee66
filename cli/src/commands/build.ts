// `ukernel build [--release]`: compile the workload with the pinned Zig and write the
// deterministic bundle build/bundle.tgz.
import { writeOut } from '../ui.js';
import { buildWorkload, workflowContext } from '../project/workflow.js';

export interface RawBuildOptions {
  release?: boolean;
}

export interface BuildDeps {
  cwd: string;
  env: NodeJS.ProcessEnv;
  say: (line: string) => void;
}

export async function build(raw: RawBuildOptions, deps: Partial<BuildDeps> = {}): Promise<number> {
  const ctx = workflowContext(deps.cwd ?? process.cwd(), deps.env ?? process.env, deps.say ?? writeOut);
  await buildWorkload(ctx, raw.release === true ? 'ReleaseFast' : 'ReleaseSafe');
  return 0;
}
