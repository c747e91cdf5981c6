#pragma once
// Publishes this worker's WorkerInfo (messages/worker_info.hpp) to berth_workers at start and
// every kWorkerAnnounceMs, from a thread of its own, and deletes it on a clean stop; a worker
// that dies simply stops announcing and its entry expires with the bucket's TTL.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/periodic_task.hpp"
#include "messages/nats/kv.hpp"
#include "messages/worker_info.hpp"

namespace berth::actors {

class WorkerAnnouncer {
 public:
  // `current` is asked for the announcement each time (running jobs change).
  WorkerAnnouncer(std::unique_ptr<nats::KeyValue> bucket,
                  std::function<messages::WorkerInfo()> current);
  ~WorkerAnnouncer();  // stop()
  WorkerAnnouncer(const WorkerAnnouncer&) = delete;
  WorkerAnnouncer& operator=(const WorkerAnnouncer&) = delete;

  void stop();

 private:
  void announce();

  std::unique_ptr<nats::KeyValue> bucket_;
  std::function<messages::WorkerInfo()> current_;
  std::string key_;
  std::optional<PeriodicTask> task_;
};

}  // namespace berth::actors
