#!/usr/bin/env bash
# Builds the POSIX layer with the pinned Zig (scripts/toolchain.env):
#   adapters/posix/build.sh          zig-out/lib/libukposix.a and zig-out/include/ukposix.h
#   adapters/posix/build.sh test     its host unit tests (extra arguments go to zig build)
#   adapters/posix/build.sh tidy     zig fmt --check over it
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/scripts/toolchain.env"
zig="$root/.toolchain/zig-$ZIG_VERSION/ziglang/zig"
if [ ! -x "$zig" ] || [ "$("$zig" version)" != "$ZIG_VERSION" ]; then
    echo "posix/build.sh: zig $ZIG_VERSION not found at $zig; run scripts/bootstrap.sh" >&2
    exit 2
fi
cd "$here"
exec "$zig" build "$@"
