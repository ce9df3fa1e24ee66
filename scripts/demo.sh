#!/usr/bin/env bash
# The main job, for a fresh Debian machine: set up the toolchain, build the kernel, boot it under
# QEMU microvm with `ukernel run` (KVM when usable, else TCG), show its serial log and timing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/bootstrap.sh"
"$root/scripts/build-kernel.sh"
cd "$root"
exec node cli/bin/ukernel.mjs run --kernel kernel/zig-out/bin/ukernel.elf "$@"
