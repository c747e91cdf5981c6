#!/usr/bin/env bash
# Installs everything berth needs on Debian 12, from Debian's packages only. Idempotent: a
# second run installs nothing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format
  libcaf-dev libnats-dev nats-server libmsgpack-cxx-dev
  libnl-3-dev libnl-route-3-dev libspdlog-dev libgtest-dev libboost-dev
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev liblz4-dev libzstd-dev libseccomp-dev
  # The worker's packet filter on its bridge (vmm/net/host_filter.cpp).
  libnftables-dev
  bubblewrap mmdebstrap iproute2
  # The jail tests' tiny root (tests/unit/jail): a static busybox, nothing else to install in it.
  busybox-static
  # The guest kernel (images/kernel/build.sh); zstd compresses its bzImage.
  linux-source-6.1 flex bison bc libelf-dev zstd
  # The KVM lab (tests/kvm-lab/run.sh): QEMU's emulated SVM CPU, cpio for its initramfs.
  qemu-system-x86 cpio
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
