#!/usr/bin/env bash
# CTest kvm_lab_boots_guest_kernel: our microVM guest kernel (images/kernel/) boots as a
# level-2 guest under `qemu -accel kvm -M microvm` inside the KVM lab, runs the /init of a tiny
# busybox initramfs, and reboots through the i8042 reset. Proves the guest kernel config and
# nested KVM together; prints the guest's timestamp of /init's marker and QEMU's wall time.
#
# On the host: finds the kernel ($BERTH_KERNEL, else images/kernel/build.sh, cached), builds
# the tiny initramfs into a scratch folder shared with the lab, and runs itself inside the lab
# with --inside; back on the host it checks the guest's console log for the marker.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
marker="berth-kvm-lab: guest /init reached"

if [ "${1:-}" = "--inside" ]; then
  # Inside the lab: $2 is the shared scratch folder with bzImage and initramfs.
  dir=$2
  [ -c /dev/kvm ] || { echo "boot_guest_kernel: no /dev/kvm in the lab" >&2; exit 1; }
  start=$(date +%s%N)
  # -no-reboot: the guest's reboot (reboot=k: i8042 reset) ends QEMU; panic=-1 turns a panic
  # into the same. Whatever the guest prints is in console.log; the host checks it.
  # -device i8042: QEMU's microvm has none (our monitor does), and without one the guest's
  # reboot=k polls the absent controller's port for minutes here before it triple-faults.
  rc=0
  timeout 240 qemu-system-x86_64 -accel kvm -M microvm,acpi=off -cpu host -m 256 -smp 1 \
    -nographic -monitor none -no-reboot -nic none -device i8042 \
    -kernel "$dir/bzImage" -initrd "$dir/initramfs.cpio.gz" \
    -append "console=ttyS0 reboot=k panic=-1" </dev/null >"$dir/console.log" 2>"$dir/qemu.log" ||
    rc=$?
  end=$(date +%s%N)
  echo "$(((end - start) / 1000000))" >"$dir/wall_ms"
  echo "$rc" >"$dir/qemu_rc"
  exit 0
fi

dir=$(mktemp -d /tmp/kvm-lab-l2.XXXXXX)
trap 'rm -rf "$dir"' EXIT

if [ -n "${BERTH_KERNEL:-}" ]; then
  kernel=$BERTH_KERNEL
else
  echo "boot_guest_kernel: building or finding the guest kernel with images/kernel/build.sh"
  kernel=$("$here/../../images/kernel/build.sh") ||
    { echo "boot_guest_kernel: FAIL: images/kernel/build.sh failed (see above)" >&2; exit 1; }
fi
[ -f "$kernel" ] || { echo "boot_guest_kernel: FAIL: no kernel at $kernel" >&2; exit 1; }
echo "boot_guest_kernel: kernel $kernel ($(stat -c %s "$kernel") bytes)"
cp "$kernel" "$dir/bzImage"

# The tiny initramfs (busybox_initramfs.sh): static busybox from the lab's cache and an /init
# that logs the marker through /dev/kmsg, so it carries the kernel's timestamp, and reboots.
# After the marker, /init checks a few kernel features the agent relies on (cgroup v1
# hierarchies, tmpfs, sysctl, urandom, netlink, dropping to uid 65534 without capabilities);
# a "check ... FAIL" line fails the test.
"$here/busybox_initramfs.sh" "$dir/initramfs.cpio.gz" <<EOF ||
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t proc proc /proc
echo "$marker" >/dev/kmsg
echo "uptime at /init: \$(/bin/busybox cut -d' ' -f1 /proc/uptime) s"
/bin/busybox --install -s /bin
export PATH=/bin
check() { n=\$1; shift; if "\$@" >/dev/null 2>&1; then echo "check \$n: ok"; else echo "check \$n: FAIL"; fi; }
mkdir -p /sys /tmp /cg/memory /cg/pids /cg/cpuacct
check sysfs mount -t sysfs sysfs /sys
check tmpfs mount -t tmpfs -o size=1m tmpfs /tmp
check cgroup-memory mount -t cgroup -o memory cgroup /cg/memory
check cgroup-pids mount -t cgroup -o pids cgroup /cg/pids
check cgroup-cpuacct mount -t cgroup -o cpuacct cgroup /cg/cpuacct
check proc-sys test -e /proc/sys/kernel/pid_max
check urandom sh -c 'test \$(head -c 16 /dev/urandom | wc -c) = 16'
check netlink-lo ip link set lo up
check no-new-privs sh -c 'setpriv --nnp --inh-caps=-chown cat /proc/self/status | grep -q "^NoNewPrivs:.*1"'
check setuid-nobody sh -c 'test "\$(su -s /bin/sh -c "id -u" nobody)" = 65534'
reboot -f
EOF
  { echo "boot_guest_kernel: FAIL: could not pack the busybox initramfs" >&2; exit 1; }

rc=0
"$here/run.sh" --timeout "${BERTH_LAB_TIMEOUT:-500}" --share "$dir" -- "$0" --inside "$dir" || rc=$?
[ "$rc" = 0 ] || { echo "boot_guest_kernel: FAIL: the KVM lab failed (exit $rc, reason above)" >&2; exit 1; }

echo "--- level-2 guest console (from QEMU microvm inside the lab) ---"
tr -d '\r' <"$dir/console.log" | tail -n 40
echo "---"
qemu_rc=$(cat "$dir/qemu_rc")
wall_ms=$(cat "$dir/wall_ms")
if ! grep -qF "$marker" "$dir/console.log"; then
  echo "boot_guest_kernel: FAIL: the marker '$marker' is not in the guest's console" \
    "(QEMU exit $qemu_rc after $wall_ms ms; QEMU said: $(tail -n 5 "$dir/qemu.log"))" >&2
  exit 1
fi
if grep -q '^check .*: FAIL' "$dir/console.log"; then
  echo "boot_guest_kernel: FAIL: the guest kernel lacks features the agent needs:" \
    "$(grep '^check .*: FAIL' "$dir/console.log" | tr -d '\r' | tr '\n' ' ')" >&2
  exit 1
fi
stamp=$(grep -F "$marker" "$dir/console.log" | head -n 1 | sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
if [ "$(grep -cF "$marker" "$dir/console.log")" != 1 ] || [ "$qemu_rc" != 0 ]; then
  # The guest must end QEMU by its reboot (i8042 reset, -no-reboot); a second boot or a
  # timeout means the reset path is broken.
  echo "boot_guest_kernel: FAIL: /init ran, but the guest's reboot did not end QEMU" \
    "(QEMU exit $qemu_rc after $wall_ms ms, marker seen $(grep -cF "$marker" "$dir/console.log") times)" >&2
  exit 1
fi
# Two guest clocks: the printk timestamp (local_clock, which jumps when the nested TSC is marked
# stable) and /proc/uptime (kvm-clock); the wall time of the whole QEMU run is the solid figure.
uptime=$(tr -d '\r' <"$dir/console.log" | sed -n 's/^uptime at \/init: \([0-9.]*\) s$/\1/p' | head -n 1)
echo "boot_guest_kernel: OK: marker seen; at /init: printk ${stamp:-?} s, /proc/uptime ${uptime:-?} s;" \
  "QEMU start to exit ${wall_ms} ms wall (lab clock)"
