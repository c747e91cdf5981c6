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
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(messages::kWorkerAnnounceMs),
                         [this] { return stopping_; })) {
      lock.unlock();
      announce();
      lock.lock();
    }
  });
}

WorkerAnnouncer::~WorkerAnnouncer() {
  stop();
}

void WorkerAnnouncer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
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
