#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a job's output: installs dependencies, builds
# berth and the python and bash images, starts a local stack, runs examples/hello.py through
# the berth CLI, and stops the stack (unless --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = "--keep" ] && keep=1

./deploy/install-deps.sh
./deploy/build.sh
./build/release/images/berth-images build python bash
./deploy/stack.sh start
[ "$keep" = 1 ] || trap './deploy/stack.sh stop' EXIT

echo "\$ berth run -l python examples/hello.py"
set +e
./build/release/gateway/berth --gateway "http://127.0.0.1:${BERTH_HTTP_PORT:-8080}" \
  run -l python examples/hello.py
status=$?
set -e
[ "$keep" = 1 ] && echo "stack kept up: ./deploy/stack.sh stop when done"
exit $status
