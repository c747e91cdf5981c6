#include "gateway/cancel.hpp"

#include <spdlog/spdlog.h>

#include "messages/clock.hpp"
#include "messages/codec.hpp"
#include "messages/job_event.hpp"
#include "messages/subjects.hpp"

namespace berth::gateway {

namespace {
// Compare-and-set races with the worker claiming or finishing the job; each conflict means
// the record moved on, so re-read and decide again. A handful of rounds is plenty.
constexpr int kMaxRounds = 10;
}  // namespace

std::expected<messages::JobRecord, ApiError> cancel_job(JobStore& store, const std::string& id) {
  for (int round = 0; round < kMaxRounds; ++round) {
    auto got = store.get(id);
    if (!got) return std::unexpected(got.error());
    if (!*got) return std::unexpected(not_found("no job '" + id + "'"));
    auto [rec, revision] = std::move(**got);
    if (rec.terminal()) return std::unexpected(ApiError{409, "job already finished"});

    bool queued = rec.state == messages::JobState::queued;
    if (queued) {
      rec.state = messages::JobState::finished;
      rec.finished_ms = messages::now_ms();
      rec.result = messages::Result{};
      rec.result->verdict = messages::Verdict::cancelled;
      rec.result->message = "cancelled before it started";
    }
    rec.cancel_requested = true;
    rec.updated_ms = messages::now_ms();
    auto u = store.update(rec, revision);
    if (!u) {
      if (u.error().kind == nats::KvError::Kind::conflict) continue;
      return std::unexpected(nats_unreachable(u.error().message));
    }
    if (queued) {
      spdlog::info("[{}] cancelled before it started", id);
      // Wake anyone following the job now rather than at their next poll.
      messages::JobEvent e;
      e.job_id = id;
      e.kind = messages::EventKind::state;
      e.state = messages::JobState::finished;
      (void)store.publish(messages::events_subject(id), messages::encode(e));
    } else {
      spdlog::info("[{}] cancel requested ({})", id, messages::to_string(rec.state));
      if (auto p = store.publish(messages::cancel_subject(id), ""); !p)
        return std::unexpected(p.error());
    }
    return rec;
  }
  return std::unexpected(ApiError{503, "job '" + id + "' kept changing; try again"});
}

}  // namespace berth::gateway
