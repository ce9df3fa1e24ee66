// What `ukernel init` writes. Plain strings: the files are small and reviewing them here is
// easier than reviewing a template engine.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ukernelRoot } from '../toolchain.js';
import { BUNDLE_ENV_PATH, ENTRY_DEFAULT, ENV_FILE, MEMORY_MIB_DEFAULT, PROJECT_FILE, VCPU_DEFAULT } from '../constants.js';

export interface TemplateFile {
  path: string;
  contents: string;
}

/** The worker template's entry file, relative to the ukernel checkout. */
const WORKER_TEMPLATE_SOURCE = 'examples/native-worker/src/main.zig';

export function nativeWorkerTemplate(name: string, zigVersion: string): TemplateFile[] {
  return [
    {
      path: PROJECT_FILE,
      contents: `# ukernel project: \`ukernel build\` compiles it, \`ukernel pack\` makes the image, \`ukernel run\` boots it.
# Keys and values: schema/ukernel.schema.json in the ukernel checkout.

[project]
name = "${name}"
language = "native"
entry = "${ENTRY_DEFAULT}"

[env]
base = "zig-${zigVersion}"

[build]
adapter = "native"

[run]
vcpu = ${VCPU_DEFAULT}
memory_mb = ${MEMORY_MIB_DEFAULT}
net = "none"
# Networking (docs/networking-host.md): net = "user" with publish = ["8080:80"] (host port 8080
# on 127.0.0.1 → guest port 80), or net = "tap:IFACE" with ip = "172.16.0.2/30" and gateway.
`,
    },
    {
      path: ENTRY_DEFAULT,
      // The template is the committed example (one source): examples/native-worker/src/main.zig.
      contents: readFileSync(join(ukernelRoot(), WORKER_TEMPLATE_SOURCE), 'utf8').replaceAll('PROJECT_NAME', name),
    },
    {
      path: ENV_FILE,
      contents: `# The workload's environment: one KEY=VALUE per line; blank lines and lines starting with #
# are ignored. \`ukernel build\` copies this file into the bundle as ${BUNDLE_ENV_PATH}, and the
# kernel passes the variables to the workload.
UKERNEL_PROJECT=${name}
`,
    },
    {
      path: '.gitignore',
      contents: `# ukernel build output, images and run logs
build/
dist/
logs/
`,
    },
  ];
}
