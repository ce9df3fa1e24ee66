#!/usr/bin/env bash
# Host smoke test of the Python adapter runtime (adapters/python/build.sh): links the runtime's
# libpython3.13.a + libz.a + the rebuilt musl with a stand-in __uk_syscall that does the raw
# `syscall` (tests/host_shim.c) into a static PIE, runs it on Linux with `-I`, and checks that
#   - it imports asyncio, json, zlib, _decimal, unicodedata, runs an asyncio task, round-trips
#     zlib, and DefaultSelector is the poll selector (no epoll);
#   - every module issue 10 needs is built in (sys.builtin_module_names);
#   - the binary holds exactly 1 `syscall` instruction, inside __uk_syscall (the shim): musl
#     and CPython reach the kernel only through the POSIX layer's entry point.
# Usage: adapters/python/tests/host-smoke.sh [RUNTIME_DIR]   (default: build.sh's output, which
# builds the runtime if it is not cached). Prints `host-smoke: ok ...`; exit 1 on a failed check.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../.." && pwd)
# shellcheck source=../../../scripts/toolchain.env
. "$root/scripts/toolchain.env"
fail() { printf 'host-smoke: FAIL: %s\n' "$*" >&2; exit 1; }

runtime=${1:-}
if [ -z "$runtime" ]; then
    runtime=$(timeout 3600 bash "$root/adapters/python/build.sh" | tail -n 1)
fi
[ -f "$runtime/manifest.json" ] || fail "$runtime is not a built runtime (no manifest.json)"
zig=$root/.toolchain/zig-$ZIG_VERSION/ziglang/zig
[ -x "$zig" ] || fail "Zig $ZIG_VERSION is not at $zig (run scripts/bootstrap.sh)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/uk-py-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export ZIG_LIBC=$runtime/musl/libc.txt
export ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$(dirname "$runtime")/.zig-cache}
export ZIG_LOCAL_CACHE_DIR=$ZIG_GLOBAL_CACHE_DIR
cc=("$zig" cc -target x86_64-linux-musl)
mkdir -p "$tmp/bin" "$tmp/lib/python3.13/lib-dynload"
timeout 300 "${cc[@]}" -O2 -fPIE -c "$here/host_shim.c" -o "$tmp/host_shim.o"
timeout 300 "${cc[@]}" -O2 -fPIE -I"$runtime/include/python3.13" -c "$here/smoke_main.c" \
    -o "$tmp/main.o"
timeout 600 "${cc[@]}" -static -pie -o "$tmp/bin/python3.13" "$tmp/main.o" "$tmp/host_shim.o" \
    "$runtime/lib/libpython3.13.a" "$runtime/lib/libz.a" \
    || fail "linking the smoke binary failed"
readelf -h "$tmp/bin/python3.13" | grep DYN >/dev/null || fail "the smoke binary is not a PIE"
if readelf -l "$tmp/bin/python3.13" | grep INTERP >/dev/null; then
    fail "the smoke binary has a PT_INTERP (not static)"
fi

# syscall instructions: exactly one, in the shim.
sites=$(objdump -d --no-show-raw-insn "$tmp/bin/python3.13" \
    | awk '/^[0-9a-f]+ <.*>:$/ {fn = $2} $2 == "syscall" || $NF == "syscall" {print fn}')
count=$(printf '%s' "$sites" | grep -c . || true)
[ "$count" = 1 ] || fail "expected exactly 1 syscall instruction, found $count in: $sites"
[ "$sites" = '<__uk_syscall>:' ] || fail "the syscall instruction is in $sites, not __uk_syscall"

# The stdlib next to the binary (getpath finds lib/python3.13/os.py; -I ignores PYTHONHOME).
for entry in "$runtime"/Lib/*; do ln -s "$entry" "$tmp/lib/python3.13/"; done
ln -s "$runtime/lib/_sysconfigdata__linux_.py" "$tmp/lib/python3.13/"
required="_asyncio _socket select _json _datetime math _struct _random _sha2 _md5 _blake2 _sha1
    _sha3 binascii zlib array _bisect _heapq _contextvars _pickle _csv unicodedata _decimal"
output=$(cd "$tmp" && UK_REQUIRED="$required" timeout 60 "$tmp/bin/python3.13" -I -c '
import asyncio, json, zlib, _decimal, unicodedata, selectors, sys, os, hashlib
required = os.environ.get("UK_REQUIRED", "").split()
missing = [m for m in required if m not in sys.builtin_module_names]
assert not missing, f"not built in: {missing}"
async def main():
    await asyncio.sleep(0.001)
    return json.dumps({"ok": True})
assert asyncio.run(main()) == "{\"ok\": true}"
data = b"ukernel" * 100
assert zlib.decompress(zlib.compress(data)) == data
assert selectors.DefaultSelector is selectors.PollSelector, selectors.DefaultSelector
assert unicodedata.name("\u00e9") == "LATIN SMALL LETTER E WITH ACUTE"
assert str(_decimal.Decimal(1) / 7)[:8] == "0.142857"
assert hashlib.sha256(b"").hexdigest().startswith("e3b0c442")
print(sys.version.split()[0], len(sys.builtin_module_names), "built-in modules")
' 2>&1) || fail "the smoke binary failed: $output"
size=$(stat -c %s "$tmp/bin/python3.13")
strip -o "$tmp/python3.13.stripped" "$tmp/bin/python3.13"
stripped=$(stat -c %s "$tmp/python3.13.stripped")
printf 'host-smoke: ok: Python %s; 1 syscall (in __uk_syscall); binary %d B, stripped %d B\n' \
    "$output" "$size" "$stripped"
