import { describe, expect, it } from 'vitest';
import { parseEnvFile } from './envfile.js';

const parse = (text: string) => parseEnvFile(Buffer.from(text), 'env/ukernel.env');

describe('parseEnvFile', () => {
  it('reads KEY=VALUE lines, skipping comments and blank lines', () => {
    expect(parse('# header\n\nA=1\r\nB_2=x=y\nEMPTY=\n  # indented comment\n')).toEqual([
      ['A', '1'],
      ['B_2', 'x=y'],
      ['EMPTY', ''],
    ]);
  });

  it.each([
    ['A=1\nnot a pair\n', /^env\/ukernel\.env:2:1: expected KEY=VALUE, got "not a pair"$/],
    ['1A=x\n', /^env\/ukernel\.env:1:1: expected KEY=VALUE/],
    ['A=1\nA=2\n', /^env\/ukernel\.env:2:1: A is already set on line 1$/],
    ['A=x\x1by\n', /^env\/ukernel\.env:1:3: A: the value contains control characters$/],
  ])('%j is refused with file:line:column', (text, message) => {
    expect(() => parse(text)).toThrow(expect.objectContaining({ code: 'UK112', message: expect.stringMatching(message) }));
  });

  it('refuses non-UTF-8 and oversized files', () => {
    expect(() => parseEnvFile(Buffer.from([0x41, 0x3d, 0xff]), 'e')).toThrow(/not UTF-8/);
    expect(() => parse(`A=${'x'.repeat(70_000)}\n`)).toThrow(/larger than 65536 bytes/);
    const many = Array.from({ length: 257 }, (_, i) => `K${i}=v`).join('\n');
    expect(() => parse(many)).toThrow(/^env\/ukernel\.env:257:1: more than 256 variables$/);
  });
});
