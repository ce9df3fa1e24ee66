// One GET, status only, shared by bench/net's probes (http.mjs in the benchmark's process,
// probe.mjs inside a network namespace).
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * How the first-200 probes probe: a GET every `intervalMs` ms, each given up after `timeoutMs`,
 * at most `inFlightMax` at once (each a connection).
 */
export const PROBING = { intervalMs: 5, timeoutMs: 2000, inFlightMax: 100 };

/** GET `url` on a fresh connection; resolves to the status code, or null on any error or after `timeoutMs`. */
export function getStatus(url, timeoutMs) {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

/**
 * Resolves to the wall-clock time (ms since the epoch: performance.timeOrigin + now) of the
 * first 200 from `url`. Starts a GET every `intervalMs` without waiting for the earlier ones
 * (at most `inFlightMax` at once, each given up after `timeoutMs`): a connection made while
 * the guest is not up yet can hang inside QEMU's user networking until it times out, and
 * waiting for it would add that timeout to the figure. Rejects past `deadlineMs` or as soon as
 * `stopped()` returns a message. The last status seen is in the rejection.
 */
export function firstOk(url, { intervalMs, timeoutMs, inFlightMax, deadlineMs, stopped = () => null }) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let inFlight = 0;
    let last = null;
    let done = false;
    const finish = (error, time) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      if (error) reject(error);
      else resolve(time);
    };
    const tick = () => {
      const why = stopped();
      if (why !== null) return finish(new Error(why));
      if (performance.now() - started > deadlineMs) {
        return finish(new Error(`${url} did not answer 200 within ${deadlineMs} ms (last status ${last})`));
      }
      if (inFlight >= inFlightMax) return;
      inFlight++;
      getStatus(url, timeoutMs).then((status) => {
        inFlight--;
        last = status;
        if (status === 200) finish(null, performance.timeOrigin + performance.now());
      });
    };
    const timer = setInterval(tick, intervalMs);
    tick();
  });
}
