#!/usr/bin/env bash
# Builds the kernel with the pinned Zig (scripts/toolchain.env): kernel/zig-out/bin/ukernel.elf.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/toolchain.env"
zig="$root/.toolchain/zig-$ZIG_VERSION/ziglang/zig"
if [ ! -x "$zig" ] || [ "$("$zig" version)" != "$ZIG_VERSION" ]; then
    echo "build-kernel: zig $ZIG_VERSION not found at $zig; run scripts/bootstrap.sh" >&2
    exit 2
fi
cd "$root/kernel"
"$zig" build "$@"
