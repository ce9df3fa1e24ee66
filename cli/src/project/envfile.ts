// env/ukernel.env: the workload's environment, dotenv-style. Checked at build time so the
// kernel only ever sees well-formed lines.
import { ENV_FILE_BYTES_MAX, WORKLOAD_ENV_MAX } from '../constants.js';
import { UkernelError } from '../errors.js';
import { printable } from '../fsutil.js';

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** KEY → VALUE, in file order; throws ConfigInvalid naming file:line:column. */
export function parseEnvFile(bytes: Buffer, file: string): Array<[string, string]> {
  if (bytes.length > ENV_FILE_BYTES_MAX) {
    throw new UkernelError('ConfigInvalid', `${file} is larger than ${ENV_FILE_BYTES_MAX} bytes`, {
      hint: 'Keep the workload environment small; put data in files instead.',
    });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UkernelError('ConfigInvalid', `${file} is not UTF-8 text`, { hint: 'Save it as UTF-8.' });
  }
  const pairs: Array<[string, string]> = [];
  const seen = new Map<string, number>();
  text.split('\n').forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const at = `${file}:${index + 1}`;
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (eq < 0 || !KEY_RE.test(key)) {
      throw new UkernelError('ConfigInvalid', `${at}:1: expected KEY=VALUE, got "${printable(line)}"`, {
        hint: 'Each line is KEY=VALUE with KEY of letters, digits and "_" (not starting with a digit), or a # comment.',
      });
    }
    const value = line.slice(eq + 1);
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) {
      throw new UkernelError('ConfigInvalid', `${at}:${eq + 2}: ${printable(key)}: the value contains control characters`, {
        hint: 'Values are one line of text; remove the control characters.',
      });
    }
    const previous = seen.get(key);
    if (previous !== undefined) {
      throw new UkernelError('ConfigInvalid', `${at}:1: ${printable(key)} is already set on line ${previous}`, {
        hint: `Remove one of the two ${printable(key)} lines.`,
      });
    }
    seen.set(key, index + 1);
    if (pairs.length >= WORKLOAD_ENV_MAX) {
      throw new UkernelError('ConfigInvalid', `${at}:1: more than ${WORKLOAD_ENV_MAX} variables`, {
        hint: `The kernel passes at most ${WORKLOAD_ENV_MAX} variables to the workload.`,
      });
    }
    pairs.push([key, value]);
  });
  return pairs;
}
