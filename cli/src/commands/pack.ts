// `ukernel pack [--image PATH] [--readonly]`: the bootable image from build/bundle.tgz, the
// kernel and a manifest (docs/image-format.md).
import { resolve } from 'node:path';
import { interruptible } from '../child.js';
import { errColors, writeErr, writeOut } from '../ui.js';
import { buildIsStale, defaultImagePath, packImage, workflowContext } from '../project/workflow.js';

export interface RawPackOptions {
  image?: string;
  readonly?: boolean;
}

export interface PackDeps {
  cwd: string;
  env: NodeJS.ProcessEnv;
  say: (line: string) => void;
  warn: (line: string) => void;
}

export async function pack(raw: RawPackOptions, deps: Partial<PackDeps> = {}): Promise<number> {
  const cwd = deps.cwd ?? process.cwd();
  const warn = deps.warn ?? ((line: string) => writeErr(errColors().yellow(line)));
  const ctx = workflowContext(cwd, deps.env ?? process.env, deps.say ?? writeOut);
  if (buildIsStale(ctx)) warn('notice: sources changed since the last `ukernel build`; packing the last build');
  const imagePath = raw.image !== undefined ? resolve(cwd, raw.image) : defaultImagePath(ctx);
  // SIGINT/SIGTERM wait for the image to be renamed in place (or its temp file removed).
  await interruptible('pack stopped', () => packImage(ctx, { imagePath, readonly: raw.readonly === true }));
  return 0;
}
