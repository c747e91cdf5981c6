#!/usr/bin/env bash
# CTest kvm_lab_berth_vmm_boots_kernel: our guest kernel (images/kernel/) boots under OUR monitor
# (berth-vmm) inside the KVM lab with a tiny busybox initramfs whose /init prints a marker and
# reboots; berth-vmm must exit 0 (guest reset) with the marker on its console.
#
# Prints: ms from berth-vmm's start to its first console line and to the marker (lab clock,
# timestamped as lines arrive), the guest's own uptime at /init, and berth-vmm's peak RSS.
#
#   tests/vmm/boot_kernel.sh BERTH_VMM          kernel: $BERTH_KERNEL, else images/kernel/build.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
marker="berth-vmm-boot: guest /init reached"

if [ "${1:-}" = "--inside" ]; then
  # Inside the lab: $2 berth-vmm, $3 the shared scratch folder.
  vmm=$2 dir=$3
  [ -c /dev/kvm ] || { echo "boot_kernel: no /dev/kvm in the lab" >&2; exit 1; }
  set +e
  start=$EPOCHREALTIME
  # Each console line is stamped as it arrives ($EPOCHREALTIME: no fork per line).
  "$vmm" --kernel "$dir/bzImage" --initrd "$dir/initramfs.cpio.gz" --mem 256 --wall-limit 240 \
    --stats </dev/null 2>"$dir/vmm.err" |
    while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done >"$dir/console.log"
  echo "${PIPESTATUS[0]}" >"$dir/vmm_rc"
  echo "$start" >"$dir/start"
  exit 0
fi

vmm=${1:?usage: boot_kernel.sh BERTH_VMM}
dir=$(mktemp -d /tmp/berth-vmm-boot.XXXXXX)
trap 'rm -rf "$dir"' EXIT

if [ -n "${BERTH_KERNEL:-}" ]; then
  kernel=$BERTH_KERNEL
else
  echo "boot_kernel: building or finding the guest kernel with images/kernel/build.sh"
  kernel=$("$repo/images/kernel/build.sh") ||
    { echo "boot_kernel: FAIL: images/kernel/build.sh failed" >&2; exit 1; }
fi
[ -f "$kernel" ] || { echo "boot_kernel: FAIL: no kernel at $kernel" >&2; exit 1; }
echo "boot_kernel: kernel $kernel ($(stat -c %s "$kernel") bytes)"
cp "$kernel" "$dir/bzImage"

# The initramfs (tests/kvm-lab/busybox_initramfs.sh): static busybox and an /init that prints
# the marker on the console and reboots through the i8042 (berth-vmm's default command line has
# reboot=k).
"$repo/tests/kvm-lab/busybox_initramfs.sh" "$dir/initramfs.cpio.gz" <<INIT ||
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "$marker"
echo "uptime at /init: \$(/bin/busybox cut -d' ' -f1 /proc/uptime) s"
/bin/busybox reboot -f
INIT
  { echo "boot_kernel: FAIL: could not pack the busybox initramfs" >&2; exit 1; }

rc=0
"$repo/tests/kvm-lab/run.sh" --timeout "${BERTH_LAB_TIMEOUT:-500}" --share "$dir" -- \
  "$0" --inside "$vmm" "$dir" || rc=$?
[ "$rc" = 0 ] || { echo "boot_kernel: FAIL: the KVM lab failed (exit $rc)" >&2; exit 1; }

echo "--- guest console under berth-vmm (lab clock stamps) ---"
tr -d '\r' <"$dir/console.log" | tail -n 40
echo "--- berth-vmm stderr ---"
cat "$dir/vmm.err"
echo "---"
vmm_rc=$(cat "$dir/vmm_rc")
start=$(cat "$dir/start")
ms() { awk -v a="$start" -v b="$1" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
first=$(head -n 1 "$dir/console.log" | cut -d' ' -f1)
mark=$(grep -F "$marker" "$dir/console.log" | head -n 1 | cut -d' ' -f1 || true)
uptime=$(sed -n 's/^[0-9.]* uptime at \/init: \([0-9.]*\) s.*/\1/p' "$dir/console.log" | head -n 1)
hwm=$(sed -n 's/.*vm_hwm_kib=\([0-9]*\).*/\1/p' "$dir/vmm.err")
if [ -z "$mark" ]; then
  echo "boot_kernel: FAIL: the marker is not on the console (berth-vmm exit $vmm_rc)" >&2
  exit 1
fi
echo "boot_kernel: start->first console line $(ms "${first:-$start}") ms, start->marker $(ms "$mark") ms," \
  "guest uptime at /init ${uptime:-?} s, berth-vmm VmHWM ${hwm:-?} KiB, exit $vmm_rc"
[ "$vmm_rc" = 0 ] || { echo "boot_kernel: FAIL: berth-vmm exited $vmm_rc, not 0 (guest reset)" >&2; exit 1; }
echo "boot_kernel: OK"
