#!/usr/bin/env bash
# CTest kvm_lab_kvm_machine_boots_image: the kvm runtime (KvmMachine) inside the KVM lab boots our
# guest kernel with the python image's initramfs, the agent answers over the TAP and ends the VM
# by rebooting when the connection closes (tests/vmm/kvm_machine_boot.cpp).
#
#   tests/vmm/kvm_machine_boot.sh KVM_MACHINE_BOOT [AGENT BERTH_IMAGES SCRATCH_DIR]
# kernel: $BERTH_KERNEL, else images/kernel/build.sh; initramfs: $BERTH_INITRAMFS, else a python
# image packed with AGENT into SCRATCH_DIR (lab_python_image.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
prog=${1:?usage: kvm_machine_boot.sh KVM_MACHINE_BOOT}
kernel=${BERTH_KERNEL:-$("$repo/images/kernel/build.sh")}
initramfs=${BERTH_INITRAMFS:-}
if [ -z "$initramfs" ] && [ $# -ge 4 ]; then
  initramfs=$("$here/lab_python_image.sh" "$2" "$3" "$4") ||
    { echo "kvm_machine_boot: FAIL: could not pack the python image" >&2; exit 1; }
fi
[ -f "$kernel" ] || { echo "kvm_machine_boot: FAIL: no guest kernel at '$kernel'" >&2; exit 1; }
[ -f "$initramfs" ] || {
  echo "kvm_machine_boot: FAIL: no python initramfs (set BERTH_INITRAMFS or pass AGENT BERTH_IMAGES DIR)" >&2
  exit 1
}
echo "kvm_machine_boot: kernel $kernel, initramfs $initramfs ($(stat -c %s "$initramfs") bytes)"
exec "$repo/tests/kvm-lab/run.sh" --timeout "${BERTH_LAB_TIMEOUT:-500}" -- "$prog" "$kernel" "$initramfs"
