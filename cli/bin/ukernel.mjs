#!/usr/bin/env node
// Shim: the CLI itself is bundled to cli/dist by `npm run build` (run by `npm ci`).
import module from 'node:module';

// Node >= 22.1 caches compiled code between runs; Node 20 has no such cache (a no-op there).
module.enableCompileCache?.();
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist')) throw err;
  const repo = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
  process.stderr.write(`ukernel: CLI not built; run \`npm ci\` (or \`npm run build\`) in ${repo}\n`);
  process.exit(2);
}
const code = await cli.main(process.argv);
// A pipe that is full takes the rest of the output asynchronously, and process.exit() would drop
// it (`ukernel run | tail` lost lines): wait until stdout and stderr are written (or closed).
await Promise.all([drained(process.stdout), drained(process.stderr)]);
process.exit(code);

function drained(stream) {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('drain', resolve);
    stream.once('error', resolve);
    stream.once('close', resolve);
  });
}
