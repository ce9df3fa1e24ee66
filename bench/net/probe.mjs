#!/usr/bin/env node
// bench/net's first-200 probe, for servers reachable only inside a network namespace: run there
// (`ip netns exec NS node probe.mjs URL DEADLINE_MS`), it polls GET URL every 5 ms and prints the
// wall-clock time of the first 200 answer (performance.timeOrigin + performance.now(), ms since
// the epoch, comparable across processes), then exits 0; exits 1 with a message past DEADLINE_MS.
import { performance } from 'node:perf_hooks';
import { getStatus } from './get.mjs';

const [url, deadlineText] = process.argv.slice(2);
const deadlineMs = Number(deadlineText);
if (!url || !Number.isFinite(deadlineMs)) {
  process.stderr.write('usage: probe.mjs URL DEADLINE_MS\n');
  process.exit(2);
}
const PROBE_INTERVAL_MS = 5;
const PROBE_TIMEOUT_MS = 1000;

const started = performance.now();
for (;;) {
  const status = await getStatus(url, PROBE_TIMEOUT_MS);
  if (status === 200) {
    process.stdout.write(`${performance.timeOrigin + performance.now()}\n`);
    process.exit(0);
  }
  if (performance.now() - started > deadlineMs) {
    process.stderr.write(`probe: ${url} did not answer 200 within ${deadlineMs} ms (last status ${status})\n`);
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
}
