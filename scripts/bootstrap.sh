#!/bin/sh
# Installs what tsbpf needs on a fresh Debian/Ubuntu machine, builds the
# native addon and the TypeScript, and mounts tracefs. Idempotent and quick
# when everything is already in place, so `npm start` and `npm test` run it
# every time. Pass --bench to also install the benchmark baselines (bpftrace),
# --test to also install what the tests measure tsbpf against (Debian's bcc
# tools, whose programs the compatibility test replays, and Prometheus, which
# scrapes the exporter in its test; never needed to run
# tsbpf).
set -eu
cd "$(dirname "$0")/.."

log() { printf 'bootstrap: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        log "need root to run: $*"; exit 1
    fi
}

# Debian packages: the compiler, libbpf and what the addon links against.
# kmod: modprobe, for the tests' loop device on kernels where loop is a module.
# linux-libc-dev: the UAPI headers whose #defines tsbpf offers programs (src/compile/uapi_macros.ts).
# dpkg-dev: dpkg-source, which unpacks the Debian sources of libbpf, libelf and
# zlib that scripts/prebuild.sh builds the prebuilt addon from.
pkgs="clang llvm libbpf-dev libelf-dev zlib1g-dev linux-libc-dev pkg-config make g++ python3 clang-format iproute2 systemtap-sdt-dev kmod dpkg-dev"
if [ "${1:-}" = "--bench" ]; then pkgs="$pkgs bpftrace"; fi
if [ "${1:-}" = "--test" ]; then pkgs="$pkgs bpfcc-tools python3-bpfcc prometheus"; fi
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    log "installing Debian packages:$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# npm dependencies (dev tools: typescript, biome, node types). npm ci does not
# build the addon ("gypfile": false): the next step does.
if [ ! -d node_modules/typescript ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error
fi

# The addon: rebuild when any native source is newer than the module.
addon=build/Release/tsbpf.node
if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" 2>/dev/null | head -n 1)" ]; then
    log "building the native addon"
    npm run -s build:native >build-native.log 2>&1 || { cat build-native.log >&2; exit 1; }
fi
# The prebuilt addon that the npm package ships (libbpf, libelf and zlib linked
# in, so that installing tsbpf needs no compiler): built after the one above,
# so it is the newer and the one loaded (src/native.ts), which makes the tests
# run what users get; test/install/ installs the packed package as users do.
# The first time it fetches and builds Debian's sources of the three (~1 min).
prebuild=prebuilds/linux-$(node -p process.arch)/tsbpf.node
if [ ! -f "$prebuild" ] || [ -n "$(find native binding.gyp scripts/prebuild.sh -newer "$prebuild" 2>/dev/null | head -n 1)" ]; then
    npm run -s build:prebuild
fi

# TypeScript → dist/ (incremental: a no-op when nothing changed); the tools'
# BPF objects (dist/tools/*.bpf.o), compiled once here so that running a
# tool needs no compiler (incremental); then the bundles that `npm start`,
# the tsbpf command and `import "tsbpf"` run (dist/bundle), whose build-time
# code cache runs a tool (execsnoop): after its object exists.
node_modules/.bin/tsc -p .
node scripts/build-tools.mjs
node scripts/bundle.mjs

# tracefs is not mounted at boot on every machine; tsbpf mounts it itself
# too, but doing it here keeps the first run's timing honest. securityfs
# (which says whether the kernel runs the BPF LSM) only systemd mounts.
# bpffs is left alone: tsbpf mounts it when a pin needs it, and a test checks
# that it does.
if [ "$(id -u)" -eq 0 ]; then
    if [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/trace_pipe ]; then
        mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
    fi
    if [ -d /sys/kernel/security ] && [ ! -e /sys/kernel/security/lsm ]; then
        mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true
    fi
fi
