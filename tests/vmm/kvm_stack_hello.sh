#!/usr/bin/env bash
# The whole stack with runtime = kvm inside the KVM lab: nats-server, berth-gateway and
# berth-worker --runtime kvm started in one lab run, then `berth run -l python examples/hello.py`
# must print the program's output (a microVM per job: our monitor, our kernel, the python image),
# an endless loop with a 3 s wall limit must end time_limit, and a cancelled job cancelled. The
# worker's /healthz must name the kvm runtime, and after the jobs its thread and fd counts must
# be back where they were after the first job (each VM's vCPU and event-loop threads, KVM fds,
# eventfds and TAP went with it), with no TAP and no address lease left.
#
#   tests/vmm/kvm_stack_hello.sh BIN_DIR IMAGE_DIR
# BIN_DIR: a build tree with actors/berth-worker, gateway/berth-gateway, gateway/berth,
# agent/berth-agent and images/berth-images; IMAGE_DIR: a scratch image dir, where the python
# image is packed with that agent (lab_python_image.sh) and which is shared writable into the
# lab. Kernel: $BERTH_KERNEL, else images/kernel/build.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ "${1:-}" = "--inside" ]; then
  bin=$2 images=$3 kernel=$4
  s=/tmp/stack
  mkdir -p "$s/nats" "$s/worker"
  pids=()
  cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
  trap cleanup EXIT
  show_logs() { for f in "$s"/*.log; do echo "--- $f"; tail -n 40 "$f"; done; }
  nats-server -c "$repo/deploy/nats-server.conf" -p 4222 --store_dir "$s/nats" >"$s/nats.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.2; done
  "$bin/actors/berth-worker" --nats-url nats://127.0.0.1:4222 --state-dir "$s/worker" \
    --agent-path "$bin/agent/berth-agent" --image-dir "$images" --runtime kvm --kernel "$kernel" \
    --slots 1 --boot-timeout-ms 120000 >"$s/worker.log" 2>&1 &
  pids+=($!)
  "$bin/gateway/berth-gateway" --nats-url nats://127.0.0.1:4222 --listen 127.0.0.1:8080 \
    >"$s/gateway.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do grep -q "pulling from" "$s/worker.log" 2>/dev/null && break; sleep 0.2; done
  grep -q "pulling from" "$s/worker.log" || { echo "stack: the worker did not start"; show_logs; exit 1; }
  for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break; sleep 0.2; done
  grep -m1 "runtime" "$s/worker.log" || true
  wpid=${pids[1]}
  status() { /usr/bin/python3 -c 'import sys, urllib.request as u
try: print(u.urlopen("http://127.0.0.1:9470" + sys.argv[1], timeout=5).read().decode())
except Exception as e: print("status server: %s" % e)' "$1"; }
  health=$(status /healthz)
  echo "--- worker /healthz: $health"
  grep -q '"runtime":"kvm"' <<<"$health" || { echo "stack: /healthz does not name the kvm runtime"; show_logs; exit 1; }
  # Threads and fds of the worker once no job has a machine (the result is persisted just before
  # the machine is torn down, so wait for the running gauge to drop).
  idle_counts() {
    for _ in $(seq 1 100); do status /metrics | grep -qx "berth_worker_jobs_running 0" && break; sleep 0.1; done
    echo "$(ls "/proc/$wpid/task" | wc -l) threads, $(ls "/proc/$wpid/fd" | wc -l) fds"
  }
  start=$EPOCHREALTIME
  rc=0
  # A generous wall limit: python's start in a level-2 guest of an emulated host is slow, and
  # slower still while the host is busy (the default 5 s was seen to run out).
  out=$("$bin/gateway/berth" --gateway http://127.0.0.1:8080 run -l python --wall-ms 60000 \
    --cpu-ms 60000 "$repo/examples/hello.py" 2>&1) || rc=$?
  end=$EPOCHREALTIME
  echo "--- berth run (exit $rc, $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%d", (b - a) * 1000 }') ms):"
  echo "$out"
  # After the first job: CAF, NATS and the image store have made their threads and fds.
  baseline=$(idle_counts)
  echo "--- worker after the first job: $baseline"
  # An endless loop must end time_limit (the agent's wall limit inside the microVM).
  echo 'while True: pass' >"$s/loop.py"
  start=$EPOCHREALTIME
  loop_out=$("$bin/gateway/berth" --gateway http://127.0.0.1:8080 run -l python --wall-ms 3000 \
    "$s/loop.py" 2>&1) || true
  end=$EPOCHREALTIME
  echo "--- berth run loop.py --wall-ms 3000 ($(awk -v a="$start" -v b="$end" 'BEGIN { printf "%d", (b - a) * 1000 }') ms):"
  echo "$loop_out"
  # A cancel of a running job must end it cancelled, and its address lease must come back.
  field() { /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
  cli=("$bin/gateway/berth" --gateway http://127.0.0.1:8080)
  id=$("${cli[@]}" submit -l python --wall-ms 60000 "$s/loop.py")
  state=""
  for _ in $(seq 1 300); do
    state=$("${cli[@]}" --json status "$id" | field 'r["state"]')
    [ "$state" = running ] && break
    sleep 0.2
  done
  start=$EPOCHREALTIME
  "${cli[@]}" cancel "$id" >/dev/null
  verdict=""
  for _ in $(seq 1 300); do
    verdict=$("${cli[@]}" --json status "$id" | field '(r.get("result") or {}).get("verdict", "")')
    [ -n "$verdict" ] && break
    sleep 0.1
  done
  end=$EPOCHREALTIME
  echo "--- cancel of a job in state '$state': verdict '$verdict' after $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%d", (b - a) * 1000 }') ms"
  [ "$verdict" = cancelled ] || { echo "stack: the cancelled job ended '$verdict'"; show_logs; exit 1; }
  leases=$(grep -c . "$s/worker/leases" 2>/dev/null || true)
  echo "--- leases held after the jobs: ${leases:-0}"
  [ "${leases:-0}" = 0 ] || { echo "stack: a lease was not released"; cat "$s/worker/leases"; exit 1; }
  after=""
  for _ in $(seq 1 50); do after=$(idle_counts); [ "$after" = "$baseline" ] && break; sleep 0.2; done
  echo "--- worker after all jobs: $after"
  [ "$after" = "$baseline" ] || { echo "stack: the worker kept threads or fds of ended VMs ($baseline before, $after after)"; ls -l "/proc/$wpid/fd"; exit 1; }
  echo "--- worker log (tail)"
  tail -n 25 "$s/worker.log"
  left=$(ip -o link show 2>/dev/null | grep -c ' bt' || true)
  echo "--- TAP devices left: $left"
  if [ "$rc" != 0 ] || ! grep -q "Hello from berth!" <<<"$out"; then show_logs; exit 1; fi
  grep -q "time_limit" <<<"$loop_out" || { echo "stack: the endless loop did not end time_limit"; show_logs; exit 1; }
  [ "$left" = 0 ] || { echo "stack: a TAP device was left behind"; exit 1; }
  echo "kvm_stack_hello: OK"
  exit 0
fi

bin=$(realpath "${1:?usage: kvm_stack_hello.sh BIN_DIR IMAGE_DIR}")
mkdir -p "${2:?usage: kvm_stack_hello.sh BIN_DIR IMAGE_DIR}"
images=$(realpath "$2")
"$here/lab_python_image.sh" "$bin/agent/berth-agent" "$bin/images/berth-images" "$images" >/dev/null ||
  { echo "kvm_stack_hello: FAIL: could not pack the python image" >&2; exit 1; }
kernel=${BERTH_KERNEL:-$("$repo/images/kernel/build.sh")}
[ -f "$kernel" ] || { echo "kvm_stack_hello: FAIL: no guest kernel at '$kernel'" >&2; exit 1; }
exec "$repo/tests/kvm-lab/run.sh" --timeout "${BERTH_LAB_TIMEOUT:-500}" --share "$images" -- \
  "$0" --inside "$bin" "$images" "$kernel"
