#!/usr/bin/env bash
# CTest kvm_lab_containment: the containment suite (containment_test.cpp) with runtime = kvm,
# in one KVM lab run: every job in a microVM of our monitor, jailed in its own process.
#
#   tests/containment/kvm_lab.sh CONTAINMENT_TEST BIN_DIR IMAGE_DIR
# IMAGE_DIR: scratch, where the python image is packed with BIN_DIR's agent and which is shared
# writable into the lab. Kernel: $BERTH_KERNEL, else images/kernel/build.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
prog=${1:?usage: kvm_lab.sh CONTAINMENT_TEST BIN_DIR IMAGE_DIR}
bin=${2:?usage: kvm_lab.sh CONTAINMENT_TEST BIN_DIR IMAGE_DIR}
images=${3:?usage: kvm_lab.sh CONTAINMENT_TEST BIN_DIR IMAGE_DIR}
kernel=${BERTH_KERNEL:-$("$repo/images/kernel/build.sh")}
mkdir -p "$images"
"$repo/tests/vmm/lab_python_image.sh" "$bin/agent/berth-agent" "$bin/images/berth-images" \
  "$images" >/dev/null
exec "$repo/tests/kvm-lab/run.sh" --timeout "${BERTH_LAB_TIMEOUT:-1400}" --share "$images" -- \
  env BERTH_TEST_RUNTIME=kvm BERTH_TEST_KERNEL="$kernel" BERTH_TEST_IMAGE_DIR="$images" \
  BERTH_TEST_SCRATCH=/tmp/containment \
  "$prog" --gtest_brief=1
