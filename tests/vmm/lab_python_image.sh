#!/usr/bin/env bash
# Prints the path of a python initramfs whose /init is AGENT, packed into DIR, for the kvm-lab
# tests: the image must carry the agent of the build under test (an image key covers its agent).
# The rootfs layer is reused from $BERTH_IMAGE_DIR (default /var/cache/berth/images; hard links
# where possible), so this only packs (~2 s); with no layer there, berth-images builds one
# (mmdebstrap, about a minute).
#
#   tests/vmm/lab_python_image.sh AGENT BERTH_IMAGES DIR
set -euo pipefail
agent=${1:?usage: lab_python_image.sh AGENT BERTH_IMAGES DIR}
tool=${2:?usage: lab_python_image.sh AGENT BERTH_IMAGES DIR}
dir=${3:?usage: lab_python_image.sh AGENT BERTH_IMAGES DIR}
src=${BERTH_IMAGE_DIR:-/var/cache/berth/images}
mkdir -p "$dir/layers"
for cur in "$src"/layers/python-*.current; do
  [ -e "$cur" ] || continue
  cp -a "$cur" "$dir/layers/"
  layer=$(cat "$cur")
  [ -d "$src/layers/$layer" ] && [ ! -e "$dir/layers/$layer" ] &&
    { cp -al "$src/layers/$layer" "$dir/layers/" 2>/dev/null || cp -a "$src/layers/$layer" "$dir/layers/"; }
done
out=$("$tool" --image-dir "$dir" --agent "$agent" build python 2>&1) ||
  { echo "lab_python_image: berth-images failed: $out" >&2; exit 1; }
path=$(sed -n 's/^python: \([^ ]*\) .*/\1/p' <<<"$out" | tail -n 1)
[ -f "$path/initramfs.cpio.zst" ] || { echo "lab_python_image: no image in: $out" >&2; exit 1; }
echo "$path/initramfs.cpio.zst"
