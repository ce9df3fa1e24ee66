#!/usr/bin/env bash
# Builds the kernel with the pinned Zig (scripts/toolchain.env): kernel/zig-out/bin/ukernel.elf.
# Extra arguments go to `zig build` (e.g. `test --summary all`). Says on stderr what it builds
# before it starts and how long it took; on a terminal Zig draws its own live progress meanwhile.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/toolchain.env"
zig="$root/.toolchain/zig-$ZIG_VERSION/ziglang/zig"
if [ ! -x "$zig" ] || [ "$("$zig" version)" != "$ZIG_VERSION" ]; then
    echo "build-kernel: zig $ZIG_VERSION not found at $zig; run scripts/bootstrap.sh" >&2
    exit 2
fi
# Third-party sources the kernel compiles in, fetched and verified by sha256 (never committed).
lwip=$("$root/scripts/fetch-source.sh" lwip)
what="kernel/zig-out/bin/ukernel.elf"
[ $# -eq 0 ] || what="zig build $*"
echo "build-kernel: building $what with zig $ZIG_VERSION …" >&2
start=$SECONDS
cd "$root/kernel"
status=0
"$zig" build "-Dlwip=$lwip" "$@" || status=$?
if [ "$status" -eq 0 ]; then
    echo "build-kernel: done in $((SECONDS - start)) s" >&2
else
    echo "build-kernel: failed after $((SECONDS - start)) s (zig build exited $status)" >&2
fi
exit "$status"
