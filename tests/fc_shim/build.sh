#!/usr/bin/env bash
# Builds the Firecracker "Linux 64-bit boot" shim: a PVH ELF for QEMU microvm that loads the
# raw kernel ELF from guest-physical 0x4000000 and enters it the way Firecracker does.
# Usage: tests/fc_shim/build.sh [output.elf]   (default: tests/fc_shim/zig-out/fc_shim.elf)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
zig="${ZIG:-$repo/.toolchain/zig-0.15.2/ziglang/zig}"
out="${1:-$here/zig-out/fc_shim.elf}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

# Skip the build when the output is newer than every input.
if [[ -f "$out" && "$out" -nt "$here/shim.S" && "$out" -nt "$here/linker.ld" && "$out" -nt "$here/build.sh" ]]; then
    echo "$out"
    exit 0
fi

tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
"$zig" cc -target x86_64-freestanding-none -nostdlib -static -fno-pie -no-pie \
    -Wl,-T,"$here/linker.ld" -Wl,-e,pvh_entry -Wl,--build-id=none -g0 -Wl,-z,norelro \
    "$here/shim.S" -o "$tmp"
# The image must carry exactly one PT_NOTE (Firecracker honours only the last one).
if command -v readelf >/dev/null; then
    notes="$(readelf -lW "$tmp" | grep -c '^ *NOTE ' || true)"
    [[ "$notes" == 1 ]] || { echo "fc_shim: expected 1 PT_NOTE, found $notes" >&2; exit 1; }
fi
mv -f "$tmp" "$out"
echo "$out"
