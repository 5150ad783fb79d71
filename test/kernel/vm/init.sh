#!/bin/busybox sh
# /init of the test VM (PID 1, static busybox, copied into the initramfs by run.sh).
# Reaches the host's root over virtio-9p, gives it the writable places a chroot needs, mounts the
# results share at /run/kernel-test and runs /run/kernel-test/guest.sh there with the host's bash.
# Marker lines on the console (ttyS0) tell run.sh how far the VM got: KT-READY, KT-DONE (guest.sh).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fatal() { echo "KT-FATAL $*"; sync; poweroff -f; }

for ko in $(cat /modules/order); do
  insmod "/modules/$ko" || echo "KT-WARN insmod $ko failed"
done

R=/newroot
# The host's / read-only (QEMU exports it with multidevs=remap: it crosses mount points). cache=loose
# is safe on a read-only export and, with msize=512k, makes node start in seconds, not tens of seconds.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose hostroot $R ||
  fatal "cannot mount the host root over 9p"
mount -t tmpfs -o mode=1777 tmpfs $R/tmp || fatal "tmpfs on /tmp"
mount -t tmpfs -o mode=755 tmpfs $R/run || fatal "tmpfs on /run"
mkdir -p $R/run/kernel-test
# The results share: no cache, so what the guest writes is on the host when the VM stops.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 results $R/run/kernel-test ||
  fatal "cannot mount the results share"
# Host paths hidden by those tmpfs mounts that the job needs (run.sh lists them: "TAG PATH").
while read -r tag path; do
  mkdir -p "$R$path" &&
    mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose "$tag" "$R$path" ||
    fatal "cannot mount $path from share $tag"
done < $R/run/kernel-test/mounts
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
ip link set lo up                      # all of 127.0.0.0/8 is then routed to lo

echo "KT-READY uptime=$(cut -d' ' -f1 /proc/uptime)"
chroot $R /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/bash /run/kernel-test/guest.sh
echo "KT-INIT rc=$? uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
umount $R/run/kernel-test 2>/dev/null
poweroff -f
