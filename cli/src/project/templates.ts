// What `ukernel init` writes. Plain strings: the files are small and reviewing them here is
// easier than reviewing a template engine.
import { BUNDLE_ENV_PATH, ENTRY_DEFAULT, ENV_FILE, MEMORY_MIB_DEFAULT, PROJECT_FILE, VCPU_DEFAULT } from '../constants.js';

export interface TemplateFile {
  path: string;
  contents: string;
}

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
`,
    },
    {
      path: ENTRY_DEFAULT,
      contents: `const ukernel = @import("ukernel");

/// The workload's entry: the kernel calls it once the VM is up; its return value is the VM's
/// exit status.
pub fn main(context: ukernel.Context) u8 {
    ukernel.print("hello from {s}: {d} argument(s)\\n", .{ "${name}", context.args.len });
    for (context.args, 0..) |arg, index| ukernel.print("  argv[{d}] = {s}\\n", .{ index, arg });
    return 0;
}
`,
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
