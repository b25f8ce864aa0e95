#!/bin/sh
# Builds the prebuilt addon that the npm package ships, so that installing
# tsbpf needs no compiler, no -dev packages and no install script:
# prebuilds/linux-<arch>/tsbpf.node, the addon (native/) linked statically with
# libbpf, libelf and zlib (and libstdc++'s demangler), needing only glibc ≥ 2.28
# (what Node 20 itself needs; native/glibc_compat.c keeps it so).
#
# Debian's own static libraries cannot go into a shared object (libbpf.a and
# libelf.a are built as position-dependent code for executables: the link
# fails with "recompile with -fPIC"), so the three are built here with -fPIC
# from Debian's source packages (apt-get source, the versions of the installed
# libbpf-dev, libelf-dev and zlib1g-dev, Debian's patches applied), once, into
# build-static/ (kept across runs; delete it to start over).
#
#   sh scripts/prebuild.sh [--force] [--arch x64|arm64]... [--all]
#   sh scripts/prebuild.sh --check     (before publishing: every prebuild there, none older than native/)
#
# Default: the machine's own architecture. arm64 is cross-built with Debian's
# cross compiler (gcc-aarch64-linux-gnu, installed when missing); --all builds
# x64 and arm64. Incremental: a prebuild newer than native/ and this script is
# kept (--force rebuilds it, e.g. after an upgrade of libbpf-dev, whose new
# sources are then fetched and built). Run it through npm (npm run build:prebuild) or bootstrap, which put
# npm's node-gyp on PATH; otherwise it runs node-gyp through npx.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf 'prebuild: %s\n' "$*" >&2; }
die() {
    log "$*"
    exit 1
}
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        die "need root to run: $*"
    fi
}

ALL_ARCHES="x64 arm64"
# What the prebuild may need of the system at run time: glibc, nothing else.
GLIBC_MAX=2.28

force=0 check=0 arches=""
while [ $# -gt 0 ]; do
    case "$1" in
    --force) force=1 ;;
    --check) check=1 ;;
    --all) arches=$ALL_ARCHES ;;
    --arch)
        [ $# -ge 2 ] || die "--arch needs x64 or arm64"
        arches="$arches $2"
        shift
        ;;
    --arch=*) arches="$arches ${1#--arch=}" ;;
    *) die "unknown argument: $1 (usage: sh scripts/prebuild.sh [--force] [--arch x64|arm64]... [--all] | --check)" ;;
    esac
    shift
done
[ -n "$arches" ] || arches=$(node -p process.arch)

# The files the addon is built from: a prebuild older than any of them is stale.
inputs="native binding.gyp scripts/prebuild.sh"
stale() { [ ! -f "$1" ] || [ -n "$(find $inputs -newer "$1" 2>/dev/null | head -n 1)" ]; }

if [ "$check" -eq 1 ]; then
    bad=0
    for a in $ALL_ARCHES; do
        f=prebuilds/linux-$a/tsbpf.node
        if [ ! -f "$f" ]; then
            log "$f is missing: run npm run build:prebuild -- --all"
            bad=1
        elif stale "$f"; then
            log "$f is older than native/: run npm run build:prebuild -- --all"
            bad=1
        fi
    done
    exit $bad
fi

# ---------------------------------------------------------------------------
# Debian's sources of the three libraries (shared by every architecture).

src=build-static/src
# "source-package=version" of the package a -dev package is built from.
source_of() {
    dpkg-query -W -f='${source:Package}=${source:Version}' "$1" 2>/dev/null ||
        die "$1 is not installed (sh scripts/bootstrap.sh installs it)"
}

fetch_sources() {
    zlib=$(source_of zlib1g-dev)
    libelf=$(source_of libelf-dev)
    libbpf=$(source_of libbpf-dev)
    want="$zlib $libelf $libbpf"
    if [ -f "$src/versions" ] && [ "$(cat "$src/versions")" = "$want" ]; then return; fi
    command -v dpkg-source >/dev/null 2>&1 || as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
    log "fetching Debian's sources: $want"
    rm -rf "$src"
    mkdir -p "$src/apt/lists/partial" "$src/apt/cache/archives/partial"
    # A private apt configuration for the deb-src entries, so that the
    # machine's own apt sources and state are left alone.
    . /etc/os-release
    case "${ID:-}" in
    debian)
        keyring=/usr/share/keyrings/debian-archive-keyring.gpg
        entries="http://deb.debian.org/debian|$VERSION_CODENAME $VERSION_CODENAME-updates
http://deb.debian.org/debian-security|$VERSION_CODENAME-security"
        ;;
    ubuntu)
        keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg
        entries="http://archive.ubuntu.com/ubuntu|$VERSION_CODENAME $VERSION_CODENAME-updates $VERSION_CODENAME-security"
        ;;
    *) die "building the prebuild needs Debian or Ubuntu (apt-get source); this is ${ID:-an unknown system}" ;;
    esac
    printf '%s\n' "$entries" | while IFS='|' read -r uri suites; do
        printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n\n' "$uri" "$suites" "$keyring"
    done >"$src/apt/deb-src.sources"
    apt_opts="-o Dir::Etc::SourceList=$root/$src/apt/deb-src.sources -o Dir::Etc::SourceParts=/nonexistent
        -o Dir::State::Lists=$root/$src/apt/lists -o Dir::Cache=$root/$src/apt/cache -o Debug::NoLocking=1
        -o APT::Sandbox::User=root"
    # shellcheck disable=SC2086
    apt-get $apt_opts -qq update >"$src/apt.log" 2>&1 || {
        cat "$src/apt.log" >&2
        die "apt-get update of Debian's source index failed"
    }
    for pv in $want; do
        # The installed version, or (when the archive has moved on) the current one:
        # the build uses the headers of what it builds, never the system's.
        # shellcheck disable=SC2086
        (cd "$src" && apt-get $apt_opts source --download-only "$pv" >>apt.log 2>&1) ||
            (cd "$src" && apt-get $apt_opts source --download-only "${pv%%=*}" >>apt.log 2>&1) || {
            cat "$src/apt.log" >&2
            die "apt-get source ${pv%%=*} failed"
        }
    done
    for pv in $want; do
        pkg=${pv%%=*}
        dsc=$(ls "$src/${pkg}"_*.dsc | head -n 1)
        dpkg-source --no-check -x "$dsc" "$src/$pkg" >>"$src/apt.log" 2>&1 || {
            cat "$src/apt.log" >&2
            die "dpkg-source -x $dsc failed"
        }
    done
    rm -rf "$src/apt/lists" "$src/apt/cache" "$src"/*.dsc "$src"/*.tar.* "$src"/*.asc
    printf '%s' "$want" >"$src/versions"
}

# ---------------------------------------------------------------------------
# One architecture: the libraries with -fPIC into build-static/linux-ARCH,
# then the addon linked against them.

node_gyp() {
    if command -v node-gyp >/dev/null 2>&1; then node-gyp "$@"; else npx --yes node-gyp "$@"; fi
}

build_arch() {
    arch=$1
    case "$arch" in
    x64) triplet=x86_64-linux-gnu ld_so=ld-linux-x86-64.so.2 ;;
    arm64) triplet=aarch64-linux-gnu ld_so=ld-linux-aarch64.so.1 ;;
    *) die "no prebuild for $arch (only: $ALL_ARCHES)" ;;
    esac
    out=prebuilds/linux-$arch/tsbpf.node
    if [ "$force" -eq 0 ] && ! stale "$out"; then return; fi

    if [ "$arch" != "$(node -p process.arch)" ] && ! command -v "$triplet-gcc" >/dev/null 2>&1; then
        log "installing Debian's cross compiler for $arch"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "gcc-$triplet" "g++-$triplet" >/dev/null
    fi
    command -v "$triplet-gcc" >/dev/null 2>&1 || die "$triplet-gcc not found (apt-get install gcc g++)"
    fetch_sources

    deps=$root/build-static/linux-$arch
    blog=$deps/build.log
    mkdir -p "$deps"
    if [ ! -f "$deps/versions" ] || [ "$(cat "$deps/versions")" != "$(cat "$src/versions")" ]; then
        log "building zlib, libelf and libbpf for linux-$arch with -fPIC (once; log: build-static/linux-$arch/build.log)"
        rm -rf "$deps/lib" "$deps/include" "$deps/work"
        mkdir -p "$deps/lib" "$deps/include" "$deps/work"
        : >"$blog"
        cflags="-O2 -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2"
        {
            # zlib: its configure takes the compiler and ar from CHOST.
            cp -R "$src/zlib" "$deps/work/zlib" &&
                (cd "$deps/work/zlib" && CHOST=$triplet CFLAGS="$cflags" ./configure --static --prefix="$deps" &&
                    make -j2 libz.a && cp libz.a "$deps/lib/" && cp zlib.h zconf.h "$deps/include/") &&
                # libelf, from elfutils (configure, then only lib/ and libelf/).
                mkdir -p "$deps/work/elfutils" &&
                (cd "$deps/work/elfutils" && "$root/$src/elfutils/configure" --host="$triplet" \
                    --disable-debuginfod --disable-libdebuginfod --disable-nls --without-bzlib --without-lzma \
                    --without-zstd CFLAGS="$cflags" CPPFLAGS="-I$deps/include" LDFLAGS="-L$deps/lib" &&
                    make -j2 -C lib && make -j2 -C libelf libelf.a && cp libelf/libelf.a "$deps/lib/") &&
                cp "$src/elfutils/libelf/libelf.h" "$src/elfutils/libelf/gelf.h" "$src/elfutils/libelf/nlist.h" \
                    "$deps/include/" &&
                # libbpf: its static library and headers (include/bpf). (Its
                # Makefile writes libbpf.pc into OBJDIR without creating it.)
                mkdir -p "$deps/work/libbpf" &&
                make -j2 -C "$src/libbpf/src" BUILD_STATIC_ONLY=1 OBJDIR="$deps/work/libbpf" DESTDIR="$deps" \
                    PREFIX= LIBDIR=/lib INCLUDEDIR=/include CC="$triplet-gcc" AR="$triplet-ar" \
                    CFLAGS="$cflags" EXTRA_CFLAGS="-I$deps/include" install
        } >>"$blog" 2>&1 || {
            tail -n 40 "$blog" >&2
            die "building the static libraries for linux-$arch failed (the whole log: $blog)"
        }
        rm -rf "$deps/work" "$deps/lib/pkgconfig"
        cp "$src/versions" "$deps/versions"
    fi

    log "building prebuilds/linux-$arch/tsbpf.node"
    rm -rf "$deps/addon"
    mkdir -p "$deps/addon"
    cp native/*.c native/*.h native/binding.gyp "$deps/addon/"
    (cd "$deps/addon" && CC="$triplet-gcc" CXX="$triplet-g++" node_gyp rebuild --arch="$arch" \
        -- -Dtsbpf_static_deps="$deps") >"$deps/addon.log" 2>&1 || {
        tail -n 40 "$deps/addon.log" >&2
        die "node-gyp failed for linux-$arch (the whole log: $deps/addon.log)"
    }
    built=$deps/addon/build/Release/tsbpf.node
    "$triplet-strip" --strip-unneeded "$built"

    # What it needs at run time: libc and the dynamic loader, of glibc ≤ GLIBC_MAX.
    needed=$(LC_ALL=C readelf -d "$built" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    for lib in $needed; do
        case "$lib" in
        libc.so.6 | "$ld_so") ;;
        *) die "the prebuild for linux-$arch needs $lib (only libc may be needed): $needed" ;;
        esac
    done
    newest=$(LC_ALL=C objdump -T "$built" | sed -n 's/.*(GLIBC_\([0-9.]*\)).*/\1/p' | sort -t. -k1,1n -k2,2n | tail -n 1)
    if [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_MAX" | sort -t. -k1,1n -k2,2n | tail -n 1)" != "$GLIBC_MAX" ]; then
        LC_ALL=C objdump -T "$built" | grep "GLIBC_$newest" >&2 || true
        die "the prebuild for linux-$arch needs glibc $newest (at most $GLIBC_MAX allowed): see native/glibc_compat.c"
    fi
    # A cross-built one cannot be loaded by this Node: when qemu-user is
    # there (apt-get install qemu-user), check at least that the target's
    # glibc (Debian's cross sysroot) loads it, N-API and libuv stubbed.
    qemu=qemu-${triplet%%-*}
    if [ "$arch" != "$(node -p process.arch)" ] && command -v "$qemu" >/dev/null 2>&1; then
        smoke=$deps/smoke
        mkdir -p "$smoke"
        LC_ALL=C "$triplet-objdump" -T "$built" |
            awk '/\*UND\*/ && $NF ~ /^(napi_|node_api_|uv_)/ { print "void " $NF "(void) {}" }' >"$smoke/napi.c"
        printf '%s\n' '#include <dlfcn.h>' '#include <stdio.h>' \
            'int main(int c, char **v) { void *h = dlopen(v[1], RTLD_NOW); if (!h) puts(dlerror()); return !h; }' \
            >"$smoke/load.c"
        "$triplet-gcc" -shared -fPIC -o "$smoke/libnapi.so" "$smoke/napi.c"
        "$triplet-gcc" -o "$smoke/load" "$smoke/load.c" -ldl
        "$qemu" -L "/usr/$triplet" -E "LD_PRELOAD=$smoke/libnapi.so" "$smoke/load" "$built" ||
            die "the prebuild for linux-$arch does not load under $qemu"
        log "linux-$arch: loads under $qemu with the target's glibc"
    fi
    mkdir -p "prebuilds/linux-$arch"
    cp "$built" "$out.tmp"
    mv "$out.tmp" "$out"
    log "prebuilds/linux-$arch/tsbpf.node: $(wc -c <"$out") bytes, needs $needed(glibc ≥ $newest), built with $(cat "$src/versions")"
}

for a in $arches; do build_arch "$a"; done
