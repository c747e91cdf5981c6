#pragma once
// What the worker's status server answers (actors/status_server.hpp):
//   GET /healthz  200 {"status": "ok", "worker_id", "runtime", "runtime_reason", "nats":
//                 "connected", "slots", "running"}; 503 with "status": "degraded" and "nats":
//                 "disconnected" while NATS is away (no job can be pulled or persisted then);
//                 503 with "status": "starting" until the worker has its stream and consumer.
//   GET /metrics  Prometheus text (actors/worker_metrics.hpp).
#include "actors/status_server.hpp"
#include "actors/worker.hpp"

namespace berth::actors {

StatusServer::Handler worker_status_handler(Worker& w);

}  // namespace berth::actors
