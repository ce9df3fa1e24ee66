#!/usr/bin/env bash
# Builds a ukernel workload's entry file, unchanged, as a native Linux executable: the host
# backend (sdk/zig/host/) stands in for the kernel's call table with Linux system calls. This is
# "the same server code built as a host Linux process" that bench/net compares the guest with.
#
#   bash bench/net/build-host.sh [-O ReleaseSafe|ReleaseFast] [ENTRY.zig [OUTPUT]]
#
# Defaults: examples/http-server/src/main.zig -> build/host/http-server, ReleaseSafe (what
# `ukernel build` uses; pass -O ReleaseFast to compare with `ukernel run --release`). Paths are
# relative to the checkout, or absolute. The output is a static executable (no libc), so a
# minimal Linux guest can run it too; the http server listens on 0.0.0.0:PORT for `OUTPUT PORT`.
# The target is x86_64-linux-none with the baseline x86-64 CPU, as a guest build gets
# (x86_64-freestanding-none), so neither side has vector extensions the other lacks. Covered
# calls and their Linux equivalents: sdk/zig/host/calls.zig.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/toolchain.env"
zig="$root/.toolchain/zig-$ZIG_VERSION/ziglang/zig"
if [ ! -x "$zig" ]; then
    echo "build-host: zig $ZIG_VERSION not found at $zig; run scripts/bootstrap.sh" >&2
    exit 2
fi
optimize=ReleaseSafe
if [ "${1:-}" = "-O" ]; then
    optimize=${2:?build-host: -O needs ReleaseSafe or ReleaseFast}
    shift 2
fi
case "$optimize" in
ReleaseSafe | ReleaseFast) ;;
*)
    echo "build-host: -O $optimize: use ReleaseSafe or ReleaseFast" >&2
    exit 2
    ;;
esac
entry=${1:-examples/http-server/src/main.zig}
output=${2:-build/host/$(basename "$(dirname "$(dirname "$entry")")")}
cd "$root"
if [ ! -f "$entry" ]; then
    echo "build-host: no entry file $entry (paths are relative to $root)" >&2
    exit 2
fi
mkdir -p "$(dirname "$output")"
cache="$root/.zig-cache/host"
echo "build-host: $entry -> $output ($optimize, zig $ZIG_VERSION) …" >&2
start=$SECONDS
"$zig" build-exe -target x86_64-linux-none -O "$optimize" -static \
    --dep ukernel --dep workload -Mroot=sdk/zig/host/start.zig \
    --dep ukernel "-Mworkload=$entry" \
    -Mukernel=sdk/zig/ukernel.zig \
    "-femit-bin=$output" --cache-dir "$cache" --global-cache-dir "$cache" --name host
echo "build-host: done in $((SECONDS - start)) s: $output" >&2
