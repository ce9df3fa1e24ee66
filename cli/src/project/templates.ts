// What `ukernel init` writes. Plain strings: the files are small and reviewing them here is
// easier than reviewing a template engine.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ukernelRoot } from '../toolchain.js';
import {
  BUNDLE_ENV_PATH,
  ENTRY_DEFAULT,
  ENV_FILE,
  MEMORY_MIB_DEFAULT,
  PROJECT_FILE,
  PYTHON_BASE,
  PYTHON_ENTRY_DEFAULT,
  VCPU_DEFAULT,
} from '../constants.js';

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
# Networking (docs/networking.md): net = "user" with publish = ["8080:80"] (host port 8080
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

/** The http template's entry file, relative to the ukernel checkout. */
const HTTP_TEMPLATE_SOURCE = 'examples/http-server/src/main.zig';
/** The worker's `net` line and the comment lines under it, which the http template replaces. */
const WORKER_NET_RE = /^net = "none"\n(?:#.*\n)*/m;

/**
 * `ukernel init --template http`: the HTTP/1.1 server of examples/http-server (one source, as
 * for the worker), under QEMU user networking with host 127.0.0.1:8080 published to its port
 * 80, so that `ukernel run` serves `curl http://127.0.0.1:8080/` with no root. The other files
 * are the worker's, with the networking lines and HTTP_PORT in place.
 */
export function httpServerTemplate(name: string, zigVersion: string): TemplateFile[] {
  const network = `# QEMU user networking (no root): host 127.0.0.1:8080 reaches the server's port 80.
net = "user"
publish = ["8080:80"]
`;
  const port = `# The port the server listens on in the guest (an argument after \`ukernel run --\` wins).
HTTP_PORT=80
# A trace span for one request in N (0: none): each span is two records on the events device.
# HTTP_SPAN_EVERY=1
`;
  return nativeWorkerTemplate(name, zigVersion).map((file): TemplateFile => {
    switch (file.path) {
      case PROJECT_FILE:
        if (!WORKER_NET_RE.test(file.contents)) throw new Error("templates: the worker's ukernel.toml has no net line");
        return { path: file.path, contents: file.contents.replace(WORKER_NET_RE, network) };
      case ENTRY_DEFAULT:
        // The template is the committed example: examples/http-server/src/main.zig.
        return {
          path: file.path,
          contents: readFileSync(join(ukernelRoot(), HTTP_TEMPLATE_SOURCE), 'utf8').replaceAll('PROJECT_NAME', name),
        };
      case ENV_FILE:
        return { path: file.path, contents: file.contents + port };
      default:
        return file;
    }
  });
}

/** The Python worker template's entry file, relative to the ukernel checkout. */
const PYTHON_WORKER_TEMPLATE_SOURCE = 'examples/python-worker/src/main.py';

/**
 * `ukernel init --lang python --template worker`: the asyncio pipeline of examples/python-worker
 * (one source, as for the native worker) under the Python adapter (docs/python.md). The other
 * files are the native worker's with the language, entry, base and adapter of Python.
 */
export function pythonWorkerTemplate(name: string, zigVersion: string): TemplateFile[] {
  return nativeWorkerTemplate(name, zigVersion).map((file): TemplateFile => {
    switch (file.path) {
      case PROJECT_FILE: {
        const contents = file.contents
          .replace('language = "native"', 'language = "python"')
          .replace(`entry = "${ENTRY_DEFAULT}"`, `entry = "${PYTHON_ENTRY_DEFAULT}"`)
          .replace(`base = "zig-${zigVersion}"`, `base = "${PYTHON_BASE}"`)
          .replace('adapter = "native"', 'adapter = "python"');
        if (contents.includes('native') || contents.includes('zig-')) {
          throw new Error("templates: the worker's ukernel.toml changed; update pythonWorkerTemplate");
        }
        return { path: file.path, contents };
      }
      case ENTRY_DEFAULT:
        // The template is the committed example: examples/python-worker/src/main.py.
        return {
          path: PYTHON_ENTRY_DEFAULT,
          contents: readFileSync(join(ukernelRoot(), PYTHON_WORKER_TEMPLATE_SOURCE), 'utf8').replaceAll('PROJECT_NAME', name),
        };
      default:
        return file;
    }
  });
}

/** The files of template `template` (one of TEMPLATES[language]) for project `name`. */
export function projectTemplate(language: string, template: string, name: string, zigVersion: string): TemplateFile[] {
  if (language === 'python') return pythonWorkerTemplate(name, zigVersion);
  return nativeTemplate(template, name, zigVersion);
}

/** The files of template `template` (one of TEMPLATES.native) for project `name`. */
export function nativeTemplate(template: string, name: string, zigVersion: string): TemplateFile[] {
  return template === 'http' ? httpServerTemplate(name, zigVersion) : nativeWorkerTemplate(name, zigVersion);
}
