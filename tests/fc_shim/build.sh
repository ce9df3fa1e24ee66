#!/usr/bin/env bash
# Builds the Firecracker boot-state shims: PVH ELFs for QEMU microvm that enter the kernel the
# way Firecracker does, with Firecracker's interrupt wiring (see shim.S):
#   fc_shim.elf      loads the raw kernel ELF from guest-physical 0x4000000 and enters it through
#                    the Linux 64-bit boot path;
#   fc_shim_pvh.elf  enters the kernel (loaded by QEMU) through its PVH note;
#   fc_shim_ioapic.elf    as fc_shim.elf, and routes the PIT's IOAPIC pins to vector 40;
#   fc_shim_ioapic17.elf  the same to vector 17 (#AC's, an exception with an error code).
# Usage: tests/fc_shim/build.sh [output.elf]   (default: tests/fc_shim/zig-out/fc_shim.elf; the
# variants are written beside it)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
zig="${ZIG:-$repo/.toolchain/zig-0.15.2/ziglang/zig}"
out="${1:-$here/zig-out/fc_shim.elf}"
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"
out_pvh="$(dirname "$out")/fc_shim_pvh.elf"

tmp=""
trap 'if [[ -n "$tmp" ]]; then rm -f "$tmp"; fi' EXIT
build() { # build OUTPUT [CPP FLAGS...]
    local target="$1"
    shift
    # Skip the build when the output is newer than every input.
    if [[ -f "$target" && "$target" -nt "$here/shim.S" && "$target" -nt "$here/linker.ld" && "$target" -nt "$here/build.sh" ]]; then
        return 0
    fi
    tmp="$target.tmp.$$"
    "$zig" cc -target x86_64-freestanding-none -nostdlib -static -fno-pie -no-pie \
        -Wl,-T,"$here/linker.ld" -Wl,-e,pvh_entry -Wl,--build-id=none -g0 -Wl,-z,norelro \
        "$@" "$here/shim.S" -o "$tmp"
    # The image must carry exactly one PT_NOTE (Firecracker honours only the last one).
    if command -v readelf >/dev/null; then
        notes="$(readelf -lW "$tmp" | grep -c '^ *NOTE ' || true)"
        [[ "$notes" == 1 ]] || { echo "fc_shim: expected 1 PT_NOTE, found $notes" >&2; exit 1; }
    fi
    mv -f "$tmp" "$target"
}

build "$out"
build "$out_pvh" -DSHIM_PVH
build "$(dirname "$out")/fc_shim_ioapic.elf" -DSHIM_IOAPIC_VECTOR=40
build "$(dirname "$out")/fc_shim_ioapic17.elf" -DSHIM_IOAPIC_VECTOR=17
echo "$out"
