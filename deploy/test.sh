#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite with CTest. Tests start their
# own nats-server, gateway and worker on free loopback ports; the worker needs root (bridges,
# network namespaces, cgroups). Language images are built once into /var/cache/berth/images.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
./deploy/build.sh
# Build every language's image before the suites so no test's timeout includes a one-time
# build (cached in /var/cache/berth/images: a few minutes per language the first time, a
# repack of seconds when only the agent changed, nothing when nothing changed).
./build/release/images/berth-images build
cd build/release
ctest --output-on-failure --timeout 900 "$@"
