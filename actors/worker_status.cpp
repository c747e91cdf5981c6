#include "actors/worker_status.hpp"

#include <nlohmann/json.hpp>

namespace berth::actors {

namespace {

WorkerGauges gauges(Worker& w) {
  WorkerGauges g;
  g.worker_id = w.cfg.worker_id;
  g.runtime = w.runtime.name;
  g.slots = w.cfg.slots;
  g.running = w.supervisors.size();
  g.nats_connected = w.ready.load(std::memory_order_acquire) && w.conn->connected();
  return g;
}

}  // namespace

StatusServer::Handler worker_status_handler(Worker& w) {
  return [&w](std::string_view path) -> std::optional<StatusResponse> {
    if (path == "/healthz") {
      auto g = gauges(w);
      bool ready = w.ready.load(std::memory_order_acquire);
      nlohmann::json j = {{"status", !ready             ? "starting"
                                     : g.nats_connected ? "ok"
                                                        : "degraded"},
                          {"worker_id", g.worker_id},
                          {"runtime", g.runtime},
                          {"runtime_reason", w.runtime.reason},
                          {"nats", g.nats_connected ? "connected" : "disconnected"},
                          {"slots", g.slots},
                          {"running", g.running}};
      return StatusResponse{g.nats_connected ? 200 : 503, "application/json", j.dump() + "\n"};
    }
    if (path == "/metrics")
      return StatusResponse{200, "text/plain; version=0.0.4", w.metrics.render(gauges(w))};
    return std::nullopt;
  };
}

}  // namespace berth::actors
