#include "actors/job_events.hpp"

#include <spdlog/spdlog.h>

#include "messages/codec.hpp"
#include "messages/subjects.hpp"

namespace berth::actors {

void JobEvents::publish(messages::JobEvent& e) {
  e.job_id = id_;
  e.seq = seq_++;
  // Best effort: a lost event costs a live view a chunk, never the result.
  if (auto r = conn_.publish(messages::events_subject(id_), messages::encode(e)); !r)
    spdlog::warn("[{}] event not published: {}", id_, r.error());
}

void JobEvents::state(messages::JobState s) {
  messages::JobEvent e;
  e.kind = messages::EventKind::state;
  e.state = s;
  publish(e);
}

void JobEvents::output(const messages::OutputChunk& chunk) {
  messages::JobEvent e;
  e.kind = messages::EventKind::output;
  e.state = messages::JobState::running;
  e.stream = chunk.stream;
  e.step = chunk.step;
  e.data = chunk.data;
  publish(e);
}

}  // namespace berth::actors
