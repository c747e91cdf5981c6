#pragma once
// The live workers, as they announce themselves in berth_workers (messages/worker_info.hpp):
// what the gateway knows of the fleet's policies without reading any file of a worker's. Read
// at most once a second; between reads every request sees the same answer.
#include <chrono>
#include <expected>
#include <mutex>
#include <vector>

#include "gateway/api_error.hpp"
#include "gateway/job_store.hpp"
#include "messages/worker_info.hpp"

namespace berth::gateway {

class WorkerDirectory {
 public:
  explicit WorkerDirectory(JobStore& store) : store_(store) {}

  // Workers whose announcement has not expired; 503 when the bucket cannot be read.
  std::expected<std::vector<messages::WorkerInfo>, ApiError> live();

  // 400 "network access is disabled on this deployment" unless a live worker has egress = nat.
  std::expected<void, ApiError> check_network_allowed();

 private:
  JobStore& store_;
  std::mutex mu_;
  std::vector<messages::WorkerInfo> cached_;
  std::chrono::steady_clock::time_point read_at_{};
  bool have_ = false;
};

}  // namespace berth::gateway
