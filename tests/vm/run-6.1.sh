#!/usr/bin/env bash
# Runs the kernel test suite (BUILD_DIR/tests/kernel/kernel-tests, real traffic included) on Debian 12's
# stock kernel 6.1 under qemu, and ends with one line:
#   vm-6.1: N passed, N failed (kernel RELEASE VERSION; ACCEL, S s)   exit 0 if all passed, else 1
#   vm-6.1: skipped (REASON)                                          exit 77: qemu or the kernel
#                                                                     package could not be had
# N counts Catch2 test cases. A VM that never reports (panic, timeout) counts as 1 failed. The serial
# console is kept in BUILD_DIR/vm-6.1/console.log (raw) and console.txt (CR and escapes stripped).
# Usage: tests/vm/run-6.1.sh [BUILD_DIR]      (default: build; must hold a normal, non-sanitizer build)
# Environment: WARREN_VM_TIMEOUT (seconds for the whole boot+run, default 600),
#              WARREN_VM_ACCEL (kvm or tcg; default: kvm when a probe boot with it works, else tcg),
#              WARREN_VM_TEST_ARGS (extra Catch2 arguments inside the VM, e.g. a test name or tag).
# Downloads and the initramfs are kept under BUILD_DIR/vm-6.1/. See docs/kernels.md.
set -uo pipefail

# The one pin: Debian 12's 6.1 kernel, cloud flavour (crc32c built in, small). To move it, pick a name
# from `apt-cache search linux-image-6.1 | grep cloud-amd64` (after apt-get update).
KERNEL_PACKAGE=linux-image-6.1.0-56-cloud-amd64

# Modules the suite needs (nf_tables with NAT, masquerade, conntrack, fib; ctnetlink for conntrack
# cleanup and the tests' conntrack reader; veth and bridge for the real-traffic tests) plus a few
# common nf_tables expressions, and sock_diag for TCP and UDP (the listening-socket check); their
# dependencies come from modules.dep.
MODULES=(nfnetlink nf_tables nf_conntrack nf_conntrack_netlink nf_nat nft_nat nft_chain_nat nft_masq
         nft_redir nft_ct nft_fib nft_fib_ipv4 nft_fib_ipv6 nft_fib_inet nft_reject nft_reject_ipv4
         nft_reject_ipv6 nft_reject_inet nft_limit nft_connlimit nft_hash nft_numgen nft_objref nft_quota veth bridge
         inet_diag tcp_diag udp_diag)

build_dir=${1:-build}
timeout_s=${WARREN_VM_TIMEOUT:-600}

skip() { echo "vm-6.1: skipped ($*)"; exit 77; }
fail() { echo "vm-6.1: 0 passed, 1 failed ($*)"; exit 1; }

[ -x "$build_dir/tests/kernel/kernel-tests" ] || fail "$build_dir/tests/kernel/kernel-tests not built"
build_dir=$(cd "$build_dir" && pwd)
cache=$build_dir/vm-6.1
mkdir -p "$cache"
log=$cache/setup.log
: >"$log"

# --- tools: qemu, busybox-static, cpio (installed only if missing, and only as root) ----------------
needed=()
command -v qemu-system-x86_64 >/dev/null || needed+=(qemu-system-x86)
# A static busybox (it runs in the initramfs without libraries) with depmod and insmod.
static_busybox() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 && [[ $'\n'$(/bin/busybox --list)$'\n' == *$'\ndepmod\n'* ]]; }
static_busybox || needed+=(busybox-static)
command -v cpio >/dev/null || needed+=(cpio)
if [ ${#needed[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || skip "missing ${needed[*]} and not root to install them"
    echo "vm-6.1: installing ${needed[*]}" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}" >>"$log" 2>&1; then
        apt-get update -qq >>"$log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${needed[@]}" >>"$log" 2>&1 ||
            skip "apt-get install ${needed[*]} failed: $(tail -n 1 "$log")"
    fi
fi
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not found"
static_busybox || skip "no static busybox with depmod at /bin/busybox"
busybox=/bin/busybox
for tool in nft ip python3; do
    command -v "$tool" >/dev/null || fail "$tool not found on the host (tools/setup.sh installs it)"
done

# --- the pinned kernel package -----------------------------------------------------------------------
deb=$(ls "$cache"/"${KERNEL_PACKAGE}"_*.deb 2>/dev/null | head -n 1)
if [ -z "$deb" ]; then
    download() { (cd "$cache" && apt-get download "$KERNEL_PACKAGE") >>"$log" 2>&1; }
    download || { apt-get update -qq >>"$log" 2>&1; download; } ||
        skip "apt-get download $KERNEL_PACKAGE failed: $(grep -E '^E:' "$log" | tail -n 1)"
    deb=$(ls "$cache"/"${KERNEL_PACKAGE}"_*.deb 2>/dev/null | head -n 1)
    [ -n "$deb" ] || skip "apt-get download $KERNEL_PACKAGE left no .deb"
fi
kernel_root=$cache/kernel
if [ ! -f "$kernel_root/.from" ] || [ "$(cat "$kernel_root/.from")" != "$(basename "$deb")" ]; then
    rm -rf "$kernel_root"
    mkdir -p "$kernel_root"
    dpkg-deb -x "$deb" "$kernel_root" || fail "dpkg-deb -x $deb failed"
    basename "$deb" >"$kernel_root/.from"
fi
release=$(ls "$kernel_root/lib/modules" | head -n 1)
vmlinuz=$kernel_root/boot/vmlinuz-$release
[ -n "$release" ] && [ -f "$vmlinuz" ] || fail "no kernel image in $deb"
if [ ! -s "$kernel_root/lib/modules/$release/modules.dep" ]; then  # the package ships none
    "$busybox" depmod -b "$kernel_root" "$release" >>"$log" 2>&1 || fail "busybox depmod failed"
fi

# --- the initramfs -----------------------------------------------------------------------------------
root=$cache/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,lib64,lib/x86_64-linux-gnu}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"

# Modules in load order: a depth-first walk of modules.dep puts every dependency before its users.
python3 - "$kernel_root/lib/modules/$release" "$root" "${MODULES[@]}" >"$root/etc/modules.load" <<'PY' || fail "module resolution failed"
import os, shutil, sys
moddir, root, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
deps, by_name = {}, {}
for line in open(os.path.join(moddir, "modules.dep")):
    path, _, rest = line.strip().partition(":")
    if not path:
        continue
    deps[path] = rest.split()
    by_name[os.path.basename(path).split(".ko")[0].replace("-", "_")] = path
order, seen = [], set()
def visit(path):
    if path in seen:
        return
    seen.add(path)
    for dep in deps.get(path, []):
        visit(dep)
    order.append(path)
for name in wanted:
    if name not in by_name:
        sys.exit(f"module {name} not in modules.dep (built in or missing?)")
    visit(by_name[name])
release = os.path.basename(moddir)
for path in order:
    target = os.path.join(root, "lib/modules", release, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy(os.path.join(moddir, path), target)
    print(f"/lib/modules/{release}/{path}")
PY

# Programs and every shared library ldd lists for them, at the paths ldd gives (plus the loader).
# The project's own binaries keep the build tree's layout, so kernel-tests' RUNPATH ($ORIGIN/../../lib)
# finds libwarren-nft.
mkdir -p "$root/build/tests/kernel" "$root/build/lib"
cp "$build_dir/tests/kernel/kernel-tests" "$root/build/tests/kernel/"
cp -a "$build_dir"/lib/libwarren-nft.so* "$root/build/lib/"
nft=$(command -v nft)
ip=$(command -v ip)
cp "$nft" "$root/usr/sbin/nft"
cp "$ip" "$root/usr/sbin/ip"
# The conntrack tests read the table with it (they skip without it).
conntrack=$(command -v conntrack || true)
[ -n "$conntrack" ] && cp "$conntrack" "$root/usr/sbin/conntrack"
for binary in "$nft" "$ip" $conntrack "$build_dir/tests/kernel/kernel-tests" "$build_dir"/lib/libwarren-nft.so*; do
    [ -f "$binary" ] || continue
    ldd "$binary" 2>>"$log" | awk '/=> \//{print $3} /^[ \t]*\//{print $1}'
done | sort -u | while read -r library; do
    case "$(realpath "$library")" in "$build_dir"/*) continue ;; esac
    mkdir -p "$root$(dirname "$library")"
    cp -L "$library" "$root$library"
done
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || fail "ldd listed no dynamic loader"
for file in /etc/protocols /etc/services; do  # nft prints protocol and service names
    [ -f "$file" ] && cp "$file" "$root$file"
done
printf 'passwd: files\ngroup: files\nhosts: files\nprotocols: files\nservices: files\n' >"$root/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
printf '%s\n' "${WARREN_VM_TEST_ARGS:-}" >"$root/etc/test-args"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mount -t tmpfs tmpfs /dev
mount -t tmpfs tmpfs /run
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ TERM=dumb
echo  # the firmware's last line may lack its newline
if grep -qw warren.probe=1 /proc/cmdline; then  # a boot that only checks the accelerator
    echo "WARREN-VM: probe"
    poweroff -f
fi
echo "WARREN-VM: kernel $(uname -r) $(sed 's/^[^#]*#/#/' /proc/version)"
failed_modules=0
while read -r module; do
    insmod "$module" || { echo "WARREN-VM: insmod $module failed"; failed_modules=$((failed_modules + 1)); }
done </etc/modules.load
echo "WARREN-VM: loaded $(wc -l </etc/modules.load) modules, $failed_modules failed"
set -f  # extra test arguments such as [tag] are not globs
args=$(cat /etc/test-args)
echo "WARREN-VM: BEGIN kernel-tests"
cd /tmp
start=$(date +%s)
/build/tests/kernel/kernel-tests --use-colour no $args 2>&1
rc=$?
echo "WARREN-VM: END kernel-tests rc=$rc seconds=$(($(date +%s) - start))"
sync
poweroff -f
INIT
chmod 755 "$root/init"

initrd=$cache/initrd.cpio.gz
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1 >"$initrd") || fail "cpio failed"

# --- boot --------------------------------------------------------------------------------------------
# KVM when /dev/kvm is usable, the CPU shows hardware virtualisation and a short probe boot reaches /init
# (a /dev/kvm without vmx/svm, as on these PVM guests, hangs or aborts in early boot); else TCG.
console=$cache/console.log
boot() {  # boot ACCEL TIMEOUT [KERNEL ARGS...]: runs the VM, serial console to $console; qemu's status
    local accel=$1 limit=$2
    shift 2
    local qemu=(qemu-system-x86_64 -m 1024 -smp 2 -nographic -no-reboot -nic none -accel "$accel"
                -kernel "$vmlinuz" -initrd "$initrd"
                -append "console=ttyS0 panic=-1 quiet loglevel=3 $*")
    [ "$accel" = kvm ] && qemu+=(-cpu host)
    # In a subshell, so that a qemu killed by a signal is reported in the log, not on stderr.
    (timeout -k 10 "$limit" "${qemu[@]}" </dev/null >"$console" 2>&1; exit $?) 2>>"$log"
}
start=$(date +%s)
accel=${WARREN_VM_ACCEL:-}
if [ -z "$accel" ]; then
    accel=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
        boot kvm 60 warren.probe=1
        probe_status=$?
        if grep -q 'WARREN-VM: probe' "$console"; then
            accel=kvm
        else
            echo "vm-6.1: a KVM probe boot did not reach /init (qemu status $probe_status); using TCG"
        fi
    fi
fi
boot "$accel" "$timeout_s"
qemu_status=$?
seconds=$(($(date +%s) - start))

# The serial console has CRLF line endings and terminal escapes.
clean=$cache/console.txt
sed -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' "$console" >"$clean"
# Everything from the first marker on is the suite's output; show it (the caller keeps it in its log).
sed -n '/^WARREN-VM: kernel /,$p' "$clean"

booted=$(sed -n 's/^WARREN-VM: kernel \([^ ]*\).*/\1/p' "$clean" | head -n 1)
kversion=$(sed -n 's/^WARREN-VM: kernel [^ ]* .*Debian \([^ ]*\).*/\1/p' "$clean" | head -n 1)
where="kernel ${booted:-?}${kversion:+ $kversion}; $accel, ${seconds} s"
end=$(grep -E '^WARREN-VM: END kernel-tests rc=' "$clean" | tail -n 1)
if [ -z "$end" ]; then
    [ "$qemu_status" -eq 124 ] && fail "timed out after ${timeout_s} s; $where; see $console"
    tail -n 30 "$clean"
    fail "the VM stopped before the suite ended (qemu status $qemu_status); $where; see $console"
fi
rc=$(sed -n 's/.*rc=\([0-9]*\).*/\1/p' <<<"$end")
[ "$rc" = 77 ] && fail "kernel-tests could not create namespaces in the VM; $where"
output=$(sed -n '/^WARREN-VM: BEGIN kernel-tests/,/^WARREN-VM: END kernel-tests/p' "$clean")
if m=$(grep -oE 'All tests passed \([0-9]+ assertions? in [0-9]+ test cases?\)' <<<"$output" | tail -n 1); then
    passed=$(sed -E 's/.* in ([0-9]+) test case.*/\1/' <<<"$m")
    failed=0
elif m=$(grep -E '^test cases:[[:space:]]*[0-9]+' <<<"$output" | tail -n 1); then
    passed=$(grep -oE '[0-9]+ passed' <<<"$m" | grep -oE '[0-9]+' || echo 0)
    failed=$(grep -oE '[0-9]+ failed' <<<"$m" | grep -oE '[0-9]+' || echo 0)
else
    fail "kernel-tests printed no summary (exit $rc); $where"
fi
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    fail "kernel-tests exited $rc although its summary shows no failure; $where"
fi
echo "vm-6.1: $passed passed, $failed failed ($where)"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
