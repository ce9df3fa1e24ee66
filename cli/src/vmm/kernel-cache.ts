// The kernel section of an image, extracted once to a content-addressed cache
// (${XDG_CACHE_HOME:-~/.cache}/ukernel/kernels/<sha256>.elf) and handed to the VMM as its kernel.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UkernelError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
import { readAt } from '../io.js';
import type { SectionInfo } from '../image/reader.js';

export function kernelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'ukernel', 'kernels');
}

function sha256Of(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Path of the cached kernel for `section` of the image at `imagePath`; extracts it if needed. */
export function cachedKernel(
  imagePath: string,
  section: SectionInfo,
  env: NodeJS.ProcessEnv = process.env,
): { path: string; extracted: boolean } {
  const path = join(kernelCacheDir(env), `${section.sha256}.elf`);
  try {
    if (sha256Of(readFileSync(path)) === section.sha256) return { path, extracted: false };
  } catch {
    // Not cached yet (or unreadable): extract below.
  }
  const fd = openSync(imagePath, 'r');
  let bytes: Buffer;
  try {
    bytes = readAt(fd, section.offset, section.size);
  } finally {
    closeSync(fd);
  }
  // The image was verified just before, but it may change under us: check what we write.
  const actual = sha256Of(bytes);
  if (actual !== section.sha256) {
    throw new UkernelError(
      'ImageCorrupt',
      `image ${imagePath}: kernel section changed while it was read (sha256 ${actual}, expected ${section.sha256})`,
    );
  }
  writeFileAtomic(path, bytes, { mode: 0o644, display: path });
  return { path, extracted: true };
}
