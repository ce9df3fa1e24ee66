// File helpers on odd file systems: every failure is a catalog error naming its cause, and temp
// files of dead processes are cleaned up while those of live ones are kept.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { STALE_TEMP_AGE_MS } from './constants.js';
import { makeDirectory, readProjectFile, removeEntriesChanged, removeStaleTemps, writeFileAtomic } from './fsutil.js';

const dir = mkdtempSync(join(tmpdir(), 'uk-fsutil-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that is certainly gone: a child that has exited and been reaped. */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

describe('writeFileAtomic', () => {
  it('a directory where the file belongs is UK150 with the path, and leaves no temp file', () => {
    mkdirSync(join(dir, 'w/bundle.tgz'), { recursive: true });
    expect(() => writeFileAtomic(join(dir, 'w/bundle.tgz'), 'x', { display: 'build/bundle.tgz' })).toThrow(
      expect.objectContaining({ code: 'UK150', message: 'cannot write build/bundle.tgz: it is a directory (EISDIR)' }),
    );
    expect(readdirSync(join(dir, 'w'))).toEqual(['bundle.tgz']);
  });

  it('createParent: false refuses a missing directory (UK156) instead of creating it', () => {
    expect(() =>
      writeFileAtomic(join(dir, 'nope/x.json'), '{}', { display: 'nope/x.json', createParent: false, hint: 'Pick another.' }),
    ).toThrow(expect.objectContaining({ code: 'UK156', hint: expect.stringMatching(/mkdir -p nope.*Pick another\.$/) }));
    expect(existsSync(join(dir, 'nope'))).toBe(false);
    writeFileAtomic(join(dir, 'x.json'), '{}', { createParent: false });
    expect(existsSync(join(dir, 'x.json'))).toBe(true);
  });

  it('removes the temp files of this path left by dead processes, keeps live ones', () => {
    mkdirSync(join(dir, 't'));
    const dead = join(dir, `t/.out.img.${deadPid()}.tmp`);
    const live = join(dir, `t/.out.img.${process.ppid}.tmp`);
    const other = join(dir, `t/.other.${deadPid()}.tmp`);
    for (const path of [dead, live, other]) writeFileSync(path, 'half');
    writeFileAtomic(join(dir, 't/out.img'), 'whole');
    expect(readdirSync(join(dir, 't')).sort()).toEqual(
      [`.other.${other.split('.').at(-2)}.tmp`, `.out.img.${process.ppid}.tmp`, 'out.img'].sort(),
    );
    // Any name, and a live pid's file once it is older than a build can run.
    const old = new Date(Date.now() - STALE_TEMP_AGE_MS - 60_000);
    utimesSync(live, old, old);
    removeStaleTemps(join(dir, 't'));
    expect(readdirSync(join(dir, 't'))).toEqual(['out.img']);
  });
});

describe('makeDirectory', () => {
  it('a file in the way is UK151; what exists is fine', () => {
    writeFileSync(join(dir, 'file'), '');
    expect(() => makeDirectory(join(dir, 'file/sub'), 'file/sub')).toThrow(expect.objectContaining({ code: 'UK151' }));
    makeDirectory(join(dir, 'a/b/c'));
    makeDirectory(join(dir, 'a/b/c'));
    expect(existsSync(join(dir, 'a/b/c'))).toBe(true);
  });
});

describe('readProjectFile', () => {
  it('null when missing; directories, FIFOs (without blocking) and oversized files are refused', () => {
    expect(readProjectFile(join(dir, 'missing'), { display: 'missing', maxBytes: 10 })).toBeNull();
    expect(() => readProjectFile(join(dir, 'a'), { display: 'a', maxBytes: 10 })).toThrow(
      expect.objectContaining({ code: 'UK150' }),
    );
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(() =>
      readProjectFile(join(dir, 'fifo'), { display: 'env/ukernel.env', maxBytes: 10, invalid: 'ConfigInvalid' }),
    ).toThrow(expect.objectContaining({ code: 'UK112', message: expect.stringContaining('not a regular file') }));
    writeFileSync(join(dir, 'big'), 'x'.repeat(11));
    expect(() => readProjectFile(join(dir, 'big'), { display: 'big', maxBytes: 10, tooLargeHint: 'smaller' })).toThrow(
      expect.objectContaining({ code: 'UK157', message: 'big is larger than 10 bytes (11)', hint: 'smaller' }),
    );
    expect(readProjectFile(join(dir, 'big'), { display: 'big', maxBytes: 11 })!.toString()).toBe('x'.repeat(11));
  });
});

describe('removeEntriesChanged', () => {
  it('removes entries changed within the window only', () => {
    mkdirSync(join(dir, 'zt/old'), { recursive: true });
    mkdirSync(join(dir, 'zt/new'));
    const old = new Date(Date.now() - STALE_TEMP_AGE_MS - 60_000);
    utimesSync(join(dir, 'zt/old'), old, old);
    removeEntriesChanged(join(dir, 'zt'), 0, Date.now() - STALE_TEMP_AGE_MS);
    expect(readdirSync(join(dir, 'zt'))).toEqual(['new']);
    removeEntriesChanged(join(dir, 'zt'), Date.now() - 60_000, Infinity);
    expect(readdirSync(join(dir, 'zt'))).toEqual([]);
  });
});
