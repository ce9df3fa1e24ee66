// wrk (Debian's `wrk`, HTTP/1.1 keep-alive load generator) for bench/net: installed with apt-get
// when missing (as scripts/bootstrap.sh installs QEMU), run bounded, and its report parsed.
import { run } from '../lib.mjs';
import { inNamespace } from './http.mjs';
import { aptInstall, onPath } from './apt.mjs';
import { command } from './procs.mjs';

/** Makes sure `wrk` is on PATH (apt-get install wrk when missing); returns its version line. */
export function ensureWrk(say) {
  if (!onPath('wrk')) aptInstall(['wrk'], say);
  // `wrk -v` prints its version and usage, and exits 1.
  const out = command('wrk', ['-v'], { check: false });
  return (out.stdout + out.stderr)
    .split('\n')[0]
    .replace(/\s*Copyright.*$/, '')
    .trim();
}

/** `2.50ms`, `812.00us`, `1.02s`, `3.00m` → milliseconds. */
function toMs(text) {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (match === null) throw new Error(`wrk: cannot read the duration "${text}"`);
  const scale = { us: 1e-3, ms: 1, s: 1e3, m: 60e3 }[match[2]];
  return Number(match[1]) * scale;
}

/**
 * Parses wrk's report (wg/wrk src/wrk.c: `Requests/sec:`, the `--latency` distribution, `Socket
 * errors:`, `Non-2xx or 3xx responses:`). Returns { req_s, p50_ms, p99_ms, requests, errors,
 * non2xx }.
 */
export function parseWrk(text) {
  const number = (re) => {
    const match = re.exec(text);
    return match === null ? null : Number(match[1]);
  };
  const percentile = (p) => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(text);
    return match === null ? null : toMs(match[1]);
  };
  const reqS = number(/^Requests\/sec:\s+([\d.]+)/m);
  if (reqS === null) throw new Error(`wrk printed no Requests/sec:\n${text.slice(-800)}`);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    req_s: reqS,
    p50_ms: percentile(50),
    p99_ms: percentile(99),
    requests: number(/^\s*(\d+) requests in/m),
    errors: errors === null ? 0 : errors.slice(1).reduce((sum, n) => sum + Number(n), 0),
    non2xx: number(/Non-2xx or 3xx responses: (\d+)/) ?? 0,
  };
}

/**
 * One bounded wrk run against `url` (inside namespace `ns` when given): `threads` threads,
 * `connections` keep-alive connections, `seconds` long, every request timing out after 2 s.
 */
export async function runWrk(ns, url, { threads, connections, seconds }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--timeout', '2s', '--latency', url];
  const [file, argv] = inNamespace(ns, 'wrk', args);
  const result = await run(file, argv, { timeoutMs: (seconds + 15) * 1000 });
  if (result.code !== 0) throw new Error(`wrk ${args.join(' ')} exited ${result.code}: ${result.stderr.trim().slice(-500)}`);
  return parseWrk(result.stdout);
}
