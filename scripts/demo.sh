#!/usr/bin/env bash
# The main job, for a fresh Debian machine: set up the toolchain, build the kernel, boot it bare
# under QEMU microvm with `ukernel run` (KVM when usable, else TCG), then make the Python worker
# template in a new directory and run it: the first time this builds the Python adapter runtime
# (CPython 3.13, musl and zlib from Debian's sources, minutes; cached in
# ${XDG_CACHE_HOME:-~/.cache}/ukernel/adapters), then boots CPython and prints the pipeline.
# Each step says on stderr what it does before it starts. Arguments go to both `ukernel run`s
# (e.g. --accel tcg, --vmm firecracker).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'demo: %s\n' "$*" >&2; }
say "[1/4] toolchain: Node packages, zig, QEMU (scripts/bootstrap.sh) …"
"$root/scripts/bootstrap.sh"
say "[2/4] kernel (scripts/build-kernel.sh) …"
"$root/scripts/build-kernel.sh"
cd "$root"
say "[3/4] booting it: ukernel run --kernel kernel/zig-out/bin/ukernel.elf${*:+ $*} …"
node cli/bin/ukernel.mjs run --kernel kernel/zig-out/bin/ukernel.elf "$@"
work=$(mktemp -d "${TMPDIR:-/tmp}/ukernel-demo.XXXXXX")
say "[4/4] a Python worker in $work: ukernel init --name pyw --lang python --template worker && ukernel run${*:+ $*} …"
cd "$work"
node "$root/cli/bin/ukernel.mjs" init --name pyw --lang python --template worker >&2
exec node "$root/cli/bin/ukernel.mjs" run "$@"
