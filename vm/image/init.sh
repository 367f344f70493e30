#!/bin/busybox sh
# integrity-harness guest init: mount the pseudo filesystems, load the modules the stacks need, then hand
# PID 1 to the agent. If the agent cannot start, init exits and the kernel panics (panic=-1 ends QEMU),
# which the host sees as a boot failure of the harness, not of the kernel under test.
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/mapper /run/cryptsetup /var/lock
mount -t tmpfs tmpfs /tmp
echo "ih-init: kernel $(uname -r)"
# One modprobe for all (each process start costs under TCG); one by one only to name the one that failed.
# Each failure goes to /run/ih-modules-failed, which the host reads before any scenario
# (harness/run/share/guest-untested.ts): a guest without the modules the stacks need leaves the kernel untested.
if [ -s /etc/ih/modules ] && ! modprobe -a $(cat /etc/ih/modules); then
  for m in $(cat /etc/ih/modules); do
    if ! said=$(modprobe "$m" 2>&1); then
      echo "ih-init: modprobe $m failed: $said"
      echo "$m: $said" | tr '\n' ' ' >> /run/ih-modules-failed
      echo >> /run/ih-modules-failed
    fi
  done
fi
# No udev in this guest: libdevmapper must not wait for udev cookies.
export DM_DISABLE_UDEV=1
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
echo "ih-init: starting agent"
exec /bin/ih-agent
