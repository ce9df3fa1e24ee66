#!/usr/bin/env bash
# Tests the Python adapter's main.c, _ukernel.c and the `ukernel` package on the host, without
# the kernel: it links them with a stand-in ABI table (tests/host_table.c: the kernel's span,
# channel and log rules, records printed on stderr) against a host CPython 3.13, lays out a
# directory like an image's rootfs (lib/python313.zip with that CPython's stdlib and the ukernel
# package, src/main.py = tests/every_api.py, etc/ukernel/python-entry) and checks:
#   - every_api.py's checks pass (logs, spans sync/async/interleaved, events, clock, channels
#     in asyncio) and the stand-in saw the records, interleaved spans ended by their own ids;
#   - sys.argv, sys.path, sys.executable, the isolated flags, exit(n)'s status, PYTHONHASHSEED;
#   - a missing entry script and a bad PYTHONHASHSEED give one clear line and status 2;
#   - without an ABI table, `import ukernel` works and a call raises ukernel.Unavailable.
#
# Usage: adapters/python/tests/host-test.sh [WORK_DIR]
#   PYTHON_CONFIG  a CPython 3.13's python3.13-config (default: the first of python3.13-config
#                  on PATH and pyenv's 3.13 versions); it must link with CC (a distro's or
#                  pyenv's build; the runtime's own host build lacks libmpdec/expat for linking)
#   CC             the C compiler (default: cc)
# Exit status 0 when every check holds; 1 with the failing check; 77 when no CPython 3.13
# development files are found (the caller reports it as skipped).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
adapter=$(cd "$here/.." && pwd)
root=$(cd "$adapter/../.." && pwd)
config=${PYTHON_CONFIG:-}
if [ -z "$config" ]; then
    for candidate in python3.13-config "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13-config; do
        if "$candidate" --prefix >/dev/null 2>&1; then config=$candidate; break; fi
    done
fi
config=${config:-python3.13-config}
cc=${CC:-cc}

if ! "$config" --prefix >/dev/null 2>&1; then
    echo "host-test: skipped: no $config (CPython 3.13 development files; set PYTHON_CONFIG)" >&2
    exit 77
fi
prefix=$("$config" --prefix)
python=$prefix/bin/python3.13
[ -x "$python" ] || { echo "host-test: skipped: no $python" >&2; exit 77; }
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
[ "$version" = 3.13 ] || { echo "host-test: skipped: $python is $version, not 3.13" >&2; exit 77; }

work=${1:-$(mktemp -d)}
mkdir -p "$work"
image=$work/root
rm -rf "$image"
mkdir -p "$image/lib" "$image/src" "$image/etc/ukernel" "$image/bin"
fail() { echo "host-test: FAILED: $*" >&2; exit 1; }

# shellcheck disable=SC2046
"$cc" -O2 -Wall -Wextra -Werror -DUK_ROOT="\"$image\"" $("$config" --includes) \
    -I"$root/sdk/c" "$adapter/main.c" "$adapter/_ukernel.c" "$here/host_table.c" \
    $("$config" --ldflags --embed) -Wl,-rpath,"$prefix/lib" -o "$work/python" \
    || fail "building the adapter against $prefix"

# The stdlib (sources; zipimport compiles them) and the ukernel package, STORED as in an image.
"$python" -I - "$image/lib/python313.zip" "$adapter/ukernel" <<'PY'
import os, sys, sysconfig, zipfile
skip = {"test", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "__pycache__",
        "lib-dynload"}
stdlib = sysconfig.get_paths()["stdlib"]
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_STORED) as archive:
    for directory, names, files in os.walk(stdlib):
        names[:] = sorted(n for n in names if n not in skip and not n.startswith("config-"))
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                archive.write(path, os.path.relpath(path, stdlib))
    for name in sorted(os.listdir(sys.argv[2])):
        if name.endswith(".py"):
            archive.write(os.path.join(sys.argv[2], name), "ukernel/" + name)
PY
# A CPython with shared extension modules (a distro's, pyenv's) needs its lib-dynload; the
# adapter's own build has them built in. /lib/site-packages is on sys.path when it exists.
dynload=$("$python" -I -c 'import sysconfig; print(sysconfig.get_path("platstdlib"))')/lib-dynload
[ -d "$dynload" ] && ln -s "$dynload" "$image/lib/site-packages"
cp "$work/python" "$image/bin/python"
echo 'src/main.py' > "$image/etc/ukernel/python-entry"

run() { # run STATUS_WANTED ARGS...: bin/python as the kernel starts it (argv[0] "bin/python").
    local want=$1 status=0
    shift
    (cd "$image" && exec -a bin/python timeout 60 "$image/bin/python" "$@") \
        > "$work/stdout" 2> "$work/stderr" || status=$?
    [ "$status" = "$want" ] || {
        cat "$work/stdout" "$work/stderr" >&2
        fail "bin/python $* exited $status, expected $want"
    }
}
has() { grep -qF -- "$2" "$work/$1" || { cat "$work/stdout" "$work/stderr" >&2; fail "$1 lacks: $2"; }; }

# 1. Every API, in asyncio.
cp "$here/every_api.py" "$image/src/main.py"
run 0
has stdout 'every-api: ok'
has stderr 'uk-host: log level=1 message=py-info record job =7 ratio =1.5 text =a b'
has stderr 'uk-host: log level=3 message=py-error record reason =bad'
has stderr 'uk-host: event value=12345 name=py-event'
has stderr 'name=py-decorated-async'
# The interleaved spans: the first one opened (py-shared, id N) ends before the second (N+1).
first=$(sed -n 's/^uk-host: span_begin span=\([0-9]*\) .*name=py-shared$/\1/p' "$work/stderr" | head -1)
[ -n "$first" ] || fail "no py-shared span began"
ends=$(grep -E "^uk-host: span_end span=($first|$((first + 1)))$" "$work/stderr" | tr '\n' ' ')
[ "$ends" = "uk-host: span_end span=$first uk-host: span_end span=$((first + 1)) " ] \
    || fail "interleaved spans ended as: $ends"
has stderr 'uk-host: channel_released'
# main.c's span over CPython's start-up, the first span of the run, ended before the script's.
has stderr 'uk-host: span_begin span=1 parent=0 name=python-init'
[ "$(grep -m2 -E '^uk-host: span_(begin|end)' "$work/stderr" | tail -1)" = 'uk-host: span_end span=1' ] \
    || fail "python-init is not ended before the entry script's first span"
# 17 nested spans: 16 kernel spans, the 17th an event (its duration) and one warn record.
[ "$(grep -c 'name=py-deep$' "$work/stderr")" = 17 ] || fail "py-deep: not 16 spans + 1 event"
grep -qE '^uk-host: event value=[0-9]+ name=py-deep$' "$work/stderr" || fail "no py-deep event"
has stderr 'uk-host: log level=2 message=ukernel.trace: too many spans open at once'
run 3 exit 3
run 1 raise
has stderr 'src/main.py", line'
has stderr 'RuntimeError: every_api: raised on purpose'

# 2. The configuration main.c sets, and exit(n).
cat > "$image/src/main.py" <<'PY'
import os, sys
print("argv", sys.argv[1:], "argv0", sys.argv[0].endswith("/src/main.py"))
print("path", [p.rsplit("/", 2)[-2:] for p in sys.path])
print("exe", sys.executable.endswith("/bin/python"), "utf8", sys.flags.utf8_mode, "isolated", sys.flags.isolated,
      "no_site", sys.flags.no_site, "no_bytecode", sys.dont_write_bytecode,
      "no_user_site", sys.flags.no_user_site)
print("hash", hash("ukernel"))
exit(int(sys.argv[1]))
PY
mkdir -p "$image/lib/python3.13" # [build] python_stdlib_tests' directory: last on sys.path
run 7 7 'two words' 'héllo ☃'
has stdout "argv ['7', 'two words', 'héllo ☃'] argv0 True"
has stdout "path [['lib', 'python313.zip'], ['root', 'src']"
has stdout "['lib', 'python3.13']]"
has stdout 'exe True utf8 1 isolated 1 no_site 1 no_bytecode True no_user_site 1'
PYTHONHASHSEED=0 run 0 0
seeded=$(sed -n 's/^hash //p' "$work/stdout")
want=$(PYTHONHASHSEED=0 "$python" -c 'print(hash("ukernel"))')
[ "$seeded" = "$want" ] || fail "PYTHONHASHSEED=0 gave hash $seeded, CPython gives $want"
PYTHONHASHSEED=banana run 2 0
has stderr 'PYTHONHASHSEED (etc/ukernel.env) must be "random" or an integer'

# 3. An uncaught exception: traceback naming the script's file and line, status 1.
printf 'import sys\n\ndef f():\n    raise KeyError("boom")\n\nf()\n' > "$image/src/main.py"
run 1
has stderr 'src/main.py", line 4, in f'
has stderr "KeyError: 'boom'"

# 4. A missing entry script.
echo 'src/absent.py' > "$image/etc/ukernel/python-entry"
run 2
has stderr "python adapter: the entry script $image/src/absent.py (named by"
[ "$(grep -vc '^uk-host: ' "$work/stderr")" = 1 ] || fail "the missing-entry error is not one line"
echo 'src/main.py' > "$image/etc/ukernel/python-entry"

# 5. No ABI table: import works, calls raise ukernel.Unavailable.
cat > "$image/src/main.py" <<'PY'
import ukernel
print("available", ukernel.available())
try:
    ukernel.log.info("x")
except ukernel.Unavailable as error:
    print("unavailable:", error)
PY
UK_HOST_NO_TABLE=1 run 0
has stdout 'available False'
has stdout 'unavailable: '
# 6. zipimport reads each module from the stdlib zip once (main.c's zipimport_code; CPython
# 3.13 alone reads, inflates and unmarshals it twice: get_filename, then get_code).
cat > "$image/src/main.py" <<'PY'
import zipimport
paths = []
read = zipimport._get_data
def counting(archive, toc_entry):
    paths.append(toc_entry[0])
    return read(archive, toc_entry)
zipimport._get_data = counting
import colorsys
print("colorsys reads", sum(path.endswith("colorsys.py") for path in paths), colorsys.__file__)
PY
run 0
has stdout 'colorsys reads 1 '
has stdout 'python313.zip/colorsys.py'
echo "host-test: ok ($work)"
