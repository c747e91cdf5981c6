#pragma once
// The persisted state of a job: the value under its id in the KV bucket berth_jobs. Every
// change is a compare-and-set on the KV revision (actors/job_store.cpp).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <msgpack.hpp>

#include "messages/job_spec.hpp"
#include "messages/result.hpp"
#include "messages/version.hpp"

namespace berth::messages {

// Wire values are pinned.
enum class JobState : uint8_t { queued = 0, scheduled = 1, running = 2, finished = 3 };

std::string_view to_string(JobState s);

enum class Phase : uint8_t { prepare = 0, execute = 1 };
enum class NodeStatus : uint8_t { pending = 0, running = 1, done = 2, failed = 3, skipped = 4 };

std::string_view to_string(Phase p);
std::string_view to_string(NodeStatus s);

// One step of the run plan (DESIGN.md §2): image, ip, boot, compile, run.
struct PlanNode {
  std::string name;
  Phase phase = Phase::prepare;
  NodeStatus status = NodeStatus::pending;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  std::string detail = {};  // e.g. the image key, the leased address, an error
  MSGPACK_DEFINE_MAP(name, phase, status, started_ms, finished_ms, detail);
};

struct JobRecord {
  uint32_t version = kWireVersion;
  JobSpec spec;
  JobState state = JobState::queued;
  std::vector<PlanNode> plan;
  std::optional<Result> result;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  uint32_t attempts = 0;
  std::string worker_id;
  bool cancel_requested = false;
  MSGPACK_DEFINE_MAP(version, spec, state, plan, result, created_ms, updated_ms, started_ms,
                     finished_ms, attempts, worker_id, cancel_requested);

  bool terminal() const { return state == JobState::finished; }
  PlanNode* node(std::string_view name);
};

}  // namespace berth::messages

MSGPACK_ADD_ENUM(berth::messages::JobState);
MSGPACK_ADD_ENUM(berth::messages::Phase);
MSGPACK_ADD_ENUM(berth::messages::NodeStatus);
