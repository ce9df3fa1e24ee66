#!/usr/bin/env bash
# The Python adapter's final link (cheap; `ukernel build` runs it for every Python image):
# compiles main.c and _ukernel.c against the runtime's Python and musl headers and links
#   main.o _ukernel.o libukposix.a libpython3.13.a libz.a [lib/system/*.a] musl libc.a
# into one static PIE, bin/python, whose entry is the POSIX layer's _start (no crt files: the
# kernel's loader relocates the program, adapters/posix/src/start.zig). Then it checks the
# result: an ELF with the ukernel ABI note, the thread-pointer note when it has a TLS segment,
# and no `syscall` instruction (every system call goes through __uk_syscall to the layer).
#
# Usage: adapters/python/link.sh RUNTIME_DIR OUTPUT [POSIX_LIB]
#   RUNTIME_DIR  the runtime adapters/python/build.sh made (manifest.json, include/python3.13,
#                lib/libpython3.13.a, lib/libz.a, musl/lib/libc.a, musl/libc.txt)
#   OUTPUT       the binary to write (written beside it, then renamed: complete or absent)
#   POSIX_LIB    libukposix.a; default: built now by adapters/posix/build.sh (Zig caches it)
# Compiler: the pinned Zig (scripts/toolchain.env), `zig cc -target x86_64-linux-musl`, the
# runtime's musl through ZIG_LIBC (python-3.13-addendum.md section 5), -fPIE -O2.
# Errors: one line on stderr saying what and how to fix it, exit status 2.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/toolchain.env
. "$root/scripts/toolchain.env"

die() { printf 'python-link: error: %s\n' "$*" >&2; exit 2; }

[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: link.sh RUNTIME_DIR OUTPUT [POSIX_LIB]"
runtime=$1 output=$2 posix_lib=${3:-}
[ -f "$runtime/manifest.json" ] || die "$runtime is not a Python runtime (no manifest.json); build it with adapters/python/build.sh"
for part in include/python3.13/Python.h lib/libpython3.13.a lib/libz.a musl/lib/libc.a musl/libc.txt; do
    [ -f "$runtime/$part" ] || die "the runtime $runtime lacks $part; rebuild it (remove the directory, run adapters/python/build.sh)"
done
zig=$root/.toolchain/zig-$ZIG_VERSION/ziglang/zig
[ -x "$zig" ] || die "Zig $ZIG_VERSION is not at $zig (run scripts/bootstrap.sh)"
for tool in objdump readelf; do
    command -v "$tool" >/dev/null || die "'$tool' (binutils) is needed to check the linked adapter"
done

if [ -z "$posix_lib" ]; then
    bash "$root/adapters/posix/build.sh" >&2 || die "building the POSIX layer (adapters/posix/build.sh) failed"
    posix_lib=$root/adapters/posix/zig-out/lib/libukposix.a
fi
[ -f "$posix_lib" ] || die "the POSIX layer library $posix_lib does not exist"
posix_include=$(cd "$(dirname "$posix_lib")/../include" 2>/dev/null && pwd || true)
[ -n "$posix_include" ] || posix_include=$root/adapters/posix/include

# The runtime's Zig cache (build.sh's): compiler_rt is built once for both.
export ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$(dirname "$runtime")/.zig-cache}
export ZIG_LOCAL_CACHE_DIR=$ZIG_GLOBAL_CACHE_DIR
export ZIG_LIBC=$runtime/musl/libc.txt

output_dir=$(dirname "$output")
mkdir -p "$output_dir" || die "cannot create $output_dir"
work=$(mktemp -d "${TMPDIR:-/tmp}/ukernel-python-link.XXXXXX") || die "cannot create a temporary directory"
trap '[ -n "${UK_LINK_KEEP:-}" ] || rm -rf "$work"' EXIT

# The checkout's and the runtime's paths are mapped to fixed names in what the compiles embed
# (__FILE__ of asserts in CPython's inline headers): bin/python is the same in any clone and cache.
cflags=(-target x86_64-linux-musl -fPIE -O2 -std=c11 -Wall -Wextra -Werror
    -ffile-prefix-map="$runtime"=/ukernel-runtime -ffile-prefix-map="$root"=/ukernel
    -I"$runtime/include/python3.13" -I"$root/sdk/c" -I"$posix_include")
for source in main _ukernel; do
    "$zig" cc "${cflags[@]}" -c "$here/$source.c" -o "$work/$source.o" 2> "$work/cc.log" || {
        cat "$work/cc.log" >&2
        die "compiling adapters/python/$source.c failed (above)"
    }
done

# The system libraries built into this runtime (`ukernel env add --system`, system.sh).
system_libs=()
for lib in "$runtime"/lib/system/*.a; do
    [ -f "$lib" ] && system_libs+=("$lib")
done

# No crt (the layer's _start is the entry), the loader relocates (RELRO would be mapped before
# the program could write it: -z norelro), symbols stripped, sections nothing reaches from
# _start dropped (--gc-sections: 181 KB less of the 7.4 MB, bench/python/README.md).
# PT_GNU_STACK asks for an 8 MiB first-task stack, the kernel's largest (contracts.json
# workload_stack_bytes_max), explicitly rather than through Zig's default (16 MiB, which the
# kernel cuts to 8): CPython's C recursion limit (Py_C_RECURSION_LIMIT, 10000 nested C calls)
# and its parser's assume a Linux-sized stack.
"$zig" cc -target x86_64-linux-musl -nostdlib -static -pie -Wl,-e,_start -Wl,-z,norelro -s \
    -Wl,--gc-sections -Wl,-z,stack-size=8388608 \
    "$work/main.o" "$work/_ukernel.o" \
    -Wl,--start-group "$posix_lib" "$runtime/lib/libpython3.13.a" "$runtime/lib/libz.a" \
    ${system_libs[@]+"${system_libs[@]}"} "$runtime/musl/lib/libc.a" -Wl,--end-group \
    -o "$work/python" 2> "$work/ld.log" || {
    tail -n 40 "$work/ld.log" >&2
    die "linking bin/python failed (above)"
}

# Checks on what the kernel will load.
header=$(readelf -h "$work/python") || die "the linked adapter is not an ELF file"
grep -q 'Type:.*DYN' <<< "$header" || die "the linked adapter is not a position-independent executable (ET_DYN)"
if readelf -l "$work/python" | grep -q 'INTERP'; then die "the linked adapter asks for a dynamic loader (PT_INTERP)"; fi
# The ukernel notes (docs/abi.md "Entry"): type 1 the ABI version, type 2 "sets its own thread
# pointer" (needed with a TLS segment). readelf names types 1 and 2 NT_VERSION and NT_ARCH.
notes=$(readelf -n "$work/python" | grep -E '^\s*ukernel\s' || true)
grep -qE '\s0x0+8\s+(NT_VERSION|Unknown note type: \(0x0+1\))' <<< "$notes" \
    || die "the linked adapter has no ukernel ABI version note (type 1): libukposix.a must carry the SDK's abi_note"
if readelf -lW "$work/python" | grep -qE '^\s*TLS\s'; then
    grep -qE '\s0x0+0\s+(NT_ARCH|Unknown note type: \(0x0+2\))' <<< "$notes" \
        || die "the linked adapter has a TLS segment but no ukernel thread-pointer note (type 2); the kernel would refuse it"
fi
# The stack request (above) made it into PT_GNU_STACK's p_memsz.
readelf -lW "$work/python" | grep -qE '^\s*GNU_STACK\s.*\s0x0*800000\s+RW' \
    || die "the linked adapter's PT_GNU_STACK does not ask for an 8 MiB stack (-z stack-size)"
disassembly=$(objdump -d --no-show-raw-insn "$work/python") || die "objdump cannot read the linked adapter"
syscalls=$(grep -cE '\ssyscall\s*$' <<< "$disassembly" || true)
if [ "$syscalls" != 0 ]; then
    where=$(grep -E '^[0-9a-f]+ <|\ssyscall\s*$' <<< "$disassembly" | grep -B1 -E 'syscall\s*$' \
        | grep -oE '<[^>]+>' | sort -u | head -5 | tr '\n' ' ')
    die "the linked adapter holds $syscalls syscall instructions (in: ${where:-?}); every system call must go to the POSIX layer"
fi

mv -f "$work/python" "$output.tmp.$$" && mv -f "$output.tmp.$$" "$output" \
    || die "cannot write $output"
printf 'python-link: %s (%d bytes)\n' "$output" "$(stat -c %s "$output")" >&2
