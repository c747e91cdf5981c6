#include "gateway/submit.hpp"

#include <random>

#include <spdlog/spdlog.h>

#include "gateway/job_request.hpp"
#include "messages/clock.hpp"

namespace berth::gateway {

std::string new_job_id() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "j";
  for (int i = 0; i < 24; ++i) id += kHex[rng() & 15];
  return id;
}

std::expected<messages::JobSpec, ApiError> prepare_job(std::string_view body,
                                                       const images::LanguageCatalog& catalog) {
  auto spec = parse_job_request(body, catalog);
  if (!spec) return spec;
  spec->id = new_job_id();
  spec->submitted_ms = messages::now_ms();
  return spec;
}

std::expected<messages::JobRecord, ApiError> enqueue_job(JobStore& store, WorkerDirectory& workers,
                                                         messages::JobSpec spec) {
  if (auto r = store.ready(); !r) return std::unexpected(r.error());
  if (spec.network)
    if (auto r = workers.check_network_allowed(); !r) return std::unexpected(r.error());
  messages::JobRecord rec;
  rec.spec = std::move(spec);
  rec.state = messages::JobState::queued;
  rec.created_ms = rec.updated_ms = messages::now_ms();
  const std::string& id = rec.spec.id;

  auto rev = store.create(rec);
  if (!rev) {
    spdlog::warn("[{}] record not written: {}", id, rev.error().message);
    return std::unexpected(rev.error());
  }
  if (auto p = store.publish_job(rec.spec); !p) {
    spdlog::error("[{}] could not enqueue: {}", id, p.error().message);
    messages::JobRecord failed = rec;
    failed.state = messages::JobState::finished;
    failed.finished_ms = failed.updated_ms = messages::now_ms();
    failed.result = messages::Result{};
    failed.result->verdict = messages::Verdict::internal_error;
    failed.result->message = "could not enqueue: " + p.error().message;
    if (auto u = store.update(failed, *rev); !u)
      spdlog::error("[{}] record left queued: {}", id, u.error().message);
    return std::unexpected(ApiError{503, "could not enqueue: " + p.error().message});
  }
  spdlog::info("[{}] queued ({}, {} file(s))", id, rec.spec.language, rec.spec.files.size());
  return rec;
}

std::expected<messages::JobRecord, ApiError> submit_job(JobStore& store, WorkerDirectory& workers,
                                                        const images::LanguageCatalog& catalog,
                                                        std::string_view body) {
  auto spec = prepare_job(body, catalog);
  if (!spec) return std::unexpected(spec.error());
  return enqueue_job(store, workers, std::move(*spec));
}

}  // namespace berth::gateway
