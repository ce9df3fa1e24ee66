// The http template's server code built as a host Linux process, the baseline of bench/net (b)
// and (c), and the server the Linux guest of (d) runs. This is the one place that knows how it
// is built and started: `buildHostServer` returns { path, argv(port) } or { unavailable }.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib.mjs';

const BUILD_TIMEOUT_MS = 300_000;

/**
 * Builds the entry file of `project` (the http template copy: src/main.zig, unchanged) with
 * bench/net/build-host.sh against sdk/zig/host/, ReleaseFast as `ukernel build --release`
 * builds the guest, into `work`. Resolves to { path, argv: (port) => [file, args] } — a static
 * x86_64 Linux executable (so the Linux guest of (d) runs it too) that listens on 0.0.0.0:port
 * (its argv[1]) — or to { unavailable: reason }.
 */
export async function buildHostServer(root, project, work) {
  const script = join(root, 'bench/net/build-host.sh');
  if (!existsSync(join(root, 'sdk/zig/host/start.zig')) || !existsSync(script)) {
    return { unavailable: `no host build of the template server in this tree (sdk/zig/host/, ${script})` };
  }
  const path = join(work, 'http-server-host');
  const entry = join(project, 'src/main.zig');
  const result = await run('bash', [script, '-O', 'ReleaseFast', entry, path], { cwd: root, timeoutMs: BUILD_TIMEOUT_MS });
  if (result.code !== 0 || !existsSync(path)) {
    return { unavailable: `bench/net/build-host.sh failed (exit ${result.code}): ${result.stderr.trim().slice(-600)}` };
  }
  return { path, argv: (port) => [path, [String(port)]] };
}
