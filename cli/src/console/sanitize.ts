// Guest output is untrusted. Before it reaches the user's terminal, every control
// character (C0 except TAB, DEL, C1), Unicode bidi override and every byte that is not
// part of valid UTF-8 becomes a visible escape: `\x1b`, `\u009b`, `\u202e`.
// Valid printable UTF-8 passes through unchanged.

export function sanitizeLine(bytes: Uint8Array): string {
  let out = '';
  let plainStart = -1; // start of a run of printable ASCII, copied in one go
  const flush = (end: number): void => {
    if (plainStart >= 0) {
      out += Buffer.from(bytes.buffer, bytes.byteOffset + plainStart, end - plainStart).toString('latin1');
      plainStart = -1;
    }
  };
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if ((b >= 0x20 && b < 0x7f) || b === 0x09) {
      if (plainStart < 0) plainStart = i;
      i += 1;
      continue;
    }
    flush(i);
    if (b < 0x80) {
      out += hexEscape(b); // C0 control or DEL
      i += 1;
      continue;
    }
    const decoded = decodeUtf8(bytes, i);
    if (decoded === null) {
      out += hexEscape(b);
      i += 1;
      continue;
    }
    const [codePoint, length] = decoded;
    out += isUnsafeCodePoint(codePoint) ? unicodeEscape(codePoint) : String.fromCodePoint(codePoint);
    i += length;
  }
  flush(i);
  return out;
}

function hexEscape(byte: number): string {
  return `\\x${byte.toString(16).padStart(2, '0')}`;
}

function unicodeEscape(codePoint: number): string {
  return `\\u${codePoint.toString(16).padStart(4, '0')}`;
}

/** C1 controls, bidi embedding/override/isolate controls (terminal and "Trojan Source" tricks). */
function isUnsafeCodePoint(cp: number): boolean {
  return (
    (cp >= 0x80 && cp <= 0x9f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0x061c
  );
}

/** Strict UTF-8 decode of one sequence at `start` (no overlongs, surrogates or > U+10FFFF). */
export function decodeUtf8(bytes: Uint8Array, start: number): [codePoint: number, length: number] | null {
  const b0 = bytes[start]!;
  let length: number;
  let cp: number;
  let min: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return null;
  }
  if (start + length > bytes.length) return null;
  for (let k = 1; k < length; k++) {
    const b = bytes[start + k]!;
    if ((b & 0xc0) !== 0x80) return null;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return null;
  return [cp, length];
}

const ESCAPE_RE = /\\(?:x[0-9a-f]{2}|u[0-9a-f]{4})/g;

/**
 * Text from a project file, a path or another program, made safe for the terminal like guest
 * output (sanitizeLine: control characters, C1, bidi controls and lone surrogates become visible
 * escapes; a newline too, so one message stays one line) and cut to at most `maxChars`
 * characters, with a marker saying how much was left out.
 */
export function terminalText(text: string, maxChars: number): string {
  // Bound the work first: each raw character becomes at most 6 ("\u202e").
  const raw = text.length > maxChars * 6 ? text.slice(0, maxChars * 6) : text;
  const safe = sanitizeLine(Buffer.from(raw, 'utf8'));
  if (safe.length <= maxChars && raw.length === text.length) return safe;
  let end = Math.min(maxChars, safe.length);
  const code = safe.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1; // never split a surrogate pair
  const from = Math.max(0, end - 5);
  for (const found of safe.slice(from, end + 5).matchAll(ESCAPE_RE)) {
    const at = from + found.index;
    if (at < end && at + found[0].length > end) end = at; // never split an escape
  }
  return `${safe.slice(0, end)}… (cut: ${text.length} characters in all)`;
}
