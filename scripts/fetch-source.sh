#!/usr/bin/env bash
# Usage: fetch-source.sh PACKAGE   (e.g. lwip, musl, zlib, python3.13)
# Makes a pinned Debian source package's upstream tree available under
# .toolchain/src/<DIR> and prints that path. The pins are in scripts/toolchain.env
# (<NAME>_DEBIAN_VERSION, _ORIG_TARBALL, _ORIG_SHA256, _DIR). The tarball is fetched once with
# `apt-get source --download-only` from Debian's DEBIAN_SOURCE_SUITE (a private apt state under
# .toolchain/apt: the system's apt configuration is not touched, and root is not needed), and
# its sha256 is checked on every call, so a build never compiles anything else. Offline once
# fetched. Exit 2 with a message on any failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=toolchain.env
. "$root/scripts/toolchain.env"
die() { printf 'fetch-source: error: %s\n' "$*" >&2; exit 2; }
[ $# -eq 1 ] || die "usage: fetch-source.sh PACKAGE"
package=$1
# The pins' prefix: upper case, '-' and '.' as '_' (python3.13 -> PYTHON3_13_DEBIAN_VERSION).
name=$(printf '%s' "$package" | tr '[:lower:].-' '[:upper:]__')
version_var="${name}_DEBIAN_VERSION" tarball_var="${name}_ORIG_TARBALL"
sha_var="${name}_ORIG_SHA256" dir_var="${name}_DIR"
[ -n "${!version_var:-}" ] || die "no pins for '$package' in scripts/toolchain.env ($version_var)"
version=${!version_var} tarball=${!tarball_var} sha256=${!sha_var} dir=${!dir_var}

downloads="$root/.toolchain/download"
sources="$root/.toolchain/src"
mkdir -p "$downloads" "$sources"

fetch() {
    command -v apt-get >/dev/null || die "apt-get is needed to fetch the $package source package"
    local apt="$root/.toolchain/apt"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$keyring" ] || die "$keyring is missing (install debian-archive-keyring)"
    echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian $DEBIAN_SOURCE_SUITE main" \
        > "$apt/sources.list"
    local options=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Debug::NoLocking=1"
        -o "APT::Sandbox::User=$(id -un)" -qq)
    printf 'fetch-source: downloading %s %s (Debian %s)\n' "$package" "$version" \
        "$DEBIAN_SOURCE_SUITE" >&2
    timeout 300 apt-get "${options[@]}" update >&2 \
        || die "apt-get update for $DEBIAN_SOURCE_SUITE sources failed (network?)"
    local work
    work=$(mktemp -d "$downloads/.fetch.XXXXXX")
    (cd "$work" && timeout 300 apt-get "${options[@]}" source --download-only \
        "$package=$version" >&2) || { rm -rf "$work"; die "apt-get source $package=$version failed"; }
    [ -f "$work/$tarball" ] || { rm -rf "$work"; die "apt-get source gave no $tarball"; }
    mv "$work/$tarball" "$downloads/$tarball"
    rm -rf "$work"
}

[ -f "$downloads/$tarball" ] || fetch
if ! echo "$sha256  $downloads/$tarball" | sha256sum --check --quiet >/dev/null 2>&1; then
    rm -f "$downloads/$tarball"
    die "sha256 mismatch for $tarball (expected $sha256; download removed: run again)"
fi
stamp="$sources/$dir/.ukernel-orig-sha256"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sha256" ]; then
    rm -rf "$sources/$dir" "$sources/.$dir.tmp"
    mkdir -p "$sources/.$dir.tmp"
    tar -xf "$downloads/$tarball" -C "$sources/.$dir.tmp"
    [ -d "$sources/.$dir.tmp/$dir" ] || die "$tarball does not unpack to $dir"
    echo "$sha256" > "$sources/.$dir.tmp/$dir/.ukernel-orig-sha256"
    mv "$sources/.$dir.tmp/$dir" "$sources/$dir"
    rm -rf "$sources/.$dir.tmp"
fi
echo "$sources/$dir"
