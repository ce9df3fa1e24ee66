#!/usr/bin/env bash
# Idempotent toolchain set-up: Node dependencies (npm ci), the pinned Zig (PyPI wheel
# `ziglang`, verified by sha256), and QEMU (Debian `qemu-system-x86`). Quick when done.
# Nothing is downloaded from anywhere but those registries.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=toolchain.env
. "$root/scripts/toolchain.env"
say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        die "need root to run: $* (install sudo or run as root)"; fi
}

apt_install() {
    # Only refresh the package lists when a package is actually missing.
    if [ ! -f /tmp/.ukernel-apt-updated ]; then as_root apt-get update -qq && touch /tmp/.ukernel-apt-updated; fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# 1. Node.js >= NODE_MAJOR_MIN and npm.
command -v node >/dev/null || die "Node.js >= $NODE_MAJOR_MIN is required (not found on PATH)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge "$NODE_MAJOR_MIN" ] || die "Node.js >= $NODE_MAJOR_MIN is required (found $(node --version))"

# 2. QEMU from Debian.
if ! command -v qemu-system-x86_64 >/dev/null; then
    say "installing $QEMU_DEBIAN_PACKAGE (Debian)"
    apt_install "$QEMU_DEBIAN_PACKAGE"
fi

# tclsh: SQLite's amalgamation is generated with it (`ukernel env add --system sqlite`,
# adapters/python/system.sh).
if ! command -v tclsh >/dev/null; then
    say "installing tcl (Debian)"
    apt_install tcl
fi

# 3. Zig from the PyPI wheel, unpacked into .toolchain/ (no pip install into any environment).
zig_dir="$root/.toolchain/zig-$ZIG_VERSION"
zig_bin="$zig_dir/ziglang/zig"
if [ ! -x "$zig_bin" ] || [ "$("$zig_bin" version 2>/dev/null)" != "$ZIG_VERSION" ]; then
    command -v python3 >/dev/null || apt_install python3
    python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
    dl="$root/.toolchain/download"
    mkdir -p "$dl"
    if [ ! -f "$dl/$ZIG_WHEEL" ]; then
        say "downloading ziglang==$ZIG_VERSION from PyPI"
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$dl" "ziglang==$ZIG_VERSION"
    fi
    echo "$ZIG_WHEEL_SHA256  $dl/$ZIG_WHEEL" | sha256sum --check --quiet \
        || { rm -f "$dl/$ZIG_WHEEL"; die "sha256 mismatch for $ZIG_WHEEL (download removed; run again)"; }
    rm -rf "$zig_dir.tmp" && mkdir -p "$zig_dir.tmp"
    python3 -m zipfile -e "$dl/$ZIG_WHEEL" "$zig_dir.tmp"
    chmod +x "$zig_dir.tmp/ziglang/zig"
    rm -rf "$zig_dir" && mv "$zig_dir.tmp" "$zig_dir"
    [ "$("$zig_bin" version)" = "$ZIG_VERSION" ] || die "unpacked zig is not $ZIG_VERSION"
    say "zig $ZIG_VERSION ready at $zig_bin"
fi

# 4. Node dependencies, only when package-lock.json changed since the last install.
stamp="$root/node_modules/.ukernel-lock-sha256"
lock_sha=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sha" ] || [ ! -f "$root/cli/dist/cli.js" ]; then
    say "npm ci"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$lock_sha" > "$stamp"
fi
