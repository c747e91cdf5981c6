#pragma once
// The gateway's view of NATS: one connection, the BERTH_JOBS stream and the berth_jobs bucket.
// Every call blocks (a NATS round trip, up to the JetStream timeout), so the HTTP server runs
// them on its blocking pool, never on an I/O thread. All are safe to call from many threads.
#include <atomic>
#include <condition_variable>
#include <expected>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "gateway/api_error.hpp"
#include "messages/job_record.hpp"
#include "messages/nats/connection.hpp"
#include "messages/nats/jetstream.hpp"
#include "messages/nats/kv.hpp"

namespace berth::gateway {

struct StoredRecord {
  messages::JobRecord record;
  uint64_t revision = 0;
};

class JobStore {
 public:
  // Connects (nats.c keeps retrying while the server is down) and starts a thread that creates
  // the stream and the bucket as soon as the server answers. Only a bad URL is an error here.
  static std::expected<std::unique_ptr<JobStore>, std::string> open(const std::string& nats_url);
  ~JobStore();

  nats::Connection& connection() { return *conn_; }
  bool connected() const { return conn_->connected(); }
  // 503 unless connected and the stream and bucket exist.
  std::expected<void, ApiError> ready() const;

  // The record under `id`; nullopt when there is none (or `id` cannot be a key).
  std::expected<std::optional<StoredRecord>, ApiError> get(const std::string& id);
  // Only when no record of that id exists yet.
  std::expected<uint64_t, ApiError> create(const messages::JobRecord& rec);
  // Compare-and-set on `revision`; a stale revision is Kind::conflict.
  std::expected<uint64_t, nats::KvError> update(const messages::JobRecord& rec, uint64_t revision);
  // Publishes the spec to the work queue with the job id as message id, so a retried publish
  // is deduplicated by the stream.
  std::expected<void, ApiError> publish_job(const messages::JobSpec& spec);
  // The berth_workers bucket's entries (messages/worker_info.hpp), undecoded.
  std::expected<std::map<std::string, nats::KvEntry>, ApiError> worker_entries();
  // Core NATS publish (events, cancels): fire and forget.
  std::expected<void, ApiError> publish(const std::string& subject, const std::string& data);

 private:
  JobStore() = default;
  void ensure_loop();

  std::unique_ptr<nats::Connection> conn_;
  std::string url_;
  // Set once by the ensure thread, then read-only; ready_ publishes them.
  std::unique_ptr<nats::JetStream> js_;
  std::unique_ptr<nats::KeyValue> kv_;
  std::unique_ptr<nats::KeyValue> workers_;
  std::atomic<bool> ready_{false};
  mutable std::mutex m_;
  std::string setup_error_;  // the last reason the stream or bucket could not be made
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread ensure_thread_;
};

}  // namespace berth::gateway
