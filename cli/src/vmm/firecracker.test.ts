import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { firecrackerArgs, firecrackerConfig, writeFileAtomic } from './firecracker.js';

describe('firecrackerConfig', () => {
  it('follows the --config-file schema, with drives present and boot_args always set', () => {
    expect(firecrackerConfig({ kernel: '/abs/k.elf', memoryMib: 256, vcpus: 2, cmdline: '' })).toEqual({
      'boot-source': { kernel_image_path: '/abs/k.elf', boot_args: '' },
      drives: [],
      'machine-config': { vcpu_count: 2, mem_size_mib: 256 },
    });
  });

  it('attaches the image as a non-root, read-only drive', () => {
    const config = firecrackerConfig({ kernel: '/k', memoryMib: 128, vcpus: 1, cmdline: 'x', image: { path: '/p/demo.img' } });
    expect(config.drives).toEqual([
      { drive_id: 'image', path_on_host: '/p/demo.img', is_root_device: false, is_read_only: true },
    ]);
  });

  it('attaches the events device as a second, writable drive', () => {
    const image = { path: '/p/demo.img' };
    expect(
      firecrackerConfig({ kernel: '/k', memoryMib: 128, vcpus: 1, cmdline: '', image, events: '/p/r.events' }).drives,
    ).toEqual([
      { drive_id: 'image', path_on_host: '/p/demo.img', is_root_device: false, is_read_only: true },
      { drive_id: 'events', path_on_host: '/p/r.events', is_root_device: false, is_read_only: false },
    ]);
    expect(firecrackerConfig({ kernel: '/k', memoryMib: 128, vcpus: 1, cmdline: '', events: '/e' }).drives).toEqual([
      { drive_id: 'events', path_on_host: '/e', is_root_device: false, is_read_only: false },
    ]);
  });

  it('boots without the API socket, its own log in a file from the first line on', () => {
    expect(firecrackerArgs('/c.json', '/r.vmm.log')).toEqual([
      '--no-api',
      '--config-file',
      '/c.json',
      '--log-path',
      '/r.vmm.log',
      '--level',
      'Info',
      '--show-level',
    ]);
  });
});

describe('writeFileAtomic', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('creates parent directories, replaces the file, leaves no temp file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-fc-'));
    dirs.push(dir);
    const path = join(dir, 'build/firecracker/vm-config.json');
    writeFileAtomic(path, 'one');
    writeFileAtomic(path, 'two');
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(join(dir, 'build/firecracker'))).toEqual(['vm-config.json']);
  });

  it('reports an unwritable location as a catalog error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uk-fc-'));
    dirs.push(dir);
    writeFileAtomic(join(dir, 'file'), 'x');
    // A path "under" a regular file fails with ENOTDIR.
    expect(() => writeFileAtomic(join(dir, 'file/sub/x.json'), '{}')).toThrow(expect.objectContaining({ code: 'UK151' }));
  });
});
