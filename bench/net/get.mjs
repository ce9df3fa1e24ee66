// One GET, status only, shared by bench/net's probes (http.mjs in the benchmark's process,
// probe.mjs inside a network namespace).
import { request } from 'node:http';

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
