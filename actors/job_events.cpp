#include "actors/job_events.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "messages/codec.hpp"
#include "messages/subjects.hpp"

namespace berth::actors {

JobEvents::JobEvents(Publish publish, std::string job_id, uint64_t output_cap)
    : publish_(std::move(publish)), id_(std::move(job_id)), cap_(output_cap) {}

JobEvents::JobEvents(nats::Connection& conn, std::string job_id, uint64_t output_cap)
    : JobEvents([&conn](std::string_view subject,
                        std::string_view body) { return conn.publish(subject, body); },
                std::move(job_id), output_cap) {}

void JobEvents::publish(messages::JobEvent& e) {
  e.job_id = id_;
  e.seq = seq_++;
  // Best effort: a lost event costs a live view a chunk, never the result.
  if (auto r = publish_(messages::events_subject(id_), messages::encode(e)); !r)
    spdlog::warn("[{}] event not published: {}", id_, r.error());
}

void JobEvents::state(messages::JobState s) {
  messages::JobEvent e;
  e.kind = messages::EventKind::state;
  e.state = s;
  publish(e);
}

void JobEvents::output(const messages::OutputChunk& chunk) {
  const bool compile = chunk.step == "compile";
  const bool err = chunk.stream == messages::Stream::stderr_stream;
  Budget& b = budgets_[(compile ? 0 : 2) + (err ? 1 : 0)];
  if (b.truncated) return;
  const uint64_t room = cap_ - std::min(cap_, b.published);
  const size_t take = static_cast<size_t>(std::min<uint64_t>(room, chunk.data.size()));
  messages::JobEvent e;
  e.kind = messages::EventKind::output;
  e.state = messages::JobState::running;
  e.stream = err ? messages::Stream::stderr_stream : messages::Stream::stdout_stream;
  e.step = compile ? "compile" : "run";
  e.data.assign(chunk.data, 0, take);
  b.published += take;
  if (take < chunk.data.size()) {
    // The one marker: this stream's events end here (the record says the same through
    // stdout_truncated / stderr_truncated and the output_limit verdict).
    b.truncated = e.truncated = true;
    spdlog::warn("[{}] {} {} passed the output limit of {} bytes; later output is not published",
                 id_, e.step, err ? "stderr" : "stdout", cap_);
  }
  if (e.data.empty() && !e.truncated) return;
  publish(e);
}

}  // namespace berth::actors
