import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readAt, readChunks, writeAll } from './io.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(contents: string): string {
  dir = mkdtempSync(join(tmpdir(), 'ukernel-io-'));
  const path = join(dir, 'f');
  writeFileSync(path, contents);
  return path;
}

describe('readAt / readChunks / writeAll', () => {
  it('reads a range, shorter only at the end of the file', () => {
    const fd = openSync(file('0123456789'), 'r');
    try {
      expect(readAt(fd, 2, 3).toString()).toBe('234');
      expect(readAt(fd, 8, 5).toString()).toBe('89');
      expect(readAt(fd, 20, 5).length).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  it('streams a range in bounded chunks and returns where it stopped', () => {
    const fd = openSync(file('abcdefghij'), 'r');
    const chunks: string[] = [];
    try {
      expect(readChunks(fd, 1, 8, 3, (chunk) => chunks.push(chunk.toString()))).toBe(8);
      expect(readChunks(fd, 9, 50, 4, (chunk) => chunks.push(chunk.toString()))).toBe(10);
    } finally {
      closeSync(fd);
    }
    expect(chunks).toEqual(['bcd', 'efg', 'h', 'j']);
  });

  it('writes all bytes, at a position when given', () => {
    const path = file('..........');
    const fd = openSync(path, 'r+');
    try {
      writeAll(fd, Buffer.from('XY'), 4);
      writeAll(fd, Buffer.from('ab'));
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(path, 'utf8')).toBe('ab..XY....');
  });
});
