import { describe, expect, it } from 'vitest';
import { sanitizeLine, terminalText } from './sanitize.js';
import { mulberry32, randomBytes } from './fuzz-helpers.js';

const s = (input: string | number[]): string =>
  sanitizeLine(typeof input === 'string' ? Buffer.from(input, 'utf8') : Uint8Array.from(input));

describe('sanitizeLine', () => {
  it('keeps printable ASCII, tabs and valid UTF-8', () => {
    expect(s('hello\tworld')).toBe('hello\tworld');
    expect(s('µs → 41.3 ms · ünïcödé 日本 🚀')).toBe('µs → 41.3 ms · ünïcödé 日本 🚀');
  });

  it('neutralises terminal escape sequences and C0/DEL controls', () => {
    expect(s('\x1b[31mred\x1b[0m')).toBe('\\x1b[31mred\\x1b[0m');
    expect(s('\x1b]0;pwned\x07')).toBe('\\x1b]0;pwned\\x07');
    expect(s('a\rb\x00c\x7f\x08')).toBe('a\\x0db\\x00c\\x7f\\x08');
  });

  it('escapes C1 controls, raw or UTF-8 encoded, and bidi overrides', () => {
    expect(s([0x9b, 0x32, 0x4a])).toBe('\\x9b2J'); // raw CSI byte (invalid UTF-8)
    expect(s([0xc2, 0x9b, 0x32, 0x4a])).toBe('\\u009b2J'); // U+009B encoded
    expect(s('abc\u202edef')).toBe('abc\\u202edef');
  });

  it('escapes invalid UTF-8 byte by byte', () => {
    expect(s([0xc3])).toBe('\\xc3'); // truncated sequence
    expect(s([0xc0, 0xaf])).toBe('\\xc0\\xaf'); // overlong
    expect(s([0xed, 0xa0, 0x80])).toBe('\\xed\\xa0\\x80'); // surrogate
    expect(s([0xf4, 0x90, 0x80, 0x80])).toBe('\\xf4\\x90\\x80\\x80'); // > U+10FFFF
    expect(s([0x41, 0xe2, 0x82, 0x41])).toBe('A\\xe2\\x82A');
  });

  it('never lets a control character through (fuzz)', () => {
    const rand = mulberry32(7);
    for (let i = 0; i < 2000; i++) {
      const out = sanitizeLine(randomBytes(rand, Math.floor(rand() * 200)));
      expect(out).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/);
      expect(out).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/); // no lone surrogates
    }
  });
});

describe('terminalText', () => {
  it('sanitizes like guest output, newlines included, and leaves short clean text alone', () => {
    expect(terminalText('ukernel.toml:3:7: bad', 100)).toBe('ukernel.toml:3:7: bad');
    expect(terminalText('a\x1b[2Jb\nc\u202ed', 100)).toBe('a\\x1b[2Jb\\x0ac\\u202ed');
  });

  it('cuts long text with a marker, never inside an escape or a surrogate pair, with bounded work', () => {
    expect(terminalText('x'.repeat(1 << 20), 10)).toBe(`${'x'.repeat(10)}… (cut: ${1 << 20} characters in all)`);
    expect(terminalText('abcdefgh\x1b', 10)).toBe('abcdefgh… (cut: 9 characters in all)'); // not "abcdefgh\x"
    expect(terminalText('abcdefghi🚀', 10)).toBe('abcdefghi… (cut: 11 characters in all)');
    const rand = mulberry32(11);
    for (let i = 0; i < 500; i++) {
      const text = Buffer.from(randomBytes(rand, Math.floor(rand() * 300))).toString('latin1');
      const out = terminalText(text, 50);
      expect(out.length).toBeLessThanOrEqual(50 + 40);
      expect(out).not.toMatch(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/);
    }
  });
});
