#pragma once
// The gateway's counters, rendered as Prometheus text on GET /metrics (DESIGN.md §6).
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "base/histogram.hpp"

namespace berth::gateway {

class Metrics {
 public:
  // One finished HTTP request: its status code and how long it took (streams included).
  void request(int code, double seconds);
  void job_submitted() { jobs_submitted_.fetch_add(1, std::memory_order_relaxed); }
  void nats_request(bool ok) {
    (ok ? nats_requests_ok_ : nats_requests_failed_).fetch_add(1, std::memory_order_relaxed);
  }
  std::string render(bool nats_connected) const;

 private:
  mutable std::mutex m_;
  std::map<int, uint64_t> by_code_;
  Histogram request_seconds_{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120};
  std::atomic<uint64_t> jobs_submitted_{0};
  std::atomic<uint64_t> nats_requests_ok_{0};
  std::atomic<uint64_t> nats_requests_failed_{0};
};

}  // namespace berth::gateway
