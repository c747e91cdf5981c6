// Text names of the wire enums, as the HTTP API and the CLI show them.
#include <array>

#include "messages/job_record.hpp"
#include "messages/result.hpp"

namespace berth::messages {

namespace {
constexpr std::array<std::string_view, 8> kVerdicts = {
    "ok",           "runtime_error", "time_limit", "memory_limit",
    "output_limit", "compile_error", "cancelled",  "internal_error"};
}

std::string_view to_string(Verdict v) {
  auto i = static_cast<size_t>(v);
  return i < kVerdicts.size() ? kVerdicts[i] : "unknown";
}

std::optional<Verdict> verdict_from_string(std::string_view s) {
  for (size_t i = 0; i < kVerdicts.size(); ++i)
    if (kVerdicts[i] == s) return static_cast<Verdict>(i);
  return std::nullopt;
}

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::queued:
      return "queued";
    case JobState::scheduled:
      return "scheduled";
    case JobState::running:
      return "running";
    case JobState::finished:
      return "finished";
  }
  return "unknown";
}

std::string_view to_string(Phase p) {
  return p == Phase::prepare ? "prepare" : "execute";
}

std::string_view to_string(NodeStatus s) {
  switch (s) {
    case NodeStatus::pending:
      return "pending";
    case NodeStatus::running:
      return "running";
    case NodeStatus::done:
      return "done";
    case NodeStatus::failed:
      return "failed";
    case NodeStatus::skipped:
      return "skipped";
  }
  return "unknown";
}

PlanNode* JobRecord::node(std::string_view name) {
  for (auto& n : plan)
    if (n.name == name) return &n;
  return nullptr;
}

}  // namespace berth::messages
