#!/usr/bin/env bash
# kernel-matrix: run tsbpf's kernel tests under another kernel, in a VM.
#
# Usage: scripts/kernel-matrix.sh [--kernel PKG] [--timeout SECONDS] [-- COMMAND...]
#
# Boots a Debian kernel package (default: the one linux-image-amd64 depends
# on, i.e. Debian 12's 6.1.x, which has kprobes, kretprobes and fentry) under
# qemu-system-x86_64, with the host's root file system shared read-only over
# virtio-9p and a tmpfs overlay on top so the guest can write, and runs
# COMMAND in a copy of this repository (see "the repository" below). The
# default COMMAND (scripts/matrix-tests.mjs) is what the host kernel cannot
# test: the library's kernel test files marked `@kernel-matrix` (kprobes,
# fentry/fexit/fmod_ret, LSM, error injection, feature probes) and the tests
# of the tutorial examples that run differently on a kernel with those
# features. One COMMAND word is run as a shell script (`-- 'uname -r; ls /sys'`);
# several words are run as one command with those arguments. The guest
# console is streamed to stdout; the script exits with the command's exit
# status, which the guest reports as a `TSBPF-MATRIX-EXIT=<code>` line before
# powering off (123 when the guest kernel hung, see longest_lockup; 124 when
# the timeout killed qemu; 125 when the line is missing otherwise). After a
# hang or a timeout it prints the guest kernel's first report of a stuck CPU
# with the test output before it, and keeps that in last-failure.txt of the
# cache directory. It ends with one line of each phase's time.
#
# Guest environment: PATH=<node's directory>:/usr/local/sbin:/usr/local/bin:
# /usr/sbin:/usr/bin:/sbin:/bin, HOME=/root, TSBPF_MATRIX=1,
# TSBPF_CACHE_DIR=<run>/share/cache (compiled objects depend on the kernel, so
# the guest never touches the host's cache; the directory is shared read-write
# with the host at the same path), TSBPF_CLANG=scripts/kernel-matrix/clang-on-host
# (compiles run on the host: see that file; TSBPF_MATRIX_HOST_CLANG=0 to
# compile in the guest). Mounted: proc, sysfs, devtmpfs, devpts, /dev/shm,
# /run, tracefs, debugfs, bpffs, securityfs, cgroup2; loopback is up; there is
# no other network device. The guest's /lib/modules/<version> is the extracted
# package's module tree, and its /boot is the package's (config-<version>).
#
# Requirements: root (apt-get, and qemu reads the whole root file system),
# Debian 12 or similar with apt. Installed when missing: qemu-system-x86
# (--no-install-recommends) and busybox-static. The kernel package is NOT
# installed: it is fetched with `apt-get download` and unpacked with
# `dpkg-deb -x` under /var/cache/tsbpf-matrix/ (override: TSBPF_MATRIX_CACHE),
# so /boot, /lib/modules and the boot loader of the host stay untouched.
# `npm run test:kernels` builds the project first (bootstrap.sh); when calling
# this script directly, dist/ must be built (`npx tsc -p .`).
#
# Cache: /var/cache/tsbpf-matrix/kernels/<package>_<version>/ holds the
# unpacked package (~400 MB: vmlinuz, modules, with a busybox-made modules.dep)
# and initramfs.cpio.gz (busybox, 9p/9pnet/9pnet_virtio/netfs/fscache, virtio
# PCI and overlay modules, the /init from scripts/kernel-matrix/init). It is
# rebuilt when this script or the init template is newer. Each run appends a
# small uncompressed cpio (the command, the guest environment) to it.
#
# Environment knobs: TSBPF_MATRIX_ACCEL=kvm|tcg (default: kvm only when
# /dev/kvm is usable with a real VMX/SVM KVM module, see kvm_usable below),
# TSBPF_MATRIX_CPU (TCG's CPU model, default qemu64: see run_vm),
# TSBPF_MATRIX_MEM (default 4G), TSBPF_MATRIX_SMP (default 1, see below),
# TSBPF_MATRIX_TIMEOUT (seconds, default 1800, see below), TSBPF_MATRIX_APPEND
# (extra kernel arguments), TSBPF_MATRIX_9P_CACHE (the root's 9p cache mode,
# default loose: safe because the root is read-only and the repository is a
# copy that nothing changes during the run; "none" was 14% slower). The last
# run's console log is kept in /var/cache/tsbpf-matrix/last-run.log.
#
# Measured on 2-core, 24 GB Debian 12 VMs running kernel 6.18, guest
# linux-image-6.1.0-57-amd64 (6.1.192-3), qemu 7.2:
# - KVM: NOT usable there (no /dev/kvm, or one served by kvm_pvm with no
#   vmx/svm in /proc/cpuinfo, where `-cpu host` aborts qemu on MSR 0x10a and a
#   stock kernel hangs after the real-mode setup code). So the VM runs under
#   TCG (multi-threaded, 2 vCPUs); if KVM is chosen and the guest does not
#   boot, the script retries once with TCG.
# - Under TCG a process start costs ~75 ms, `node -e 0` ~0.45 s, importing
#   tsbpf ~1.7 s more, one clang start 1-3 s (7 s the first time): the cost
#   of a test is mostly starting Node and compiling, which is why compiles run
#   on the host and only what the host cannot test runs here.
# - First run on a fresh machine: qemu-system-x86 + busybox-static install
#   ~25 s; kernel package download + unpack + depmod ~15 s; initramfs ~2 s.
#   Later runs: ~3 s before qemu starts. Boot to the command: ~9 s.
# - The default COMMAND: 370-470 s in the guest on one machine of that kind
#   (~280 s of it the kprobe/kfunc tests and examples, ~45 s the kernel-macro
#   tests, ~30 s the first compile, which extracts the UAPI macros), where the
#   whole library kernel suite plus every example chapter with a kprobe/kfunc
#   program (the matrix before, -cpu max, 9p cache=none, clang in the guest)
#   took 753 s; machines of that kind differ under TCG, up to ~2x between the
#   fastest and slowest seen. The generic tools' kernel-function tests
#   (trace, argdist, funccount, funclatency) add ~100-115 s.
#   A clean CI run on 2026-12-03 (with the lifecycle and minimized-BTF tests)
#   took 884 s in the guest. The timeout (1800 s) leaves room for a machine
#   twice as slow, and keeps .ci/run's worst case (npm test ~17 min, the
#   matrix and its one retry, both timing out) near 80 minutes, under CI's 90.
# - In the 6.1 guest: /sys/bus/event_source/devices has kprobe and uprobe,
#   lockdown is [none], and bpftrace's kprobe, kretprobe and kfunc (fentry)
#   probes all load and fire (the 6.18 host has no kprobes and fentry loads
#   fail with EPERM there).
# - One vCPU, not two: a CI run on 2026-12-04 hung twice in a row two
#   minutes into the command, with the 6.1 guest's CPU 1 stuck in the kernel
#   (soft lockup, in node) and CPU 0 no longer running its timers (RCU:
#   "timer wakeup didn't happen ... on cpu=0"): the pattern of a CPU waiting
#   on another that is not running, seen with multi-threaded TCG elsewhere
#   (an earlier session saw the guest oops once in three runs, cause unknown).
#   With -smp 1 the default command took 511 s in the guest against 490 s
#   with -smp 2 (same machine, same hour): the second vCPU competes for the
#   host's two cores with qemu's I/O thread and the host-side clang, so it
#   bought almost nothing.
# - A run is ended before the timeout when the guest kernel reports a CPU
#   stuck for TSBPF_MATRIX_HANG seconds (longest_lockup), or when the console
#   has been silent for TSBPF_MATRIX_SILENCE seconds (default 600; the
#   longest test prints after ~65 s here, ~200 s on the slowest machine seen,
#   and a hung single vCPU cannot even report its lockup).
#
# `sh scripts/kernel-matrix.sh` (as npm runs it) lands here under dash: re-run under bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd -P)
SELF="$REPO/scripts/kernel-matrix.sh"
INIT_TEMPLATE="$REPO/scripts/kernel-matrix/init"

CACHE=${TSBPF_MATRIX_CACHE:-/var/cache/tsbpf-matrix}
KPKG=linux-image-amd64
TIMEOUT=${TSBPF_MATRIX_TIMEOUT:-1800}
HANG=${TSBPF_MATRIX_HANG:-120}
MEM=${TSBPF_MATRIX_MEM:-4G}
SMP=${TSBPF_MATRIX_SMP:-1}
SILENCE=${TSBPF_MATRIX_SILENCE:-600}
NINEP_CACHE=${TSBPF_MATRIX_9P_CACHE:-loose}
GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# node where the host has it (setup-node, nvm and /opt installs are not on the default PATH).
NODE_DIR=$(dirname "$(command -v node 2>/dev/null || echo /usr/bin/node)")
case ":$GUEST_PATH:" in *":$NODE_DIR:"*) ;; *) GUEST_PATH="$NODE_DIR:$GUEST_PATH" ;; esac

log() { printf 'kernel-matrix: %s\n' "$*" >&2; }
die() {
    log "$*"
    exit 1
}
usage() {
    sed -n '2,/^# `sh scripts/p' "$SELF" | sed '$d; s/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
    --kernel)
        [ $# -ge 2 ] || die "--kernel needs a package name"
        KPKG=$2
        shift 2
        ;;
    --kernel=*)
        KPKG=${1#--kernel=}
        shift
        ;;
    --timeout)
        [ $# -ge 2 ] || die "--timeout needs seconds"
        TIMEOUT=$2
        shift 2
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        break
        ;;
    -*) die "unknown argument: $1 (see --help)" ;;
    *) break ;; # the COMMAND, without a "--" before it
    esac
done

if [ $# -eq 0 ]; then
    # The library's kernel tests, and the example tests of the chapters whose
    # programs differ on a kernel with kprobes and fentry (the others run the
    # same here as on the host; the whole of dist/test/kernel took ~11 min).
    COMMAND=$(node scripts/matrix-tests.mjs)
elif [ $# -eq 1 ]; then
    COMMAND=$1
else
    COMMAND=$(printf '%q ' "$@")
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, and qemu shares the whole root file system)"

# Each phase's time, printed at the end (and as each phase ends).
PHASES=
phase_start=$SECONDS
phase_done() {
    local took=$((SECONDS - phase_start))
    PHASES="$PHASES${PHASES:+, }$1 ${took}s"
    log "$1: ${took}s"
    phase_start=$SECONDS
}

# ---------------------------------------------------------------- packages
apt_updated=
apt_update() {
    if [ -z "$apt_updated" ]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

need=
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
installed busybox-static || need="$need busybox-static"
if [ -n "$need" ]; then
    apt_update
    log "installing:$need"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "busybox-static is installed but $BUSYBOX is missing"
phase_done packages

# The concrete kernel image package: follow a meta package such as
# linux-image-amd64 to the linux-image-<abi>-<flavour> it depends on.
resolve_pkg() {
    case "$1" in
    linux-image-[0-9]*) echo "$1" ;;
    *) apt-cache depends --important "$1" 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1 ;;
    esac
}
pkg_version() {
    apt-cache show --no-all-versions "$1" 2>/dev/null | sed -n 's/^Version: //p' | head -n 1
}
# (apt-cache fails on empty package lists: that is "unknown", not the end.)
resolve() {
    PKG=$(resolve_pkg "$KPKG" || true)
    VER=
    [ -z "$PKG" ] || VER=$(pkg_version "$PKG" || true)
}
resolve
if [ -z "$PKG" ] || [ -z "$VER" ]; then
    apt_update
    resolve
    [ -n "$PKG" ] || die "cannot resolve $KPKG to a linux-image package"
    [ -n "$VER" ] || die "apt knows no version of $PKG"
fi

KDIR="$CACHE/kernels/${PKG}_${VER//:/%}"
ROOT="$KDIR/root"
if [ ! -e "$KDIR/.unpacked" ]; then
    log "fetching $PKG $VER into $KDIR (unpacked, not installed)"
    rm -rf "$KDIR"
    mkdir -p "$KDIR/deb" "$ROOT"
    # apt drops privileges to _apt for downloads: let it write there.
    chown _apt "$KDIR/deb" 2>/dev/null || true
    # Stale package lists can name a build the mirror has dropped (Debian
    # bumps the kernel ABI every few months): update them and try once more.
    if ! (cd "$KDIR/deb" && apt-get download -q "$PKG=$VER") >/dev/null 2>&1; then
        apt_updated=
        apt_update
        resolve
        KDIR="$CACHE/kernels/${PKG}_${VER//:/%}"
        ROOT="$KDIR/root"
        rm -rf "$KDIR"
        mkdir -p "$KDIR/deb" "$ROOT"
        chown _apt "$KDIR/deb" 2>/dev/null || true
        log "fetching $PKG $VER into $KDIR (after apt-get update)"
        (cd "$KDIR/deb" && apt-get download -q "$PKG=$VER") >/dev/null ||
            die "apt-get download $PKG=$VER failed"
    fi
    dpkg-deb -x "$KDIR"/deb/*.deb "$ROOT"
    rm -rf "$KDIR/deb"
    touch "$KDIR/.unpacked"
    # Older builds of the same package are not needed any more (~400 MB each).
    for old in "$CACHE/kernels/${PKG}"_*; do
        [ "$old" = "$KDIR" ] || rm -rf "$old"
    done
fi
VMLINUZ=$(find "$ROOT/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)
[ -n "$VMLINUZ" ] || die "no vmlinuz in $PKG"
KVER=${VMLINUZ##*/vmlinuz-}
# Debian ships modules without modules.dep (its postinst runs depmod).
MODTREE="$ROOT/lib/modules/$KVER"
[ -d "$MODTREE" ] || MODTREE="$ROOT/usr/lib/modules/$KVER"
[ -d "$MODTREE" ] || die "no modules for $KVER in $PKG"
if [ ! -s "$MODTREE/modules.dep" ]; then
    log "depmod $KVER"
    "$BUSYBOX" depmod -b "$ROOT" "$KVER" 2>/dev/null ||
        "$BUSYBOX" depmod -b "$ROOT/usr" "$KVER"
fi
phase_done "kernel package"

# ---------------------------------------------------------------- initramfs
INITRD="$KDIR/initramfs.cpio.gz"
build_initramfs() {
    local t ordered=()
    t=$(mktemp -d "$CACHE/initramfs.XXXXXX")
    # modules.dep lines: "path.ko: dep.ko dep2.ko" (paths relative to MODTREE).
    declare -A deps=() seen=()
    local line mod rest
    while IFS= read -r line; do
        mod=${line%%:*}
        rest=${line#*:}
        deps[$mod]=$rest
    done <"$MODTREE/modules.dep"
    # Loading order: every module after its dependencies.
    visit() {
        local m=$1 d
        [ -z "${seen[$m]:-}" ] || return 0
        seen[$m]=1
        [ -n "${deps[$m]+x}" ] || die "module $m is not in modules.dep of $KVER"
        for d in ${deps[$m]}; do visit "$d"; done
        ordered+=("$m")
    }
    local want name path
    for want in virtio_pci 9pnet_virtio 9p overlay; do
        path=
        for name in "${!deps[@]}"; do
            case "$name" in */"$want".ko | */"$want".ko.*)
                path=$name
                break
                ;;
            esac
        done
        if [ -z "$path" ]; then
            # Built in? Then there is nothing to load.
            grep -q "/$want.ko" "$MODTREE/modules.builtin" 2>/dev/null && continue
            die "module $want not found for $KVER"
        fi
        visit "$path"
    done
    mkdir -p "$t"/{bin,dev,etc,proc,sys,lower,rw,newroot,tmp,lib/modules/"$KVER"}
    cp "$BUSYBOX" "$t/bin/busybox"
    ln -s busybox "$t/bin/sh"
    local m
    : >"$t/etc/modules"
    for m in "${ordered[@]}"; do
        mkdir -p "$t/lib/modules/$KVER/$(dirname "$m")"
        case "$m" in
        *.ko.xz) xz -dc "$MODTREE/$m" >"$t/lib/modules/$KVER/${m%.xz}"; m=${m%.xz} ;;
        *.ko.zst) zstd -qdc "$MODTREE/$m" >"$t/lib/modules/$KVER/${m%.zst}"; m=${m%.zst} ;;
        *.ko.gz) gzip -dc "$MODTREE/$m" >"$t/lib/modules/$KVER/${m%.gz}"; m=${m%.gz} ;;
        *) cp "$MODTREE/$m" "$t/lib/modules/$KVER/$m" ;;
        esac
        echo "$m" >>"$t/etc/modules"
    done
    printf 'KVER=%s\nMODTREE=%s\nBOOTDIR=%s\n' "$KVER" "$MODTREE" "$ROOT/boot" >"$t/etc/matrix.conf"
    install -m 755 "$INIT_TEMPLATE" "$t/init"
    (cd "$t" && find . -mindepth 1 | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) |
        gzip -9 >"$INITRD.tmp"
    mv "$INITRD.tmp" "$INITRD"
    rm -rf "$t"
    log "initramfs for $KVER built with modules: ${ordered[*]##*/}"
}
if [ ! -s "$INITRD" ] || [ "$SELF" -nt "$INITRD" ] || [ "$INIT_TEMPLATE" -nt "$INITRD" ]; then
    build_initramfs
fi
phase_done initramfs

# ---------------------------------------------------------------- the VM
# KVM only when it can run a stock kernel: /dev/kvm openable and a VMX/SVM
# KVM module. Some hosts expose /dev/kvm for paravirtualised guests only
# (kvm_pvm, no vmx/svm in cpuinfo); a Debian kernel hangs there.
kvm_usable() {
    [ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
    grep -qwE 'vmx|svm' /proc/cpuinfo || return 1
    [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ] || return 1
}
ACCEL=${TSBPF_MATRIX_ACCEL:-}
if [ -z "$ACCEL" ]; then
    if kvm_usable; then ACCEL=kvm; else ACCEL=tcg; fi
fi

RUN=$(mktemp -d /tmp/tsbpf-matrix.XXXXXX)
rm -f "$CACHE/last-failure.txt"
# (readable by all: some tests run the library as nobody)
chmod 755 "$RUN"
QEMU_PID=
SERVER_PID=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        sleep 1
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- clang on the host
# The guest's compile cache and clang's work files live in $SHARE, shared
# read-write with the guest at the same path; the guest's clang
# (scripts/kernel-matrix/clang-on-host) hands each compile to this loop, which
# runs the host's clang (the same binary the guest would run) on them. See
# that file for why and for the protocol. TSBPF_MATRIX_HOST_CLANG=0 compiles
# in the guest instead.
SHARE="$RUN/share"
mkdir -p "$SHARE/spool" "$SHARE/cache"
HOST_CLANG=
if [ "${TSBPF_MATRIX_HOST_CLANG:-1}" != 0 ]; then
    HOST_CLANG=$(command -v clang || true)
    [ -n "$HOST_CLANG" ] || log "no clang on the host: the guest compiles with its own"
fi
# One request (complete: its last word is END): run clang as asked, refusing
# an output outside $SHARE.
clang_request() {
    local id=$1 cwd out rc=0 i
    local -a argv=("${@:2}")
    cwd=${argv[0]}
    argv=("${argv[@]:1}")
    : >"$id.out"
    : >"$id.err"
    for ((i = 0; i < ${#argv[@]}; i++)); do
        [ "${argv[i]}" = -o ] || continue
        out=${argv[i + 1]:-}
        [[ "$out" = /* ]] || out="$cwd/$out"
        case "$out" in
        "$SHARE"/*) ;;
        *)
            echo "clang-on-host: refusing to write $out, outside $SHARE" >"$id.err"
            rc=126
            ;;
        esac
    done
    if [ "$rc" -eq 0 ]; then
        (cd "$cwd" && exec "$HOST_CLANG" "${argv[@]}") >"$id.out" 2>"$id.err" || rc=$?
    fi
    echo "$rc" >"$id.rc.tmp"
    mv "$id.rc.tmp" "$id.rc"
}
serve_clang() {
    local f id
    local -a argv
    while :; do
        for f in "$SHARE"/spool/*.req; do
            [ -e "$f" ] || continue
            mapfile -d '' argv <"$f"
            [ "${#argv[@]}" -ge 2 ] && [ "${argv[-1]}" = END ] || continue # still being written
            id=${f%.req}
            mv "$f" "$id.taken"
            clang_request "$id" "${argv[@]:0:${#argv[@]}-1}" &
        done
        for f in "$SHARE"/spool/*.done; do
            [ -e "$f" ] || continue
            id=${f%.done}
            rm -f "$id".*
        done
        sleep 0.02
    done
}
if [ -n "$HOST_CLANG" ]; then
    serve_clang &
    SERVER_PID=$!
fi

# ---------------------------------------------------------------- the repository
# The guest runs a copy of the repository (8 MB without .git and node_modules,
# which is linked): the root is shared with 9p's loose cache, which caches
# file sizes, so a dist/ file that tsc rewrote on the host mid-run would be
# read truncated in the guest. The copy never changes while the guest runs.
SNAP="$RUN/repo"
mkdir "$SNAP"
tar -C "$REPO" --exclude=./.git --exclude=./node_modules -cf - . | tar -C "$SNAP" -xf -
[ ! -d "$REPO/node_modules" ] || ln -s "$REPO/node_modules" "$SNAP/node_modules"

# The per-run part of the initramfs: the command and the guest environment.
mkdir -p "$RUN/extra"
{
    printf 'cd %q || exit 125\n' "$SNAP"
    printf '%s\n' "$COMMAND"
} >"$RUN/extra/cmd.sh"
guest_env="PATH=$GUEST_PATH HOME=/root TERM=dumb LANG=C.UTF-8 TSBPF_CACHE_DIR=$SHARE/cache TSBPF_MATRIX=1"
if [ -n "$HOST_CLANG" ]; then
    guest_env="$guest_env TSBPF_CLANG=$SNAP/scripts/kernel-matrix/clang-on-host TSBPF_MATRIX_SPOOL=$SHARE/spool"
fi
{
    printf 'GUEST_ENV="%s"\n' "$guest_env"
    printf 'NINEP_CACHE=%s\n' "$NINEP_CACHE"
    printf 'SHARE=%s\n' "$SHARE"
} >"$RUN/extra/run.conf"
(cd "$RUN/extra" && printf '%s\n' cmd.sh run.conf | "$BUSYBOX" cpio -o -H newc 2>/dev/null) >"$RUN/extra.cpio"
# The kernel only takes an uncompressed cpio that starts 4-byte aligned after
# a compressed one: pad the gzip archive with zeros (which it skips).
cp "$INITRD" "$RUN/initrd"
truncate -s %4 "$RUN/initrd"
cat "$RUN/extra.cpio" >>"$RUN/initrd"

# The longest "soft lockup - CPU#N stuck for Ss" the guest kernel reported so
# far (empty when none): its watchdog reports a CPU that has not scheduled for
# 20 s, and again every ~26 s while it stays so. A short report can come from
# a host too busy to run the vCPU thread, which then recovers; the hang seen in
# CI never did (stuck for 1599 s when the timeout killed it). So a run is ended
# when a CPU has been stuck for HANG seconds (default 120, TSBPF_MATRIX_HANG),
# rather than at the timeout.
longest_lockup() {
    sed -n 's/.*BUG: soft lockup - CPU#[0-9]* stuck for \([0-9][0-9]*\)s!.*/\1/p' "$1" | sort -n | tail -n 1
}

# What a run that hung or timed out leaves for CI's summary (report_failure):
# the test output before the guest kernel's first report of a stuck CPU or a
# stall, and the first 70 lines of that report (the stuck task's backtrace,
# and with softlockup_all_cpu_backtrace those of the other CPUs); without such
# a report, the guest's last 20 lines.
hang_report() {
    local console=$1 first
    first=$(grep -n -m 1 -E 'BUG: soft lockup|rcu: INFO: .*detected stall|Kernel panic|BUG: unable to handle|general protection fault' "$console" | cut -d: -f1 || true)
    if [ -z "$first" ]; then
        echo "the guest's last output:"
        tail -n 20 "$console" | sed 's/^/    /'
        return 0
    fi
    echo "the guest's output before the kernel's first report (line $first of the console):"
    head -n $((first - 1)) "$console" | grep -v '^\[ *[0-9][0-9.]*\]' | tail -n 15 | sed 's/^/    /'
    echo "the kernel's report:"
    sed -n "${first},$((first + 69))p" "$console" | sed 's/^/    /'
}
report_failure() {
    {
        echo "kernel-matrix: failure report: $VM_WHY"
        hang_report "$RUN/console.log"
        echo "kernel-matrix: end of the failure report"
    } | tee "$CACHE/last-failure.txt" >&2
}

# Why the loop below ends a run before the guest does: VM_RESULT, and VM_WHY for the report.
end_run() {
    VM_RESULT=$1
    VM_WHY=$2
    log "$VM_WHY: killing qemu"
}

run_vm() {
    local accel=$1 cpu boot_deadline stuck size last_size=-1 last_output=$SECONDS
    local -a args
    if [ "$accel" = kvm ]; then
        args=(-enable-kvm -cpu host)
        boot_deadline=60
    else
        # qemu64, not max: max advertises AVX/AVX2, which glibc's string
        # functions and V8 then use, and which TCG emulates instruction by
        # instruction; the SSE2 paths run faster there (the matrix's tests:
        # 10-20% less time, measured with qemu 7.2).
        args=(-accel 'tcg,thread=multi' -cpu "${TSBPF_MATRIX_CPU:-qemu64}")
        boot_deadline=300
    fi
    cpu=${args[*]}
    log "booting $KVER ($PKG $VER) with ${cpu}, -m $MEM -smp $SMP, timeout ${TIMEOUT}s"
    log "command: $COMMAND"
    : >"$RUN/console.log"
    rm -f "$RUN/qemu.pid"
    # No network device (-nic none); the host root read-only over virtio-9p.
    # loglevel=5: the console also shows warnings, and the backtraces of a
    # soft lockup or a WARN (printed at the default level, 4, which
    # loglevel=4 hides).
    qemu-system-x86_64 "${args[@]}" -m "$MEM" -smp "$SMP" \
        -nographic -no-reboot -nic none \
        -kernel "$VMLINUZ" -initrd "$RUN/initrd" \
        -append "console=ttyS0 panic=-1 loglevel=5 softlockup_all_cpu_backtrace=1 edd=off random.trust_cpu=on ${TSBPF_MATRIX_APPEND:-}" \
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
        -virtfs local,path="$SHARE",mount_tag=tsbpfshare,security_model=none \
        -pidfile "$RUN/qemu.pid" </dev/null 2>&1 |
        sed -u -e 's/\r$//' -e 's/\x1b\(c\|\[[0-9;?]*[A-Za-z]\)//g' | tee -a "$RUN/console.log" &
    local pipe=$! start=$SECONDS booted= started= finished=
    local _
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -s "$RUN/qemu.pid" ] && break
        sleep 0.5
    done
    QEMU_PID=$(cat "$RUN/qemu.pid" 2>/dev/null || true)
    VM_RESULT=
    VM_WHY=
    while kill -0 "$pipe" 2>/dev/null; do
        if [ -z "$booted" ] && grep -q 'TSBPF-MATRIX: kernel' "$RUN/console.log"; then
            booted=1
            log "guest booted after $((SECONDS - start))s"
        fi
        if [ -z "$started" ] && grep -q 'TSBPF-MATRIX: running the command' "$RUN/console.log"; then
            started=$SECONDS
            PHASES="$PHASES${PHASES:+, }boot $((started - start))s"
        fi
        if [ -n "$started" ] && [ -z "$finished" ] && grep -q 'TSBPF-MATRIX: command finished' "$RUN/console.log"; then
            finished=$SECONDS
            PHASES="$PHASES, command $((finished - started))s"
        fi
        if [ -z "$booted" ] && [ $((SECONDS - start)) -ge "$boot_deadline" ]; then
            log "the guest did not boot within ${boot_deadline}s ($accel)"
            VM_RESULT=noboot
            break
        fi
        if [ $((SECONDS - start)) -ge "$TIMEOUT" ]; then
            end_run timeout "timeout after ${TIMEOUT}s"
            break
        fi
        # (the console is read for lockup reports only when it has grown)
        size=$(stat -c %s "$RUN/console.log")
        if [ "$size" = "$last_size" ]; then
            if [ $((SECONDS - last_output)) -ge "$SILENCE" ]; then
                end_run hung "the guest printed nothing for ${SILENCE}s"
                break
            fi
        else
            last_size=$size
            last_output=$SECONDS
            stuck=$(longest_lockup "$RUN/console.log")
            if [ "${stuck:-0}" -ge "$HANG" ]; then
                end_run hung "the guest kernel hung: a CPU has not scheduled for ${stuck}s"
                sleep 5 # (the rest of the report, and the other CPUs' backtraces)
                break
            fi
        fi
        sleep 1
    done
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        sleep 1
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    wait "$pipe" 2>/dev/null || true
    QEMU_PID=
    [ -n "$booted" ] || grep -q 'TSBPF-MATRIX: kernel' "$RUN/console.log" || VM_RESULT=${VM_RESULT:-noboot}
    if [ -n "$started" ] && [ -z "$finished" ]; then
        if grep -q 'TSBPF-MATRIX: command finished' "$RUN/console.log"; then
            PHASES="$PHASES, command $((SECONDS - started))s"
        else
            PHASES="$PHASES, command $((SECONDS - started))s (unfinished)"
        fi
    fi
    log "qemu ran $((SECONDS - start))s"
}

run_vm "$ACCEL"
if [ "$VM_RESULT" = noboot ] && [ "$ACCEL" = kvm ] && [ -z "${TSBPF_MATRIX_ACCEL:-}" ]; then
    log "retrying without KVM"
    run_vm tcg
fi
cp "$RUN/console.log" "$CACHE/last-run.log" 2>/dev/null || true
log "phases: $PHASES; total ${SECONDS}s"

code=$(sed -n 's/^.*TSBPF-MATRIX-EXIT=\([0-9][0-9]*\).*$/\1/p' "$RUN/console.log" | tail -n 1)
if [ -n "$code" ]; then
    log "guest command exited with $code"
    exit "$code"
fi
if [ "$VM_RESULT" = hung ]; then
    report_failure
    exit 123
fi
if [ "$VM_RESULT" = timeout ]; then
    report_failure
    exit 124
fi
log "no TSBPF-MATRIX-EXIT line on the console: the guest failed"
exit 125
