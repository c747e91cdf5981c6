#!/bin/busybox sh
# shellcheck shell=dash
# /init of the KVM lab's level-1 VM (see run.sh): loads the modules, mounts the host's root
# (read-only) and the shared folders over 9p, chroots into the host root and runs the command
# that run.sh wrote to the control share, then powers off.
#
# Channels to run.sh: ttyS0 is the console (boot noise, and "kvm-lab:" lines from here, which
# run.sh shows when something fails); ttyS1 and ttyS2 carry the command's stdout and stderr; the
# control share (9p tag "ctl") brings the command in and its exit status and timings out.
# busybox sh has no pipefail or process substitution, hence the FIFOs below.
set -u
/bin/busybox mkdir -p /proc /sys /dev /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The kernel opens /dev/console before /init only if the initramfs has the node.
exec </dev/console >/dev/console 2>&1

say() { echo "kvm-lab: [$(cut -d' ' -f1 /proc/uptime)] $*"; }
# A lab failure (not the command's): the reason goes to the console and, once the control share
# is up, to ctl/lab-error, which run.sh prints; then the VM stops.
lab_fail() {
  say "LAB ERROR: $*"
  [ -d /ctl/in ] && echo "$*" >/ctl/lab-error
  sync
  poweroff -f
  sleep 5
  reboot -f
}

say "init started"
# Dependency order was computed by run.sh from each module's .modinfo.
while read -r mod; do
  insmod "/lib/modules/$mod.ko" || lab_fail "insmod $mod failed: $(dmesg | tail -n 3)"
done </modules.order

ninep="trans=virtio,version=9p2000.L,msize=512000"
mkdir -p /ctl
mount -t 9p -o "$ninep,cache=none" ctl /ctl || lab_fail "cannot mount the control share (9p tag ctl)"
[ -d /ctl/in ] || lab_fail "control share has no in/ (run.sh did not write the command)"
say "modules loaded"
# Written first so run.sh can tell "the lab booted" from "the lab never came up".
cut -d' ' -f1 /proc/uptime >/ctl/t-booted

[ -c /dev/kvm ] || lab_fail "no /dev/kvm after loading kvm-amd; dmesg: $(dmesg | grep -iE 'kvm|svm' | tail -n 5)"

# The host's root, read-only. cache=loose lets the guest cache metadata and pages: every stat
# over 9p is a round trip through emulated virtio, and the host's files are not expected to
# change under a lab run (the writable shares below are not cached that way).
mkdir -p /host
mount -t 9p -o "ro,$ninep,cache=loose" host /host || lab_fail "cannot mount the host's root (9p tag host)"
for d in tmp run var/tmp; do
  mount -t tmpfs -o mode=1777 tmpfs "/host/$d" || lab_fail "cannot mount tmpfs on /$d"
done
mount -t devtmpfs devtmpfs /host/dev || lab_fail "cannot mount /dev"
mkdir -p /host/dev/pts /host/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /host/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm
mount -t proc proc /host/proc || lab_fail "cannot mount /proc"
mount -t sysfs sysfs /host/sys || lab_fail "cannot mount /sys"
# cgroup v1 hierarchies laid out as on the build machines (one controller per hierarchy, an
# empty cgroup2 at unified/), so the worker's and the jail's cgroup code finds what it expects.
mount -t tmpfs -o mode=755 cgroup /host/sys/fs/cgroup || lab_fail "cannot mount /sys/fs/cgroup"
for c in cpu cpuacct cpuset memory devices freezer blkio pids; do
  mkdir -p "/host/sys/fs/cgroup/$c"
  mount -t cgroup -o "$c" cgroup "/host/sys/fs/cgroup/$c" || lab_fail "cannot mount cgroup $c"
done
mkdir -p /host/sys/fs/cgroup/unified
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup/unified || lab_fail "cannot mount cgroup2"

# Writable shares at the same absolute path as on the host. A share under /tmp, /run or
# /var/tmp needs its mount point made in the tmpfs just mounted there.
i=0
while read -r dir; do
  [ -n "$dir" ] || continue
  mkdir -p "/host$dir" 2>/dev/null
  mount -t 9p -o "$ninep,cache=mmap" "share$i" "/host$dir" || lab_fail "cannot mount share $dir"
  i=$((i + 1))
done </ctl/in/shares

# The control share inside the chroot, where job.sh lives.
mkdir -p /host/run/kvm-lab
mount --bind /ctl/in /host/run/kvm-lab || lab_fail "cannot bind the control share"

hostname kvm-lab
ip link set lo up || lab_fail "cannot bring up lo"

# The command's output leaves through ttyS1/ttyS2 in raw mode (no \n -> \r\n). It writes to
# pipes, not to the serial lines, so it sees what it would under CI (isatty false).
for t in ttyS1 ttyS2; do
  stty -F "/dev/$t" raw -echo 115200 || lab_fail "cannot set up /dev/$t"
done
mkfifo /tmp-out /tmp-err
cat /tmp-out >/dev/ttyS1 &
out_pid=$!
cat /tmp-err >/dev/ttyS2 &
err_pid=$!

say "running the command"
cut -d' ' -f1 /proc/uptime >/ctl/t-start
chroot /host /bin/bash /run/kvm-lab/job.sh </dev/null >/tmp-out 2>/tmp-err
rc=$?
cut -d' ' -f1 /proc/uptime >/ctl/t-end

# Let the relays drain; a daemon the command left behind may hold the pipes open, so give up
# after 3 s rather than hang until the timeout.
n=0
while [ $n -lt 30 ] && { kill -0 $out_pid 2>/dev/null || kill -0 $err_pid 2>/dev/null; }; do
  sleep 0.1
  n=$((n + 1))
done
kill $out_pid $err_pid 2>/dev/null
wait

echo "$rc" >/ctl/status
sync
poweroff -f
