#pragma once
// Published by the worker on berth.events.<id> as a job progresses; the gateway relays them as
// server-sent events. Core NATS, not persisted: the record in berth_jobs is the truth.
#include <cstdint>
#include <optional>
#include <string>

#include <msgpack.hpp>

#include "messages/job_record.hpp"
#include "messages/version.hpp"

namespace berth::messages {

enum class EventKind : uint8_t { state = 0, output = 1 };
enum class Stream : uint8_t { stdout_stream = 1, stderr_stream = 2 };

struct JobEvent {
  uint32_t version = kWireVersion;
  std::string job_id;
  EventKind kind = EventKind::state;
  JobState state = JobState::queued;      // kind == state
  Stream stream = Stream::stdout_stream;  // kind == output
  std::string data;                       // kind == output
  std::string step;                       // kind == output: "compile" or "run"
  uint64_t seq = 0;
  // kind == output: this stream passed the job's output_bytes here; no more events follow for
  // it (added after version 1 shipped: older readers ignore the key, older writers omit it).
  bool truncated = false;
  MSGPACK_DEFINE_MAP(version, job_id, kind, state, stream, data, step, seq, truncated);
};

}  // namespace berth::messages

MSGPACK_ADD_ENUM(berth::messages::EventKind);
MSGPACK_ADD_ENUM(berth::messages::Stream);
