#!/usr/bin/env bash
# Builds the Python adapter RUNTIME (the expensive, cached part of the Python adapter) and
# prints its cache directory as the last line on stdout.
#
# Usage: adapters/python/build.sh [--system LIST] [--cache-root DIR] [--jobs N] [--keep-build]
#   --system LIST     system libraries to build in, comma-separated names of the catalog in
#                     scripts/toolchain.env (openssl, sqlite; adapters/python/system.sh)
#   --cache-root DIR  where runtimes live (default ${XDG_CACHE_HOME:-$HOME/.cache}/ukernel/adapters)
#   --jobs N          parallel make jobs (default: nproc)
#   --keep-build      keep the build tree (sources, objects, build.log) after a failure
#
# What it builds, from Debian trixie source packages pinned in scripts/toolchain.env (fetched
# and sha256-verified by scripts/fetch-source.sh), all with the pinned Zig's `zig cc`:
#   1. zlib (static, -fPIC);
#   2. a host CPython 3.13.5: static PIE against Zig's stock musl, the same config.site and
#      flags as the cross build; it is the cross build's --with-build-python and the bench's
#      host reference (host/bin/python3.13, stdlib with .pyc);
#   3. musl 1.2.5 from Debian's orig tarball with adapters/posix/musl/ overlaid (every system
#      call goes to __uk_syscall; libc.a is checked to hold no `syscall` instruction);
#   4. the system libraries asked for (--system; adapters/python/system.sh), if any;
#   5. the cross CPython (--host=x86_64-pc-linux-musl, every stdlib C module built in) into
#      lib/libpython3.13.a (libmpdec, expat and HACL SHA-2 merged in); the modules issue 10
#      needs, and those of the system libraries, are checked to be built in.
# Cache directory: <root>/python-3.13.5-<key16>, key = sha256 over the tarballs' sha256s (the
# system libraries' too), the build options, this script, system.sh (with --system),
# config.site, the musl overlay and the Zig version. Built in a
# temporary directory beside it and renamed into place, so it is complete or absent; a
# complete one is reused at once (offline). Layout and manifest.json: adapters/python/README.md.
# Progress: `progress: N/M label` lines on stderr. Errors: a message on stderr (with the tail
# of the build log for a failed step) and exit status 2.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/toolchain.env
. "$root/scripts/toolchain.env"

die() { printf 'python-runtime: error: %s\n' "$*" >&2; exit 2; }

python_version=3.13.5
steps_total=6
# Fixed, so that __DATE__ and OpenSSL's build date do not depend on when the runtime was built.
export SOURCE_DATE_EPOCH=1749600000
# Bounds (seconds) on each kind of sub-build; generous for a busy 2-core machine.
timeout_configure_s=900
timeout_make_s=3600
timeout_small_s=600

cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/ukernel/adapters
jobs=$(nproc 2>/dev/null || echo 2)
keep_build=0
system_arg=''
while [ $# -gt 0 ]; do
    case $1 in
        --cache-root)
            [ $# -ge 2 ] || die "--cache-root needs a directory"
            cache_root=$2
            shift 2 ;;
        --system) [ $# -ge 2 ] || die "--system needs a list of names"; system_arg=$2; shift 2 ;;
        --jobs) [ $# -ge 2 ] || die "--jobs needs a number"; jobs=$2; shift 2 ;;
        --keep-build) keep_build=1; shift ;;
        -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (usage: build.sh [--system LIST] [--cache-root DIR]" \
            "[--jobs N] [--keep-build])" ;;
    esac
done
case $jobs in ''|*[!0-9]*|0) die "--jobs must be a positive integer, got '$jobs'" ;; esac
case $cache_root in /*) ;; *) cache_root=$PWD/$cache_root ;; esac
# shellcheck source=system.sh
. "$here/system.sh"
system=$(system_names "$system_arg")

# The flags every C compile of CPython gets (host and cross alike). -O3 matters beyond speed:
# zig cc turns UBSan (and its runtime) on at -O0 or without -O.
py_opt='-DNDEBUG -O3 -Wall'
py_cflags='-fPIE'
py_ldflags='-static -pie'
py_extra_cflags='-Wno-error=date-time'
py_configure_common=(--disable-shared --without-ensurepip --disable-test-modules
    --without-mimalloc --without-system-libmpdec --without-system-expat)
options_text="opt=$py_opt cflags=$py_cflags ldflags=$py_ldflags extra=$py_extra_cflags"
options_text+=" configure=${py_configure_common[*]} module_buildtype=static"
options_text+=" cross=--host=x86_64-pc-linux-musl,--build=x86_64-pc-linux-gnu"
options_text+=" musl_cflags=-fPIC zlib_cflags=-O2,-fPIC target=x86_64-linux-musl"
[ -z "$system" ] || options_text+=" system=${system// /,}"

# The key: everything that decides the bytes of the runtime.
overlay=$root/adapters/posix/musl
[ -d "$overlay" ] || die "the musl overlay $overlay is missing"
key=$({
    printf 'python3.13 %s\nmusl %s\nzlib %s\nzig %s\noptions %s\n' "$PYTHON3_13_ORIG_SHA256" \
        "$MUSL_ORIG_SHA256" "$ZLIB_ORIG_SHA256" "$ZIG_VERSION" "$options_text"
    for lib in $system; do printf 'system %s %s\n' "$lib" "$(system_pin "$lib" ORIG_SHA256)"; done
    case " $system " in *" openssl "*) printf 'certifi %s\n' "$CERTIFI_WHEEL_SHA256" ;; esac
    # system.sh only counts when it builds something: editing it leaves the plain runtime be.
    (cd "$here" && sha256sum build.sh config.site ${system:+system.sh})
    (cd "$overlay" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum)
} | sha256sum | cut -c1-16)
name=python-$python_version-$key
cache=$cache_root/$name
if [ -f "$cache/manifest.json" ]; then
    echo "$cache"
    exit 0
fi

zig=$root/.toolchain/zig-$ZIG_VERSION/ziglang/zig
[ -x "$zig" ] || die "Zig $ZIG_VERSION is not at $zig (run scripts/bootstrap.sh)"
[ -z "$system" ] || steps_total=7
for tool in make tar sha256sum objdump nm timeout; do
    command -v "$tool" >/dev/null || die "'$tool' is needed to build the Python runtime"
done

mkdir -p "$cache_root" || die "cannot create the cache root $cache_root"
# One builder per runtime: a concurrent run of the same key waits for it (bounded), then finds
# the finished directory.
if command -v flock >/dev/null; then
    exec 9> "$cache_root/.$name.lock"
    if ! flock -n 9; then
        printf 'python-runtime: waiting for another build of %s (lock %s)\n' "$name" \
            "$cache_root/.$name.lock" >&2
        flock -w "$timeout_make_s" 9 || die "another build of $name held its lock for over \
$timeout_make_s s (remove $cache_root/.$name.lock if no build is running)"
    fi
    if [ -f "$cache/manifest.json" ]; then
        echo "$cache"
        exit 0
    fi
fi
work=$(mktemp -d "$cache_root/.$name.build.XXXXXX") \
    || die "cannot create a build directory in $cache_root"
out=$work/out build=$work/build bin=$work/bin log=$work/build.log
mkdir -p "$out" "$build" "$bin"
: > "$log"
finished=0
failed_log=$cache_root/$name.failed.log
cleanup() {
    if [ "$finished" = 0 ]; then
        cp "$log" "$failed_log" 2>/dev/null && \
            printf 'python-runtime: the build log is at %s\n' "$failed_log" >&2
    fi
    if [ "$finished" = 1 ] || [ "$keep_build" = 0 ]; then
        rm -rf "$work"
    else
        printf 'python-runtime: the build tree is kept at %s\n' "$work" >&2
    fi
}
trap cleanup EXIT

step=0
step_label=''
step_start=0
timings=''
begin_step() {
    step_finish
    step=$((step + 1)) step_label=$1 step_start=$(date +%s)
    printf 'progress: %d/%d %s\n' "$step" "$steps_total" "$step_label" >&2
    printf '\n===== step %d/%d: %s (%s)\n' "$step" "$steps_total" "$step_label" \
        "$(date -u +%FT%TZ)" >> "$log"
}
step_finish() {
    [ "$step" -gt 0 ] || return 0
    local seconds=$(($(date +%s) - step_start))
    timings+="${timings:+, }\"$step_label\": $seconds"
    printf '===== %s took %d s\n' "$step_label" "$seconds" >> "$log"
}
# run SECONDS WHAT COMMAND...: the command's output goes to the log; on failure or timeout the
# log's tail is shown and the build stops.
run() {
    local seconds=$1 what=$2 status=0
    shift 2
    printf '+ %s\n' "$*" >> "$log"
    timeout --kill-after=10 "$seconds" "$@" >> "$log" 2>&1 || status=$?
    [ "$status" = 0 ] && return 0
    {
        printf 'python-runtime: error: %s failed ' "$what"
        if [ "$status" = 124 ] || [ "$status" = 137 ]; then
            printf '(timed out after %d s)' "$seconds"
        else
            printf '(exit status %d)' "$status"
        fi
        printf ' in step %d/%d, %s. Last lines of the build log:\n' "$step" "$steps_total" \
            "$step_label"
        tail -n 40 "$log" | sed 's/^/  | /'
    } >&2
    exit 2
}
check() { # check CONDITION-MESSAGE COMMAND...: a post-condition of a step.
    local message=$1
    shift
    timeout --kill-after=10 "$timeout_small_s" "$@" >> "$log" 2>&1 || die "$message"
}

# A private Zig cache under the cache root: the build does not depend on ~/.cache/zig.
export ZIG_GLOBAL_CACHE_DIR=$cache_root/.zig-cache ZIG_LOCAL_CACHE_DIR=$cache_root/.zig-cache
# Tool wrappers. zig-cc: Zig's stock musl. uk-cc: the rebuilt musl (step 4) through ZIG_LIBC;
# while UK_CC_CONFIGURE_STUB names an object, links also get it, so configure's link tests
# resolve __uk_syscall (the POSIX layer that really defines it is linked by link.sh).
# A compile names its sources relative to a fixed /ukernel-build instead of this temporary
# directory (__FILE__ in asserts and error messages): the runtime's bytes are the same wherever
# and by whomever it is built.
prefix_map="-ffile-prefix-map=$work=/ukernel-build"
cat > "$bin/zig-cc" <<EOF
#!/bin/sh
for arg in "\$@"; do
    case \$arg in -c|-S) exec "$zig" cc -target x86_64-linux-musl $prefix_map "\$@" ;; esac
done
exec "$zig" cc -target x86_64-linux-musl "\$@"
EOF
cat > "$bin/uk-cc" <<EOF
#!/bin/sh
ZIG_LIBC="$work/musl-libc.txt"
export ZIG_LIBC
for arg in "\$@"; do
    case \$arg in -c|-S) exec "$zig" cc -target x86_64-linux-musl $prefix_map "\$@" ;; esac
done
if [ -n "\${UK_CC_CONFIGURE_STUB:-}" ]; then
    for arg in "\$@"; do
        case \$arg in -E|-M|-MM) exec "$zig" cc -target x86_64-linux-musl "\$@" ;; esac
    done
    exec "$zig" cc -target x86_64-linux-musl "\$@" "\$UK_CC_CONFIGURE_STUB"
fi
exec "$zig" cc -target x86_64-linux-musl "\$@"
EOF
printf '#!/bin/sh\nexec "%s" ar "$@"\n' "$zig" > "$bin/zig-ar"
printf '#!/bin/sh\nexec "%s" ranlib "$@"\n' "$zig" > "$bin/zig-ranlib"
chmod +x "$bin/zig-cc" "$bin/uk-cc" "$bin/zig-ar" "$bin/zig-ranlib"
# zig_libc_file MUSL_DIR: a ZIG_LIBC file (Zig's libc installation format) for a musl install.
zig_libc_file() {
    printf '%s\n' "include_dir=$1/include" "sys_include_dir=$1/include" "crt_dir=$1/lib" \
        msvc_lib_dir= kernel32_lib_dir= gcc_dir=
}
zig_libc_file "$out/musl" > "$work/musl-libc.txt"

# ---------------------------------------------------------------------------------------------
begin_step 'fetch and verify sources'
for package in python3.13 musl zlib; do
    run "$timeout_small_s" "fetching $package" "$root/scripts/fetch-source.sh" "$package"
done
src_python=$root/.toolchain/src/$PYTHON3_13_DIR
src_musl=$root/.toolchain/src/$MUSL_DIR
src_zlib=$root/.toolchain/src/$ZLIB_DIR
# Private copies: the builds must not write into the shared, verified trees.
run "$timeout_small_s" 'copying sources' cp -a "$src_python" "$build/python-src"
run "$timeout_small_s" 'copying sources' cp -a "$src_musl" "$build/musl"
run "$timeout_small_s" 'copying sources' cp -a "$src_zlib" "$build/zlib"

# ---------------------------------------------------------------------------------------------
begin_step 'build zlib'
(
    cd "$build/zlib"
    export CC="$bin/zig-cc" AR="$bin/zig-ar" RANLIB="$bin/zig-ranlib" CFLAGS='-O2 -fPIC'
    run "$timeout_configure_s" 'zlib configure' ./configure --static --prefix="$out"
    run "$timeout_make_s" 'zlib make' make -j"$jobs" libz.a
)
mkdir -p "$out/lib" "$out/include"
cp "$build/zlib/libz.a" "$out/lib/libz.a"
cp "$build/zlib/zlib.h" "$build/zlib/zconf.h" "$out/include/"

# ---------------------------------------------------------------------------------------------
# configure_python DIR EXTRA-ARGS...: CPython's configure with the shared flags and config.site.
configure_python() {
    local dir=$1
    shift
    mkdir -p "$dir"
    (
        cd "$dir"
        export CONFIG_SITE="$here/config.site" MODULE_BUILDTYPE=static
        export AR="$bin/zig-ar" RANLIB="$bin/zig-ranlib" READELF=true PKG_CONFIG=false
        export OPT="$py_opt" CFLAGS="$py_cflags" LDFLAGS="$py_ldflags"
        export ZLIB_CFLAGS="-I$out/include" ZLIB_LIBS="$out/lib/libz.a"
        run "$timeout_configure_s" "CPython configure ($dir)" \
            "$build/python-src/configure" "${py_configure_common[@]}" "$@"
    )
}
# require_modules MAKEFILE CONFIG_C: the modules issue 10 lists must be built in.
required_modules=(_asyncio _socket select _json _datetime math _struct _random _sha2 _md5
    _blake2 _sha1 _sha3 binascii zlib array _bisect _heapq _contextvars _pickle _csv
    unicodedata _decimal fcntl _posixsubprocess)
require_modules() {
    local makefile=$1 config_c=$2 module state missing=()
    for module in "${required_modules[@]}"; do
        state=$(sed -n "s/^MODULE_$(printf '%s' "$module" | tr '[:lower:]' '[:upper:]')_STATE=//p" \
            "$makefile")
        if [ "$state" != yes ] || ! grep -q "{\"$module\", PyInit_$module}" "$config_c"; then
            missing+=("$module(${state:-?})")
        fi
    done
    [ ${#missing[@]} = 0 ] || die "modules not built in by $makefile: ${missing[*]}"
}

begin_step 'build host CPython (static, stock musl)'
host_dest=$work/host-dest
export CC="$bin/zig-cc"
configure_python "$build/host" --prefix="$cache/host"
(
    cd "$build/host"
    export CONFIG_SITE="$here/config.site"
    run "$timeout_make_s" 'host CPython make' make -j"$jobs" EXTRA_CFLAGS="$py_extra_cflags"
    run "$timeout_make_s" 'host CPython make install' \
        make -j"$jobs" EXTRA_CFLAGS="$py_extra_cflags" DESTDIR="$host_dest" install
)
require_modules "$build/host/Makefile" "$build/host/Modules/config.c"
mv "$host_dest$cache/host" "$out/host"
# The host build's own static library (57 MB) serves nothing here: nobody links against it.
rm -f "$out/host/lib/python3.13/config-3.13/libpython3.13.a"
host_python=$out/host/bin/python3.13
check "the host CPython does not run" "$host_python" -I -c \
    'import sys, zlib, asyncio, _decimal; assert sys.version_info[:3] == (3, 13, 5)'

# ---------------------------------------------------------------------------------------------
begin_step 'build musl (Debian orig + adapters/posix/musl overlay)'
while read -r path; do
    case $path in ''|'#'*) continue ;; esac
    [ -f "$build/musl/$path" ] \
        || die "musl overlay: $path (adapters/posix/musl/DELETE) is not in $MUSL_DIR"
    rm "$build/musl/$path"
done < "$overlay/DELETE"
(cd "$overlay" && find . -type f ! -name DELETE) | while read -r path; do
    mkdir -p "$(dirname "$build/musl/$path")"
    cp "$overlay/$path" "$build/musl/$path"
done
(
    cd "$build/musl"
    export CC="$bin/zig-cc" CFLAGS='-fPIC'
    run "$timeout_configure_s" 'musl configure' ./configure --prefix="$out/musl" \
        --disable-shared --disable-wrapper
    run "$timeout_make_s" 'musl make' make -j"$jobs" AR="$bin/zig-ar" RANLIB="$bin/zig-ranlib"
    run "$timeout_make_s" 'musl make install' make install AR="$bin/zig-ar" \
        RANLIB="$bin/zig-ranlib"
)
# No raw system call may be left in libc.a or the start files.
syscalls=$(timeout "$timeout_small_s" objdump -d --no-show-raw-insn "$out/musl/lib/libc.a" \
    "$out/musl/lib"/*.o \
    | grep -cE '\ssyscall\s*$' || true)
[ "$syscalls" = 0 ] || die "the rebuilt musl still holds $syscalls syscall instructions"
timeout "$timeout_small_s" nm "$out/musl/lib/libc.a" 2>/dev/null \
    | grep ' U __uk_syscall$' >/dev/null \
    || die "the rebuilt musl libc.a does not call __uk_syscall (overlay not applied?)"

# ---------------------------------------------------------------------------------------------
cross_args=()
if [ -n "$system" ]; then
    begin_step "build system libraries ($system)"
    # shellcheck disable=SC2086 # names from system_names: no spaces, no globs
    build_system $system
    case " $system " in *" openssl "*)
        cross_args+=(--with-openssl="$build/system" --with-openssl-rpath=no) ;;
    esac
    export UK_SYSTEM_LIBRARIES=$system LIBSQLITE3_CFLAGS="-I$build/system/include"
    export LIBSQLITE3_LIBS="-L$build/system/lib -lsqlite3"
fi

# ---------------------------------------------------------------------------------------------
begin_step 'cross-build CPython into libpython3.13.a'
cross=$build/cross
# configure's link tests need __uk_syscall defined; this stub is only for them.
printf 'long __uk_syscall(long n, long a, long b, long c, long d, long e, long f)\n{ %s }\n' \
    '(void)n; (void)a; (void)b; (void)c; (void)d; (void)e; (void)f; return -38;' \
    > "$build/uk_syscall_stub.c"
run "$timeout_small_s" 'the configure stub' "$bin/uk-cc" -fPIE -O2 -c \
    "$build/uk_syscall_stub.c" -o "$build/uk_syscall_stub.o"
export CC="$bin/uk-cc"
export UK_CC_CONFIGURE_STUB="$build/uk_syscall_stub.o"
configure_python "$cross" --prefix=/ \
    --host=x86_64-pc-linux-musl --build=x86_64-pc-linux-gnu --with-build-python="$host_python" \
    ${cross_args[@]+"${cross_args[@]}"}
unset UK_CC_CONFIGURE_STUB
require_modules "$cross/Makefile" "$cross/Modules/config.c"
# getpath.c gets the source directory as a string (-DVPATH, used only to run from a build tree):
# a fixed one, so that bin/python does not name this temporary directory.
sed -i "s|-DVPATH='\"\$(VPATH)\"'|-DVPATH='\"/ukernel-build/build/python-src\"'|" "$cross/Makefile"
grep -q "DVPATH='\"/ukernel-build/" "$cross/Makefile" || die "cannot fix getpath's VPATH in $cross/Makefile"
(
    cd "$cross"
    export CONFIG_SITE="$here/config.site"
    run "$timeout_make_s" 'cross CPython make' make -j"$jobs" EXTRA_CFLAGS="$py_extra_cflags" \
        libpython3.13.a pybuilddir.txt
    run "$timeout_small_s" 'cross CPython headers' make EXTRA_CFLAGS="$py_extra_cflags" \
        DESTDIR="$work/cross-dest" inclinstall
)

# ---------------------------------------------------------------------------------------------
begin_step 'assemble the runtime'
# One archive for the final link: libpython plus the bundled libraries its modules use.
bundled=()
for lib in Modules/_decimal/libmpdec/libmpdec.a Modules/expat/libexpat.a \
    Modules/_hacl/libHacl_Hash_SHA2.a; do
    [ -f "$cross/$lib" ] && bundled+=("$cross/$lib")
done
{
    echo "CREATE $out/lib/libpython3.13.a"
    echo "ADDLIB $cross/libpython3.13.a"
    for lib in "${bundled[@]}"; do echo "ADDLIB $lib"; done
    echo SAVE
    echo END
} > "$build/merge.mri"
run "$timeout_small_s" 'merging libpython3.13.a' sh -c "\"$bin/zig-ar\" -M < \"$build/merge.mri\""
missing_inits=()
defined=$(timeout "$timeout_small_s" nm --defined-only "$out/lib/libpython3.13.a" 2>/dev/null \
    | awk '$2 == "T" {print $3}')
for module in "${required_modules[@]}"; do
    printf '%s\n' "$defined" | grep -x "PyInit_$module" >/dev/null || missing_inits+=("$module")
done
[ ${#missing_inits[@]} = 0 ] || die "libpython3.13.a lacks PyInit_ for: ${missing_inits[*]}"
if [ -n "$system" ]; then
    mkdir -p "$out/lib/system"
    cp "$build/system/lib"/*.a "$out/lib/system/"
fi
mv "$work/cross-dest/include" "$out/include/python3.13.tmp"
mv "$out/include/python3.13.tmp/python3.13" "$out/include/python3.13"
rmdir "$out/include/python3.13.tmp"
sysconfig_dir=$cross/$(cat "$cross/pybuilddir.txt")
# The image's sysconfig data, without this build's directories (the temporary one and the
# checkout's, e.g. CONFIG_SITE): fixed names in their place, for the same bytes anywhere.
sed -e "s|$work|/ukernel-build|g" -e "s|$root|/ukernel|g" \
    "$sysconfig_dir/_sysconfigdata__linux_.py" > "$out/lib/_sysconfigdata__linux_.py"
zig_libc_file "$cache/musl" > "$out/musl/libc.txt"
# The stdlib sources, for the image's zip (tests are left out here already).
mkdir -p "$out/Lib"
run "$timeout_small_s" 'copying Lib' tar -C "$build/python-src/Lib" --exclude=./test \
    --exclude='__pycache__' -cf "$build/Lib.tar" .
run "$timeout_small_s" 'copying Lib' tar -C "$out/Lib" -xf "$build/Lib.tar"
step_finish
step=0
modules=$(grep -oE '\{"[A-Za-z0-9_]+",' "$cross/Modules/config.c" | sed 's/^{"//; s/",$//' \
    | LC_ALL=C sort)
system_lines=''
for lib in $system; do
    system_lines+="$lib $(system_var "$lib" PACKAGE) $(system_pin "$lib" DEBIAN_VERSION)"
    system_lines+=" $(system_pin "$lib" ORIG_TARBALL) $(system_pin "$lib" ORIG_SHA256)"
    system_lines+=" $(system_var "$lib" MODULES | tr ' ' ,)"$'\n'
done
UK_SYSTEM=$system_lines UK_CERTIFI="$CERTIFI_VERSION $CERTIFI_WHEEL $CERTIFI_WHEEL_SHA256" \
UK_MODULES=$modules UK_TIMINGS="{$timings}" UK_OPTIONS=$options_text UK_KEY=$key \
UK_SOURCES="python3.13 $PYTHON3_13_DEBIAN_VERSION $PYTHON3_13_ORIG_TARBALL $PYTHON3_13_ORIG_SHA256
musl $MUSL_DEBIAN_VERSION $MUSL_ORIG_TARBALL $MUSL_ORIG_SHA256
zlib $ZLIB_DEBIAN_VERSION $ZLIB_ORIG_TARBALL $ZLIB_ORIG_SHA256" \
UK_ZIG=$ZIG_VERSION UK_VERSION=$python_version UK_LIBS="${bundled[*]##*/}" \
    timeout "$timeout_small_s" "$host_python" -I -c '
import json, os, sys
env = os.environ
sources = [dict(zip(("name", "debian_version", "tarball", "sha256"), line.split()))
           for line in env["UK_SOURCES"].splitlines()]
system = [dict(zip(("name", "package", "debian_version", "tarball", "sha256"), line.split()[:5]),
               modules=line.split()[5].split(","))
          for line in env["UK_SYSTEM"].splitlines() if line]
archives = ["lib/libpython3.13.a", "lib/libz.a"]
system_dir = os.path.join(os.path.dirname(sys.argv[1]), "lib", "system")
archives += sorted("lib/system/" + name for name in os.listdir(system_dir)) if system else []
files = []
if any(lib["name"] == "openssl" for lib in system):
    version, wheel, sha256 = env["UK_CERTIFI"].split()
    sources.append({"name": "certifi", "debian_version": version, "tarball": wheel,
                    "sha256": sha256})
    files.append({"from": "etc/ssl/cert.pem", "path": "etc/ssl/cert.pem"})
manifest = {
    "name": "python",
    "version": env["UK_VERSION"],
    "key": env["UK_KEY"],
    "zig_version": env["UK_ZIG"],
    "sources": sources,
    "options": {"flags": env["UK_OPTIONS"], "thread_creation": False, "dynamic_loading": False,
                "mimalloc": False, "selector": "poll"},
    "modules": env["UK_MODULES"].split(),
    "system": system,
    "image_files": files,
    "link": {
        "archives": archives,
        "merged_into_libpython": env["UK_LIBS"].split(),
        "libc": "musl/lib/libc.a", "zig_libc_file": "musl/libc.txt",
        "undefined": ["__uk_syscall"],
    },
    "build_seconds": json.loads(env["UK_TIMINGS"]),
}
with open(sys.argv[1], "w") as f:
    json.dump(manifest, f, indent=2)
    f.write("\n")
' "$out/manifest.json.tmp" >> "$log" 2>&1 || die "writing manifest.json failed"
mv "$out/manifest.json.tmp" "$out/manifest.json"
cp "$log" "$out/build.log"

# Atomic publish: rename(2) of a complete directory; a concurrent builder may have won.
if ! mv -T "$out" "$cache" 2>/dev/null; then
    [ -f "$cache/manifest.json" ] || die "cannot rename $out to $cache"
fi
finished=1
rm -f "$cache_root/$name.failed.log"
printf 'python-runtime: built in %d s: %s\n' "$SECONDS" "$timings" >&2
echo "$cache"
