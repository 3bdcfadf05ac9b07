#!/bin/busybox sh
# PID 1 of the lab guest (busybox sh in the initramfs). Brings up the devices,
# network and state disk, starts labd and the boot hooks, then stays alive
# reaping orphans. Progress lines start with "lab:" on the serial console.

/bin/busybox --install -s /bin
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
# No udev in the guest: libdevmapper (dmsetup) creates /dev/mapper nodes itself.
export DM_DISABLE_UDEV=1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /run/lab /var/lib/dsimage
hostname "$(cat /etc/lab/name 2>/dev/null || echo lab)"
echo "lab: init started after $(cut -d' ' -f1 /proc/uptime)s"

# crc32c_generic comes first: libcrc32c (dm-persistent-data, hence dm-era)
# only soft-depends on it, which busybox modprobe does not follow.
while read -r m; do
    modprobe "$m" || echo "lab: modprobe $m failed"
done </etc/lab/modules

# Disks and NIC are probed asynchronously after their modules load.
state=""
i=0
while [ $i -lt 100 ]; do
    for f in /sys/block/*/serial; do
        [ "$(cat "$f" 2>/dev/null)" = state ] && state="/dev/${f#/sys/block/}" && state="${state%/serial}"
    done
    [ -n "$state" ] && [ -e "$state" ] && [ -e /sys/class/net/eth0 ] && break
    i=$((i + 1))
    sleep 0.1
done

ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    ip addr add 10.0.2.15/24 dev eth0
    ip route add default via 10.0.2.2
else
    echo "lab: no eth0"
fi

if [ -n "$state" ]; then
    # The journal replays on mount; fsck only when that is not enough
    # (a power cut at a bad moment).
    if ! mount -t ext4 "$state" /var/lib/dsimage; then
        echo "lab: state disk does not mount, running e2fsck"
        e2fsck -y "$state"
        mount -t ext4 "$state" /var/lib/dsimage || echo "lab: state disk unusable"
    fi
else
    echo "lab: no state disk"
fi

# labd is the host's only way in: restart it if it ever dies.
(
    while :; do
        labd
        echo "lab: labd exited with $?, restarting"
        sleep 1
    done
) >>/run/lab/labd.log 2>&1 &

# Boot hooks: one baked into the initramfs (LabConfig::boot_hook) and one the
# guest may leave on the state disk so it survives reboots.
for hook in /etc/lab/boot-hook /var/lib/dsimage/boot-hook; do
    if [ -f "$hook" ]; then
        echo "lab: running $hook"
        sh "$hook" >>/run/lab/boot-hook.log 2>&1 &
    fi
done

echo "lab: ready after $(cut -d' ' -f1 /proc/uptime)s"

# PID 1 must never exit (the kernel would panic). Waiting for a foreground
# child makes ash call waitpid(-1), which also reaps reparented orphans.
while :; do
    sleep 3600
done
