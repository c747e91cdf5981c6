#!/usr/bin/env bash
# Configures and builds berth (release preset) into build/release, then the microVM guest
# kernel (images/kernel/build.sh: cached by config hash in /var/cache/berth/kernel, so only the
# first run, or a changed config, takes minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
kernel=$(./images/kernel/build.sh) # a plain assignment, so a failed kernel build fails here
echo "guest kernel: $kernel"
