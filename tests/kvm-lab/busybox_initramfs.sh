#!/usr/bin/env bash
# Packs a tiny busybox initramfs (gzip cpio) for booting our guest kernel in the KVM lab: static
# busybox at /bin/busybox, /init from INIT (a file, or stdin when INIT is "-" or omitted; it
# should start with `#!/bin/busybox sh`), empty /dev /proc, and an /etc/passwd and /etc/group with
# root and nobody (for checks that drop to uid 65534). Used by tests/kvm-lab/boot_guest_kernel.sh,
# tests/vmm/boot_kernel.sh and bench/vmm.
#
#   tests/kvm-lab/busybox_initramfs.sh OUT.cpio.gz [INIT|-]
#
# busybox: $BERTH_BUSYBOX if set, else the lab's cached busybox-static (tests/kvm-lab/run.sh
# --prepare fetches it; run here when missing). It must be statically linked.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: busybox_initramfs.sh OUT.cpio.gz [INIT|-]}
init=${2:--}
die() {
  echo "busybox_initramfs: $*" >&2
  exit 1
}

busybox=${BERTH_BUSYBOX:-}
if [ -z "$busybox" ]; then
  find_lab_busybox() {
    ls -d "${BERTH_LAB_CACHE:-/var/cache/berth/kvm-lab}"/unpacked/busybox-static_*/bin/busybox 2>/dev/null |
      tail -n 1
  }
  busybox=$(find_lab_busybox)
  if [ -z "$busybox" ]; then
    "$here/run.sh" --prepare >/dev/null 2>&1 || die "tests/kvm-lab/run.sh --prepare failed (it fetches busybox-static)"
    busybox=$(find_lab_busybox)
  fi
fi
[ -f "$busybox" ] || die "no static busybox found (set BERTH_BUSYBOX)"
file -L "$busybox" 2>/dev/null | grep -q "statically linked" ||
  die "$busybox is not a static busybox (apt-get install busybox-static, or set BERTH_BUSYBOX)"

root=$(mktemp -d "${TMPDIR:-/tmp}/busybox-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
chmod 755 "$root" # it becomes the guest's /, which mktemp made 0700: uid 65534 could not run /bin/sh
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/etc"
cp "$busybox" "$root/bin/busybox"
# busybox's setpriv has no --reuid (nor "all" caps), so a check dropping to nobody uses su,
# which needs these two.
printf 'root:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
if [ "$init" = - ]; then
  cat >"$root/init"
else
  cp "$init" "$root/init"
fi
[ -s "$root/init" ] || die "empty /init"
chmod 755 "$root/init"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | cpio -o -H newc --quiet -R 0:0 | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
