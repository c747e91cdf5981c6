#include "actors/worker_announcer.hpp"

#include <spdlog/spdlog.h>

#include "messages/clock.hpp"
#include "messages/codec.hpp"

namespace berth::actors {

WorkerAnnouncer::WorkerAnnouncer(std::unique_ptr<nats::KeyValue> bucket,
                                 std::function<messages::WorkerInfo()> current)
    : bucket_(std::move(bucket)), current_(std::move(current)) {
  key_ = current_().worker_id;
  announce();  // before the first job: a gateway may be waiting to learn this worker's policy
  task_.emplace(std::chrono::milliseconds(messages::kWorkerAnnounceMs), [this] { announce(); });
}

WorkerAnnouncer::~WorkerAnnouncer() {
  stop();
}

void WorkerAnnouncer::stop() {
  if (!task_) return;
  task_.reset();
  if (auto r = bucket_->erase(key_); !r)
    spdlog::warn("worker announcement {} not withdrawn ({}); it expires on its own", key_,
                 r.error());
}

void WorkerAnnouncer::announce() {
  auto info = current_();
  info.announced_ms = messages::now_ms();
  if (auto r = bucket_->put(key_, messages::encode(info)); !r)
    spdlog::warn("worker announcement not written: {}", r.error());
}

}  // namespace berth::actors
