#pragma once
// The worker's counters, rendered as Prometheus text on the status server's GET /metrics
// (DESIGN.md §6). The actors update them from any thread.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "base/histogram.hpp"

namespace berth::actors {

// What the metrics show besides the counters, read when they are rendered.
struct WorkerGauges {
  std::string worker_id;
  std::string runtime;  // "kvm" or "jail"
  uint32_t slots = 0;
  size_t running = 0;  // jobs with a supervisor
  bool nats_connected = false;
};

class WorkerMetrics {
 public:
  // A job reached a persisted terminal state with `verdict` ("ok", "time_limit", ...).
  void job_finished(std::string_view verdict);
  // A job went back to the queue: for another attempt (retry) or because the worker is stopping.
  void job_handed_back(bool retry) {
    (retry ? retried_ : given_back_).fetch_add(1, std::memory_order_relaxed);
  }
  // A machine's start to the agent's hello.
  void machine_booted(double seconds) { boot_seconds_.observe(seconds); }
  void machine_boot_failed() { boot_failures_.fetch_add(1, std::memory_order_relaxed); }

  std::string render(const WorkerGauges& g) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t, std::less<>> finished_;  // by verdict
  std::atomic<uint64_t> retried_{0};
  std::atomic<uint64_t> given_back_{0};
  std::atomic<uint64_t> boot_failures_{0};
  // A jail comes up in tens of ms, a microVM in well under a second on hardware, ~10 s in the lab.
  Histogram boot_seconds_{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120};
};

}  // namespace berth::actors
