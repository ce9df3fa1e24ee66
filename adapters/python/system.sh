# System libraries of the Python runtime (`ukernel env add --system NAME`, docs/environments.md).
# Sourced by adapters/python/build.sh, whose helpers (die, run, check, $bin, $build, $jobs and
# the timeouts) it uses; part of the runtime's cache key. The catalog (names, their Debian source
# packages, the modules each enables) is scripts/toolchain.env's SYSTEM_* lines.
#
# Each library is built static and position-independent with the pinned Zig (stock musl headers;
# the runtime's musl is what the final link, adapters/python/link.sh, resolves it against) into
# one prefix, $build/system/{include,lib}, which the cross CPython's configure is pointed at.

# system_names LIST: LIST (comma- or space-separated catalog names) checked, sorted, deduplicated,
# space-separated on stdout. An unknown name stops the build, listing the catalog.
system_names() {
    local name known=" $SYSTEM_CATALOG " names=() list=()
    IFS=', ' read -r -a list <<< "$1"
    for name in ${list[@]+"${list[@]}"}; do
        case $known in *" $name "*) names+=("$name") ;;
            *) die "'$name' is not a system library ukernel can build (the catalog: $SYSTEM_CATALOG)" ;;
        esac
    done
    [ ${#names[@]} = 0 ] || printf '%s\n' "${names[@]}" | LC_ALL=C sort -u | paste -sd' ' -
}

# system_var NAME FIELD: SYSTEM_<NAME>_<FIELD> of the catalog.
system_var() {
    local var
    var=SYSTEM_$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')_$2
    printf '%s' "${!var}"
}

# system_pin NAME FIELD: the source package's pin (<PACKAGE>_DEBIAN_VERSION, _ORIG_TARBALL, ...).
system_pin() {
    local var
    var=$(system_var "$1" PACKAGE | tr '[:lower:].-' '[:upper:]__')_$2
    printf '%s' "${!var}"
}

# OpenSSL 3.5: libssl.a and libcrypto.a. Providers built in (no-module), no engines, no DSO, no
# async (it needs ucontext), no apps, tests or docs; the assembly is kept (AES-NI, SHA, bignum:
# it runs in ring 3, natively). Left out, for size, is what CPython's ssl and hashlib never reach
# and TLS 1.2/1.3 do not negotiate by default: QUIC, DTLS, SCTP/SRTP, CMS/CMP/TS/CT, SRP, the
# national and legacy ciphers (ARIA, Camellia, SEED, SM2/3/4, GOST, IDEA, RC2/4/5, Blowfish,
# CAST, MDC2, Whirlpool), binary-field curves and the post-quantum signatures (ML-DSA, SLH-DSA;
# ML-KEM stays: X25519MLKEM768 is a default TLS 1.3 group). OPENSSLDIR is /etc/ssl, so the default verify file is
# /etc/ssl/cert.pem, where the image has the CA bundle. Paths and the build date embedded in
# libcrypto are fixed (--prefix=/, SOURCE_DATE_EPOCH), so the bytes do not name the build tree.
build_system_openssl() {
    run "$timeout_small_s" 'fetching openssl' "$root/scripts/fetch-source.sh" openssl
    run "$timeout_small_s" 'copying openssl' cp -a "$root/.toolchain/src/$OPENSSL_DIR" \
        "$build/openssl"
    (
        cd "$build/openssl"
        # The tools by name on PATH: OpenSSL keeps its compiler command in libcrypto (`openssl
        # version -f`), which must not name this temporary build directory.
        export PATH="$bin:$PATH" CC=zig-cc AR=zig-ar RANLIB=zig-ranlib
        run "$timeout_configure_s" 'OpenSSL Configure' perl ./Configure linux-x86_64 no-shared \
            no-module no-dso no-engine no-async no-afalgeng no-tests no-docs no-legacy no-comp \
            no-ui-console no-apps no-quic no-dtls no-sctp no-srtp no-cms no-cmp no-ts no-ct \
            no-srp no-aria no-camellia no-seed no-sm2 no-sm3 no-sm4 no-gost no-idea no-rc2 \
            no-rc4 no-rc5 no-bf no-cast no-mdc2 no-whirlpool no-ec2m no-ml-dsa no-slh-dsa \
            --prefix=/ --libdir=lib --openssldir=/etc/ssl
        run "$timeout_make_s" 'OpenSSL make' make -j"$jobs" build_libs
        run "$timeout_small_s" 'OpenSSL install' make DESTDIR="$build/system" install_dev
    )
    [ -f "$build/system/lib/libssl.a" ] && [ -f "$build/system/lib/libcrypto.a" ] \
        || die "the OpenSSL build left no libssl.a and libcrypto.a in $build/system/lib"
    system_ca_bundle
}

# The CA bundle: certifi's cacert.pem (the wheel pinned in toolchain.env, fetched once into
# .toolchain/download with pip, checked by sha256 on every build) as etc/ssl/cert.pem.
system_ca_bundle() {
    local dl=$root/.toolchain/download
    local wheel=$dl/$CERTIFI_WHEEL
    if [ ! -f "$wheel" ]; then
        command -v python3 >/dev/null || die "python3 with pip is needed to fetch $CERTIFI_WHEEL"
        run "$timeout_small_s" "fetching $CERTIFI_WHEEL (pip download)" python3 -m pip download \
            --quiet --no-deps --only-binary=:all: --dest "$dl" "certifi==$CERTIFI_VERSION"
    fi
    echo "$CERTIFI_WHEEL_SHA256  $wheel" | sha256sum --check --quiet >/dev/null 2>&1 \
        || { rm -f "$wheel"; die "sha256 mismatch for $CERTIFI_WHEEL (download removed: run again)"; }
    mkdir -p "$out/etc/ssl"
    check "cannot take certifi/cacert.pem out of $CERTIFI_WHEEL" "$host_python" -I -c '
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("certifi/cacert.pem"))
' "$wheel" "$out/etc/ssl/cert.pem"
    grep -q 'BEGIN CERTIFICATE' "$out/etc/ssl/cert.pem" || die "$CERTIFI_WHEEL's cacert.pem has no certificate"
}

# SQLite 3.46: libsqlite3.a from Debian's orig tarball (the full source tree: configure, then
# the amalgamation, which needs tclsh). Load extensions are left out (no dynamic loading); the
# optional features are those Debian's libsqlite3 has that a Python program reaches: full-text
# search 3/4/5, R*Tree, column metadata, the dbstat table (the math and JSON functions are on by
# default). No WAL journal: its wal-index is a shared writable file mapping, which the POSIX
# layer does not serve, so `PRAGMA journal_mode=WAL` keeps the rollback journal (and says so)
# rather than failing every later write with "disk I/O error".
sqlite_features=(-DSQLITE_ENABLE_FTS3 -DSQLITE_ENABLE_FTS3_PARENTHESIS -DSQLITE_ENABLE_FTS4
    -DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_COLUMN_METADATA
    -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_OMIT_WAL)
build_system_sqlite() {
    local src=$root/.toolchain/src/$SQLITE3_DIR
    command -v tclsh >/dev/null || die "tclsh is needed to build SQLite (apt-get install tcl)"
    run "$timeout_small_s" 'fetching sqlite3' "$root/scripts/fetch-source.sh" sqlite3
    mkdir -p "$build/sqlite"
    (
        cd "$build/sqlite"
        export CC="$bin/zig-cc" AR="$bin/zig-ar" RANLIB="$bin/zig-ranlib" CFLAGS='-O2 -fPIC'
        run "$timeout_configure_s" 'SQLite configure' "$src/configure" --disable-tcl \
            --disable-shared --enable-static --disable-readline --disable-load-extension \
            --prefix="$build/system"
        run "$timeout_make_s" 'SQLite make' make -j"$jobs" libsqlite3.la \
            CFLAGS="-O2 -fPIC -DSQLITE_OS_UNIX=1 ${sqlite_features[*]}"
    )
    mkdir -p "$build/system/lib" "$build/system/include"
    cp "$build/sqlite/.libs/libsqlite3.a" "$build/system/lib/"
    cp "$build/sqlite/sqlite3.h" "$build/sqlite/sqlite3ext.h" "$build/system/include/"
}

# build_system NAME...: each library into $build/system, its modules added to those the cross
# build must have built in (required_modules).
build_system() {
    local name
    for name in "$@"; do
        "build_system_$name"
        # shellcheck disable=SC2207 # module names have no spaces or globs
        required_modules+=($(system_var "$name" MODULES))
    done
}
