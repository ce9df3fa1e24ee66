import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedKernel, kernelCacheDir } from './kernel-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'uk-kcache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kernel cache', () => {
  const kernel = Buffer.from('kernel bytes '.repeat(100));
  const sha256 = createHash('sha256').update(kernel).digest('hex');
  const image = join(dir, 'x.img');
  writeFileSync(image, Buffer.concat([Buffer.alloc(4096), kernel, Buffer.alloc(100)]));
  const section = { name: 'kernel' as const, kind: 1, offset: 4096, size: kernel.length, sha256 };
  const env = { XDG_CACHE_HOME: join(dir, 'cache') };

  it('lives under $XDG_CACHE_HOME/ukernel/kernels (else ~/.cache)', () => {
    expect(kernelCacheDir(env)).toBe(join(dir, 'cache/ukernel/kernels'));
    expect(kernelCacheDir({ XDG_CACHE_HOME: 'relative' })).toMatch(/\/\.cache\/ukernel\/kernels$/);
  });

  it('extracts once, by content hash, and re-extracts a damaged copy', () => {
    const first = cachedKernel(image, section, env);
    expect(first).toEqual({ path: join(dir, `cache/ukernel/kernels/${sha256}.elf`), extracted: true });
    expect(readFileSync(first.path).equals(kernel)).toBe(true);
    const mtime = statSync(first.path).mtimeMs;
    expect(cachedKernel(image, section, env)).toEqual({ path: first.path, extracted: false });
    expect(statSync(first.path).mtimeMs).toBe(mtime);
    writeFileSync(first.path, 'damaged');
    expect(cachedKernel(image, section, env).extracted).toBe(true);
    expect(readFileSync(first.path).equals(kernel)).toBe(true);
  });

  it('refuses a kernel section that does not match its hash', () => {
    expect(() => cachedKernel(image, { ...section, sha256: '0'.repeat(64) }, env)).toThrow(
      expect.objectContaining({ code: 'UK125' }),
    );
  });
});
