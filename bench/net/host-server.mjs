// The http template's server code built as a host Linux process, the baseline of bench/net (b)
// and (c), and the server the Linux guest of (d) runs. This is the one place that knows how it
// is built and started: `buildHostServer` returns { path, argv(port) } or { unavailable }.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Builds the host server for `project` (the http template copy) into `work`.
 * Resolves to { path, argv: (port) => [file, args] } — `path` a static x86_64 Linux executable
 * (so the Linux guest can run it too), listening on 0.0.0.0:port — or to { unavailable: reason }.
 */
export async function buildHostServer(root, _project, _work) {
  const host = join(root, 'sdk/zig/host');
  if (!existsSync(host)) {
    return { unavailable: `no host build of the template server in this tree (${host} is missing)` };
  }
  return { unavailable: `${host} exists, but bench/net does not know its build script yet` };
}
