// Where a key is defined in TOML source text, for error positions after schema validation
// (smol-toml reports positions for syntax errors only). Handles what ukernel.toml uses:
// [table] and [[array]] headers, bare/quoted/dotted keys, and inline tables on one line.

import { EXCERPT_LINE_CHARS_MAX } from '../constants.js';
import { sanitizeLine } from '../console/sanitize.js';

export interface Position {
  line: number;
  column: number;
}

const KEY_PART = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')`;
const DOTTED = String.raw`${KEY_PART}(?:\s*\.\s*${KEY_PART})*`;
const HEADER_RE = new RegExp(String.raw`^(\s*)\[\[?\s*(${DOTTED})\s*\]\]?`);
const KEY_RE = new RegExp(String.raw`^(\s*)(${DOTTED})\s*=`);
const PART_RE = new RegExp(KEY_PART, 'g');

export function splitDottedKey(dotted: string): string[] {
  return [...dotted.matchAll(PART_RE)].map(([part]) =>
    part.startsWith('"') ? (JSON.parse(part) as string) : part.startsWith("'") ? part.slice(1, -1) : part,
  );
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((part, index) => path[index] === part);
}

/**
 * Position of the key at `path` (e.g. ["run", "vcpu"]), or of its nearest enclosing table or
 * key when the key itself is absent (a missing key is reported where it belongs), else 1:1.
 */
export function locateKey(text: string, path: readonly string[]): Position {
  const lines = text.split('\n');
  let table: string[] = [];
  let best: { position: Position; depth: number } = { position: { line: 1, column: 1 }, depth: -1 };
  const consider = (keyPath: string[], line: number, column: number): void => {
    if (startsWith(path, keyPath) && keyPath.length > best.depth) {
      best = { position: { line, column }, depth: keyPath.length };
    }
  };
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const header = HEADER_RE.exec(line);
    if (header !== null) {
      table = splitDottedKey(header[2]!);
      consider(table, index + 1, header[1]!.length + 1);
      continue;
    }
    const key = KEY_RE.exec(line);
    if (key === null) continue;
    const keyPath = [...table, ...splitDottedKey(key[2]!)];
    consider(keyPath, index + 1, key[1]!.length + 1);
    // An inline table on this line: `run = { vcpu = 2 }` → look for the remaining parts.
    if (startsWith(path, keyPath) && path.length > keyPath.length) {
      const rest = line.slice(key[0].length);
      const inner = new RegExp(
        String.raw`[{,]\s*(${path.slice(keyPath.length).map(quoteForRegex).join(String.raw`\s*\.\s*`)})\s*=`,
      ).exec(rest);
      if (inner !== null) {
        const column = key[0].length + inner.index + inner[0].indexOf(inner[1]!) + 1;
        best = { position: { line: index + 1, column }, depth: path.length };
      }
    }
  }
  const last = path.at(-1);
  if (best.depth === path.length - 1 && last !== undefined && /^[0-9]+$/.test(last)) {
    return locateArrayString(lines, best.position, Number(last)) ?? best.position;
  }
  return best.position;
}

const STRING_RE = /"(?:[^"\\]|\\.)*"|'[^']*'/g;

/** The `index`th string of the array whose key is at `key` (arrays of strings, as `publish`). */
function locateArrayString(lines: readonly string[], key: Position, index: number): Position | null {
  let seen = 0;
  let opened = false;
  for (let line = key.line - 1; line < lines.length; line++) {
    const text = lines[line]!;
    let offset = line === key.line - 1 ? key.column - 1 : 0;
    if (!opened) {
      const bracket = text.indexOf('[', offset);
      if (bracket === -1) continue;
      opened = true;
      offset = bracket + 1;
    }
    STRING_RE.lastIndex = offset;
    for (let m = STRING_RE.exec(text); m !== null; m = STRING_RE.exec(text)) {
      const close = text.indexOf(']', offset);
      if (close !== -1 && close < m.index) return null;
      if (seen === index) return { line: line + 1, column: m.index + 1 };
      seen++;
    }
    if (text.indexOf(']', offset) !== -1) return null;
  }
  return null;
}

function quoteForRegex(part: string): string {
  const escaped = part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return `(?:${escaped}|"${escaped}"|'${escaped}')`;
}

const safe = (text: string): string => sanitizeLine(Buffer.from(text, 'utf8'));

/** How wide `text[at]` is once sanitized (1, or 4–6 for an escape). */
const widthAt = (text: string, at: number): number => safe(text[at]!).length;

/** The end of the longest slice of `raw` from `start` whose sanitized width fits `width`. */
function fitFrom(raw: string, start: number, width: number): number {
  let end = start;
  // Each character is at least 1 wide: at most `width` steps.
  for (let used = 0; end < raw.length && used + widthAt(raw, end) <= width; end++) used += widthAt(raw, end);
  return end;
}

/**
 * The lines before and at `line` (1-based) of a project file, numbered, with a caret under
 * `column`: each cut to EXCERPT_LINE_CHARS_MAX characters as shown, around the column ("…"
 * marks a cut), and sanitized like guest output, so that a 1 MB line or escape codes stay out
 * of the terminal and the caret still stands under the column.
 */
export function excerptAt(text: string, line: number, column: number): string[] {
  const lines = text.split('\n');
  const first = Math.max(1, line - 1);
  const last = Math.min(line, lines.length);
  if (last < first) return [];
  const width = EXCERPT_LINE_CHARS_MAX;
  // Start up to half the width left of the column (less when the line is short on the right).
  const errorLine = lines[line - 1] ?? '';
  const at = Math.min(Math.max(0, column - 1), errorLine.length);
  let start = at;
  for (let used = 0; start > 0 && used + widthAt(errorLine, start - 1) <= width / 2; start--)
    used += widthAt(errorLine, start - 1);
  const numberWidth = String(last).length;
  const out: string[] = [];
  let caretAt = 0;
  for (let n = first; n <= last; n++) {
    const raw = lines[n - 1]!.replace(/\r$/, '');
    const end = fitFrom(raw, Math.min(start, raw.length), width);
    const head = start > 0 ? '…' : '';
    const tail = raw.length > end ? '…' : '';
    const label = `${String(n).padStart(numberWidth)}:  `;
    out.push(`${label}${head}${safe(raw.slice(start, end))}${tail}`);
    if (n === line) caretAt = label.length + head.length + safe(raw.slice(start, at)).length;
  }
  out.push(`${' '.repeat(caretAt)}^`);
  return out;
}
