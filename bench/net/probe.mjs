#!/usr/bin/env node
// bench/net's first-200 probe, for servers reachable only inside a network namespace: run there
// (`ip netns exec NS node probe.mjs URL DEADLINE_MS`), it starts a GET of URL every 5 ms and prints the
// wall-clock time of the first 200 answer (performance.timeOrigin + performance.now(), ms since
// the epoch, comparable across processes; get.mjs firstOk), then exits 0; exits 1 with a message past DEADLINE_MS.
import { firstOk, PROBING } from './get.mjs';

const [url, deadlineText] = process.argv.slice(2);
const deadlineMs = Number(deadlineText);
if (!url || !Number.isFinite(deadlineMs)) {
  process.stderr.write('usage: probe.mjs URL DEADLINE_MS\n');
  process.exit(2);
}
try {
  const time = await firstOk(url, { ...PROBING, deadlineMs });
  process.stdout.write(`${time}\n`);
  process.exit(0);
} catch (err) {
  process.stderr.write(`probe: ${err.message}\n`);
  process.exit(1);
}
