#!/usr/bin/env bash
# test/kernel/vm/run.sh — boot a throw-away QEMU VM with Debian's own kernel and run a command in it,
# chrooted into this machine's root filesystem (shared read-only over virtio-9p), so the machine's
# /usr/sbin/nvme and /usr/bin/node run against a REAL kernel NVMe/TCP initiator and target.
#
#   usage: test/kernel/vm/run.sh [mocha args...]        # default: the real-kernel mocha suite
#          test/kernel/vm/run.sh --exec CMD [ARGS...]   # any command, cwd = the repo (debugging)
#
#   env:   KERNEL_TEST_CACHE    cache dir (default: <repo>/.vm-cache, gitignored)
#          KERNEL_TEST_TIMEOUT  whole-VM wall-clock limit in seconds (default 2400)
#          KERNEL_TEST_ACCEL    tcg | kvm | auto (default auto = kvm only when it can really work)
#          KERNEL_TEST_VERBOSE  1 = print the VM console even when everything passed
#
# Must run as root (apt-get, 9p export of /). Exit status: the command's, or 2 when the VM did not
# produce a result (boot failure, timeout, crash). QEMU's own exit code means nothing: it is 0 even
# when we kill it, so success is read from files the guest writes to the results share.
#
# Steps: 1. host packages (apt-get, only what is missing; `apt-get update` only when needed)
#        2. the kernel linux-image-amd64 depends on: `apt-get download` + `dpkg -x` into the cache,
#           never installed; `depmod -b`; uncompressed vmlinux cut out of vmlinuz (PVH boot, faster)
#        3. a tiny initramfs: static busybox + the virtio/9p modules + vm/init.sh as /init
#        4. a fresh results dir (the writable share): job.env, guest.sh; boot; wait; report
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
CACHE=${KERNEL_TEST_CACHE:-$REPO/.vm-cache}
TIMEOUT=${KERNEL_TEST_TIMEOUT:-2400}
BOOT_TIMEOUT=${KERNEL_TEST_BOOT_TIMEOUT:-180}   # seconds until the READY marker must appear
ACCEL_WANTED=${KERNEL_TEST_ACCEL:-auto}
export DEBIAN_FRONTEND=noninteractive

say() { printf '[test:kernel] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root (it installs packages with apt-get and exports / to the VM over 9p)"
case $REPO in *[[:space:]]*) die "the repo path must not contain whitespace: $REPO";; esac

if [ "${1:-}" = --exec ]; then
  shift; [ $# -gt 0 ] || die "--exec needs a command"
  ARGV=("$@")
else
  ARGV=(node "$REPO/node_modules/mocha/bin/mocha.js" --config test/kernel/.mocharc.json "$@")
  [ -f "$REPO/node_modules/mocha/bin/mocha.js" ] || die "node_modules missing: run npm ci first"
  [ -d "$REPO/dist/test/kernel" ] || die "dist/test/kernel missing: run npm run build first (npm run test:kernel does)"
fi

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
# One run per cache dir at a time: the results dir and initramfs are rebuilt by every run.
exec 9>"$CACHE/.lock"
flock -n 9 || { say "another run holds $CACHE/.lock; waiting"; flock 9; }

# ------------------------------------------------------------------ 1. host packages
APT_UPDATED=0
apt_update() {
  [ "$APT_UPDATED" = 1 ] && return 0
  say "apt-get update"
  apt-get -qq -o DPkg::Lock::Timeout=300 update >&2
  APT_UPDATED=1
}
# package -> a file it provides (a cheap check that also catches half-removed packages)
declare -A PKG_FILE=(
  [qemu-system-x86]=/usr/bin/qemu-system-x86_64
  [busybox-static]=/bin/busybox
  [nvme-cli]=/usr/sbin/nvme
  [cpio]=/usr/bin/cpio
  [kmod]=/usr/bin/kmod
  [e2fsprogs]=/sbin/mkfs.ext4
  [xz-utils]=/usr/bin/xz
  [openssh-server]=/usr/sbin/sshd
  [openssh-client]=/usr/bin/ssh
)
need=()
for p in "${!PKG_FILE[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || [ ! -e "${PKG_FILE[$p]}" ]; then
    need+=("$p")
  fi
done
if ((${#need[@]})); then
  say "installing ${need[*]}"
  apt_install() { apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${need[@]}" >&2; }
  apt_install || { apt_update && apt_install; } || die "apt-get install ${need[*]} failed"
fi
[ -f /etc/nvme/hostnqn ] || die "/etc/nvme/hostnqn missing (created by nvme-cli's postinst): reinstall nvme-cli"

# ------------------------------------------------------------------ 2. guest kernel
resolve_kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
KPKG=$(resolve_kpkg || true)
[ -n "$KPKG" ] || { apt_update; KPKG=$(resolve_kpkg || true); }
[ -n "$KPKG" ] || die "cannot resolve the kernel package linux-image-amd64 depends on (apt-cache depends linux-image-amd64)"
KVER=${KPKG#linux-image-}
KDIR=$CACHE/kernel/$KVER
if [ ! -f "$KDIR/.complete" ]; then
  say "fetching $KPKG (unpacked into $KDIR, not installed)"
  rm -rf "$CACHE/debs" "$KDIR" "$KDIR.tmp"
  mkdir -p "$CACHE/debs" "$CACHE/kernel"
  fetch() { (cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$KPKG") >&2; }
  # a stale package list names a version the mirror no longer has: refresh once and re-resolve
  fetch || { apt_update; KPKG=$(resolve_kpkg); KVER=${KPKG#linux-image-}; KDIR=$CACHE/kernel/$KVER; fetch; } ||
    die "apt-get download $KPKG failed"
  dpkg -x "$CACHE"/debs/"$KPKG"_*.deb "$KDIR.tmp"
  # the .deb has no modules.dep (its postinst makes it): make it ourselves
  depmod -b "$KDIR.tmp" "$KVER"
  rm -rf "$CACHE/debs"            # 70 MB we no longer need
  touch "$KDIR.tmp/.complete"
  mv "$KDIR.tmp" "$KDIR"
fi
# vmlinuz = setup code + xz-compressed ELF. Booting the ELF via QEMU's PVH entry (Debian has
# CONFIG_PVH) skips the decompressor: several seconds faster under TCG. xz stops after the first
# stream, so tail may die of SIGPIPE: its status is ignored.
if [ ! -f "$KDIR/vmlinux" ] && [ ! -f "$KDIR/.no-vmlinux" ]; then
  img=$KDIR/boot/vmlinuz-$KVER
  off=$(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' "$img" | head -1 | cut -d: -f1 || true)
  if [ -n "$off" ] && { tail -c +$((off + 1)) "$img" || true; } | xz -dc --single-stream > "$KDIR/vmlinux.tmp" &&
     [ "$(head -c4 "$KDIR/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$KDIR/vmlinux.tmp" "$KDIR/vmlinux"
  else
    rm -f "$KDIR/vmlinux.tmp"; touch "$KDIR/.no-vmlinux"; say "could not extract vmlinux; booting vmlinuz (slower)"
  fi
fi
# old kernels from previous point releases
for d in "$CACHE"/kernel/*; do [ "$d" = "$KDIR" ] || rm -rf "$d"; done
KIMG=$KDIR/vmlinux; [ -f "$KIMG" ] || KIMG=$KDIR/boot/vmlinuz-$KVER

# ------------------------------------------------------------------ 3. initramfs
# Only what it takes to reach the 9p root; everything else is modprobe'd later from the chroot
# (guest.sh), so a test needing another module does not need a new initramfs.
# busybox-static replaces the dynamic busybox package's /bin/busybox: the initramfs has no libc.
IR=$CACHE/initramfs
rm -rf "$IR"; mkdir -p "$IR"/{bin,dev,proc,sys,newroot,modules}
cp /bin/busybox "$IR/bin/busybox"
cp "$HERE/init.sh" "$IR/init"; chmod 755 "$IR/init"
for m in virtio_pci 9pnet_virtio 9p; do
  modprobe -d "$KDIR" -S "$KVER" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' | while read -r ko; do
  cp "$ko" "$IR/modules/"; basename "$ko" >> "$IR/modules/order"
done
(cd "$IR" && find . | cpio -o -H newc --quiet | gzip -1) > "$CACHE/initrd.img"
rm -rf "$IR"

# ------------------------------------------------------------------ 4. run
RUN=$CACHE/run                    # the writable share, /run/kernel-test inside the VM
rm -rf "$RUN"; mkdir -p "$RUN"
cp "$HERE/guest.sh" "$RUN/guest.sh"
# The VM mounts fresh tmpfs on /tmp and /run, hiding those parts of the shared root: a repo or cache
# living there (a CI checkout in /tmp…) is exported as a share of its own and mounted back in place.
SHARES=()
: > "$RUN/mounts"
for p in "$REPO" "$KDIR"; do
  case $p/ in
    /tmp/*|/run/*)
      tag=extra$((${#SHARES[@]} / 2))
      SHARES+=(-virtfs "local,path=$p,mount_tag=$tag,security_model=none,readonly=on,multidevs=remap")
      echo "$tag $p" >> "$RUN/mounts" ;;
  esac
done
{
  printf 'KT_REPO=%q\n' "$REPO"
  printf 'KT_MODROOT=%q\n' "$KDIR"
  printf 'KT_TEST_TIMEOUT=%q\n' "$((TIMEOUT > 120 ? TIMEOUT - 60 : TIMEOUT))"
  printf 'KT_CI=%q\n' "${CI:-}"
  printf 'KT_ARGV=('; printf '%q ' "${ARGV[@]}"; printf ')\n'
} > "$RUN/job.env"

kvm_usable() {
  # /dev/kvm alone proves nothing: on machines where it is kvm_pvm (nested PVM) a stock kernel
  # cannot boot (emulation failures on cmpxchg16b/xrstor/int3). Require real VMX/SVM.
  grep -qE '\b(vmx|svm)\b' /proc/cpuinfo && [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]
}
case $ACCEL_WANTED in
  kvm) ACCEL=kvm ;;
  tcg) ACCEL=tcg ;;
  auto) if kvm_usable; then ACCEL=kvm; else ACCEL=tcg; fi ;;
  *) die "KERNEL_TEST_ACCEL must be tcg, kvm or auto" ;;
esac

QEMU_PID=
cleanup() { [ -n "$QEMU_PID" ] && kill -9 "$QEMU_PID" 2>/dev/null; true; }
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

boot() {   # boot ACCEL: runs QEMU in the background and waits for it; sets REASON
  local accel=$1 t0 now ready=0
  local -a accel_args
  if [ "$accel" = kvm ]; then accel_args=(-accel kvm -cpu host); else accel_args=(-accel tcg,thread=multi -cpu max); fi
  : > "$RUN/console.log"
  say "booting $KPKG under $accel (console: $RUN/console.log)"
  qemu-system-x86_64 "${accel_args[@]}" -smp 2 -m 1024 \
    -nodefaults -no-user-config -display none -no-reboot -nic none \
    -serial "file:$RUN/console.log" \
    -kernel "$KIMG" -initrd "$CACHE/initrd.img" \
    -append "console=ttyS0 quiet panic=-1 oops=panic" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$RUN,mount_tag=results,security_model=none,multidevs=remap" \
    "${SHARES[@]}" \
    </dev/null >"$RUN/qemu.log" 2>&1 &
  QEMU_PID=$!
  t0=$SECONDS; REASON=exited
  while kill -0 "$QEMU_PID" 2>/dev/null; do
    now=$((SECONDS - t0))
    if [ $ready = 0 ] && grep -q '^KT-READY' "$RUN/console.log" 2>/dev/null; then
      ready=1; say "VM up after ${now}s; running: ${ARGV[*]}"
    fi
    if [ $ready = 0 ] && [ $now -ge "$BOOT_TIMEOUT" ]; then REASON=boot-timeout; break; fi
    if [ $now -ge "$TIMEOUT" ]; then REASON=timeout; break; fi
    sleep 1
  done
  if [ "$REASON" != exited ]; then
    say "killing QEMU ($REASON after $((SECONDS - t0))s)"
    kill -9 "$QEMU_PID" 2>/dev/null || true
  fi
  wait "$QEMU_PID" 2>/dev/null || true
  QEMU_PID=
  ELAPSED=$((SECONDS - t0))
}

boot "$ACCEL"
if [ "$ACCEL" = kvm ] && [ "$ACCEL_WANTED" = auto ] && ! grep -q '^KT-READY' "$RUN/console.log"; then
  say "KVM boot produced no READY marker: retrying under TCG"
  rm -f "$RUN/exit-status" "$RUN/test-output.txt"
  boot tcg
fi

# ------------------------------------------------------------------ 5. report
show_failure_context() {
  say "----- VM console ($RUN/console.log) -----"
  tr -d '\r' < "$RUN/console.log" | tail -n 150 >&2 || true
  [ -s "$RUN/qemu.log" ] && { say "----- QEMU stderr -----"; cat "$RUN/qemu.log" >&2; }
  [ -s "$RUN/dmesg.txt" ] && { say "----- guest dmesg (last 60 lines; all: $RUN/dmesg.txt) -----"; tail -n 60 "$RUN/dmesg.txt" >&2; }
  true
}
[ -f "$RUN/test-output.txt" ] && cat "$RUN/test-output.txt"
status=$(cat "$RUN/exit-status" 2>/dev/null || true)
if ! [[ $status =~ ^[0-9]+$ ]] || ! grep -q "^KT-DONE rc=$status" "$RUN/console.log"; then
  show_failure_context
  die "the VM produced no result ($REASON after ${ELAPSED}s): see the console above"
fi
if [ "$status" != 0 ] || [ "${KERNEL_TEST_VERBOSE:-}" = 1 ]; then show_failure_context; fi
[ "$status" = 124 ] && say "the command inside the VM timed out (KERNEL_TEST_TIMEOUT=$TIMEOUT)"
say "VM run finished in ${ELAPSED}s under $ACCEL: exit status $status (artifacts: $RUN)"
exit "$status"
