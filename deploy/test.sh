#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite with CTest. Tests start their
# own nats-server, gateway and worker on free loopback ports; the worker needs root (bridges,
# network namespaces, cgroups). Language images are built once into /var/cache/berth/images.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
./deploy/build.sh
# Build the images before the suites so no test's timeout includes a one-time build.
./build/release/images/berth-images build python bash
cd build/release
ctest --output-on-failure --timeout 900 "$@"
