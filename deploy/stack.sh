#!/usr/bin/env bash
# Starts or stops a local berth stack: nats-server (JetStream under $BERTH_STATE/nats), one
# berth-worker and one berth-gateway, logs under $BERTH_STATE/logs.
#   deploy/stack.sh start | stop | status
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=$root/build/release
state=${BERTH_STATE:-$root/state}
port=${BERTH_NATS_PORT:-4222}
http=${BERTH_HTTP_PORT:-8080}
status_port=${BERTH_WORKER_STATUS_PORT:-9470}
mkdir -p "$state/logs" "$state/nats" "$state/worker"

start_one() {  # name, command...
  local name=$1; shift
  if [ -f "$state/$name.pid" ] && kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then
    echo "stack: $name already running"; return
  fi
  "$@" >>"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/$name.pid"
}

wait_for() {  # what, command...
  local what=$1; shift
  for _ in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "stack: $what did not come up; see $state/logs" >&2; return 1
}

case "${1:-}" in
start)
  start_one nats nats-server -c "$root/deploy/nats-server.conf" -p "$port" --store_dir "$state/nats"
  wait_for nats-server bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
  # The guest kernel deploy/build.sh built (cached: printed at once). With it, runtime = auto
  # runs jobs in microVMs where /dev/kvm is hardware-backed, and in the jail elsewhere; the
  # worker's log and its /healthz say which and why.
  kernel=$("$root/images/kernel/build.sh" 2>/dev/null) || kernel=""
  start_one worker "$bin/actors/berth-worker" --nats-url "nats://127.0.0.1:$port" \
    --state-dir "$state/worker" --agent-path "$bin/agent/berth-agent" \
    ${kernel:+--kernel "$kernel"} --status-listen "127.0.0.1:$status_port"
  start_one gateway "$bin/gateway/berth-gateway" --nats-url "nats://127.0.0.1:$port" \
    --listen "127.0.0.1:$http"
  wait_for gateway bash -c "exec 3<>/dev/tcp/127.0.0.1/$http"
  wait_for worker grep -q "pulling from" "$state/logs/worker.log"
  echo "stack: up — gateway http://127.0.0.1:$http, nats nats://127.0.0.1:$port, state $state"
  echo "stack: worker $(grep -m1 -o 'runtime [a-z]* ([^)]*)' "$state/logs/worker.log" | tail -n 1 || true);" \
    "status http://127.0.0.1:$status_port/healthz and /metrics"
  ;;
stop)
  for name in gateway worker nats; do
    if [ -f "$state/$name.pid" ]; then
      pid=$(cat "$state/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$state/$name.pid"
    fi
  done
  echo "stack: stopped"
  ;;
status)
  for name in nats worker gateway; do
    if [ -f "$state/$name.pid" ] && kill -0 "$(cat "$state/$name.pid")" 2>/dev/null; then
      echo "$name: running (pid $(cat "$state/$name.pid"))"
    else
      echo "$name: stopped"
    fi
  done
  ;;
*) echo "usage: deploy/stack.sh start|stop|status" >&2; exit 2 ;;
esac
