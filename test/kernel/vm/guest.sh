#!/bin/bash
# Runs INSIDE the test VM as root, chrooted into the host's root filesystem (read-only; /tmp, /run
# and /dev/shm are tmpfs). Copied by run.sh into the results share, which is /run/kernel-test here.
# Loads the kernel modules the tests need, then runs the job (job.env: KT_ARGV in KT_REPO) and
# leaves exit-status, test-output.txt and dmesg.txt in the results share for run.sh.
set -u
KT=/run/kernel-test
. "$KT/job.env"
echo "KT-GUEST uptime=$(cut -d' ' -f1 /proc/uptime)"

fail() { echo "$*" | tee -a "$KT/test-output.txt"; echo 2 > "$KT/exit-status"; dmesg > "$KT/dmesg.txt"; echo "KT-DONE rc=2"; exit 2; }

# Modules come from the unpacked kernel package in the cache (KT_MODROOT), not from the host's
# /lib/modules. The kernel's own request_module would call the initramfs' /sbin/modprobe, which
# cannot see them: load everything a test may need here. null_blk with nr_devices=0: targets.ts
# creates its devices through configfs (memory_backed, size).
load() { modprobe -d "$KT_MODROOT" "$@" || fail "modprobe $* failed"; }
load configfs
load nvme-tcp
load nvmet-tcp
load null_blk nr_devices=0
load loop
load ext4
load crc32c_generic
load dummy                             # syn-drop.test.ts: an interface where SYNs vanish
grep -q ' /sys/kernel/config ' /proc/mounts || mount -t configfs configfs /sys/kernel/config ||
  fail "cannot mount configfs"

mkdir -p /tmp/home
export HOME=/tmp/home                 # the real $HOME is on the read-only root
export KERNEL_TEST_VM=1               # hooks.ts refuses to run outside the VM
export KERNEL_TEST_RESULTS=$KT        # tests may leave artifacts here (kept on the host)
export KERNEL_TEST_MODROOT=$KT_MODROOT
export CI=$KT_CI
export NO_COLOR=1

cd "$KT_REPO" || fail "cannot cd to $KT_REPO"
t0=$(date +%s)
timeout --kill-after=10 "$KT_TEST_TIMEOUT" "${KT_ARGV[@]}" > "$KT/test-output.txt" 2>&1 < /dev/null
rc=$?
dmesg > "$KT/dmesg.txt"
echo "$rc" > "$KT/exit-status"
sync
echo "KT-DONE rc=$rc elapsed=$(( $(date +%s) - t0 ))s uptime=$(cut -d' ' -f1 /proc/uptime)"
exit "$rc"
