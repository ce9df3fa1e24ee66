#!/usr/bin/env bash
# The main job, for a fresh Debian machine: set up the toolchain, build the kernel, boot it under
# QEMU microvm with `ukernel run` (KVM when usable, else TCG), show its serial log and timing.
# Each step says on stderr what it does before it starts (the kernel build also how long it took).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'demo: %s\n' "$*" >&2; }
say "[1/3] toolchain: Node packages, zig, QEMU (scripts/bootstrap.sh) …"
"$root/scripts/bootstrap.sh"
say "[2/3] kernel (scripts/build-kernel.sh) …"
"$root/scripts/build-kernel.sh"
cd "$root"
say "[3/3] booting it: ukernel run --kernel kernel/zig-out/bin/ukernel.elf${*:+ $*} …"
exec node cli/bin/ukernel.mjs run --kernel kernel/zig-out/bin/ukernel.elf "$@"
