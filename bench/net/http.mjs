// HTTP probes for bench/net: wait for a first 200, and bulk transfers timed by curl (run inside a
// network namespace when one is given, so the load stays on this machine's own addresses).
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { run } from '../lib.mjs';
import { firstOk, PROBING } from './get.mjs';
import { startChild, stop } from './procs.mjs';

const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url));

/** [file, args] that runs `file args` inside namespace `ns` (or as is when `ns` is null). */
export function inNamespace(ns, file, args) {
  return ns === null ? [file, args] : ['ip', ['netns', 'exec', ns, file, ...args]];
}

/** A free TCP port on 127.0.0.1 (bound and released; the caller binds it right after). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Probes `url` (from this process, so only for loopback addresses: get.mjs firstOk) until it
 * answers 200; resolves to the wall-clock time of that answer in ms since the epoch
 * (performance.timeOrigin + now()). Rejects after `deadlineMs`, or as soon as `handle` (a child
 * from procs.startChild) exits, with the end of its output.
 */
export async function waitFor200(url, { deadlineMs, handle, what }) {
  let exited = null;
  handle.exited.then((result) => {
    exited = result;
  });
  const stopped = () =>
    exited === null ? null : `exited (code ${exited.code}, signal ${exited.signal}) before ${url} answered 200`;
  try {
    return await firstOk(url, { ...PROBING, deadlineMs, stopped });
  } catch (err) {
    throw new Error(`${what}: ${err.message}:\n${tail(handle)}`);
  }
}

/**
 * Waits for `url` to answer 200 from inside namespace `ns` (probe.mjs run there, probing as
 * waitFor200 does). Resolves to the wall-clock time of that answer in ms since the epoch (compare with
 * `performance.timeOrigin + performance.now()`). Rejects past `deadlineMs`, or as soon as
 * `handle` exits, with the end of its output.
 */
export async function waitFor200InNamespace(ns, url, { deadlineMs, handle, what }) {
  const [file, args] = inNamespace(ns, process.execPath, [PROBE, url, String(deadlineMs)]);
  const prober = startChild(file, args);
  const first = await Promise.race([prober.exited.then((r) => ({ probe: r })), handle.exited.then((r) => ({ server: r }))]);
  if (first.server !== undefined) {
    await stop(prober);
    throw new Error(
      `${what} exited (code ${first.server.code}, signal ${first.server.signal}) before ${url} answered 200:\n${tail(handle)}`,
    );
  }
  if (first.probe.code !== 0) throw new Error(`${what}: ${prober.output().trim()}\n${tail(handle)}`);
  return Number(prober.output().trim());
}

function tail(handle) {
  return handle ? handle.output().slice(-1500) : '';
}

/**
 * Bulk transfers with one curl process over one keep-alive connection: `count` requests to
 * `url`, each moving `bytesEach` bytes — downloads (GET), or, with `file` (`bytesEach` bytes),
 * POSTs of it (`Expect:` off, so no 100-continue round trip). Returns { bytes, seconds } summed
 * over the transfers from curl's own timing (time_total each). Throws unless every answer is 200
 * with the expected size.
 */
export async function curlBulk(ns, url, { count, bytesEach, file = null, timeoutMs }) {
  const format = '%{http_code} %{size_download} %{size_upload} %{time_total}\\n';
  const args = ['-s', '-S', '-m', String(Math.ceil(timeoutMs / 1000)), '-w', format];
  if (file !== null) args.push('-H', 'Content-Type: application/octet-stream', '-H', 'Expect:', '--data-binary', `@${file}`);
  for (let index = 0; index < count; index++) args.push('-o', '/dev/null', url);
  const [bin, argv] = inNamespace(ns, 'curl', args);
  const result = await run(bin, argv, { timeoutMs: timeoutMs + 5000 });
  const lines = result.stdout
    .trim()
    .split('\n')
    .filter((line) => line !== '');
  if (result.code !== 0 || lines.length !== count) {
    throw new Error(
      `curl ${url} ×${count} exited ${result.code} after ${lines.length} transfer(s): ${result.stderr.trim().slice(-300)}`,
    );
  }
  let seconds = 0;
  for (const line of lines) {
    const [status, down, up, total] = line.split(' ');
    const moved = file === null ? Number(down) : Number(up);
    if (status !== '200' || moved !== bytesEach)
      throw new Error(`curl ${url}: status ${status}, ${moved} bytes, expected 200 and ${bytesEach}`);
    seconds += Number(total);
  }
  return { bytes: bytesEach * count, seconds };
}
