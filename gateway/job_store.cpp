#include "gateway/job_store.hpp"

#include <spdlog/spdlog.h>

#include "gateway/job_request.hpp"
#include "messages/codec.hpp"
#include "messages/nats/buckets.hpp"
#include "messages/subjects.hpp"

namespace berth::gateway {

std::expected<std::unique_ptr<JobStore>, std::string> JobStore::open(const std::string& nats_url) {
  auto conn = nats::Connection::connect(nats_url, "berth-gateway");
  if (!conn) return std::unexpected(conn.error());
  std::unique_ptr<JobStore> s(new JobStore());
  s->conn_ = std::move(*conn);
  s->url_ = nats_url;
  s->setup_error_ = "not connected to " + nats_url + " yet";
  s->ensure_thread_ = std::thread([p = s.get()] { p->ensure_loop(); });
  return s;
}

JobStore::~JobStore() {
  {
    std::lock_guard lock(m_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (ensure_thread_.joinable()) ensure_thread_.join();
}

void JobStore::ensure_loop() {
  std::string last_logged;
  auto failed = [&](const std::string& why) {
    std::lock_guard lock(m_);
    setup_error_ = why;
    if (why != last_logged) spdlog::warn("nats: {}; retrying", why);
    last_logged = why;
  };
  std::unique_ptr<nats::JetStream> js;
  while (true) {
    {
      std::unique_lock lock(m_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(last_logged.empty() ? 0 : 500),
                       [&] { return stopping_; }))
        return;
    }
    if (!conn_->connected()) {
      failed("not connected to " + url_);
      continue;
    }
    if (!js) {
      auto j = nats::JetStream::open(*conn_);
      if (!j) {
        failed(j.error());
        continue;
      }
      js = std::move(*j);
    }
    if (auto r = js->ensure_work_queue(messages::kJobsStream, messages::kJobsSubject); !r) {
      failed(r.error());
      continue;
    }
    auto kv = nats::KeyValue::open(*js, messages::kJobsBucket);
    if (!kv) {
      failed(kv.error());
      continue;
    }
    auto workers = nats::KeyValue::open(*js, messages::kWorkersBucket, nats::kWorkersBucketOptions);
    if (!workers) {
      failed(workers.error());
      continue;
    }
    js_ = std::move(js);
    kv_ = std::move(*kv);
    workers_ = std::move(*workers);
    ready_.store(true, std::memory_order_release);
    spdlog::info("nats: stream {} and bucket {} ready", messages::kJobsStream,
                 messages::kJobsBucket);
    return;
  }
}

std::expected<std::map<std::string, nats::KvEntry>, ApiError> JobStore::worker_entries() {
  if (auto r = ready(); !r) return std::unexpected(r.error());
  auto e = workers_->entries();
  if (!e) return std::unexpected(ApiError{503, "cannot read the live workers: " + e.error()});
  return std::move(*e);
}

std::expected<void, ApiError> JobStore::ready() const {
  if (!conn_->connected()) return std::unexpected(nats_unreachable("not connected to " + url_));
  if (!ready_.load(std::memory_order_acquire)) {
    std::lock_guard lock(m_);
    return std::unexpected(nats_unreachable("stream and bucket not ready: " + setup_error_));
  }
  return {};
}

std::expected<std::optional<StoredRecord>, ApiError> JobStore::get(const std::string& id) {
  if (auto r = ready(); !r) return std::unexpected(r.error());
  if (!valid_job_key(id)) return std::optional<StoredRecord>{};
  auto e = kv_->get(id);
  if (!e) return std::unexpected(nats_unreachable(e.error()));
  if (!*e) return std::optional<StoredRecord>{};
  auto rec = messages::decode<messages::JobRecord>((*e)->value, "job record " + id);
  if (!rec) {
    spdlog::error("[{}] {}", id, rec.error());
    return std::unexpected(ApiError{500, rec.error()});
  }
  return StoredRecord{std::move(*rec), (*e)->revision};
}

std::expected<uint64_t, ApiError> JobStore::create(const messages::JobRecord& rec) {
  if (auto r = ready(); !r) return std::unexpected(r.error());
  auto rev = kv_->create(rec.spec.id, messages::encode(rec));
  if (!rev) return std::unexpected(nats_unreachable(rev.error().message));
  return *rev;
}

std::expected<uint64_t, nats::KvError> JobStore::update(const messages::JobRecord& rec,
                                                        uint64_t revision) {
  if (auto r = ready(); !r) return std::unexpected(nats::KvError{{}, r.error().message});
  return kv_->update(rec.spec.id, messages::encode(rec), revision);
}

std::expected<void, ApiError> JobStore::publish_job(const messages::JobSpec& spec) {
  if (auto r = ready(); !r) return std::unexpected(r.error());
  auto seq = js_->publish(messages::kJobsSubject, messages::encode(spec), spec.id);
  if (!seq) return std::unexpected(nats_unreachable(seq.error()));
  return {};
}

std::expected<void, ApiError> JobStore::publish(const std::string& subject,
                                                const std::string& data) {
  if (!conn_->connected()) return std::unexpected(nats_unreachable("not connected to " + url_));
  if (auto r = conn_->publish(subject, data); !r)
    return std::unexpected(nats_unreachable(r.error()));
  return {};
}

}  // namespace berth::gateway
