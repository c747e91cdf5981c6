#pragma once
// What a step's end means: the facts the step runner gathered, turned into the verdict, exit
// code, signal and message of the `exit` message. Pure, so every precedence rule is testable.
#include <cstdint>
#include <optional>
#include <string>

#include "messages/agent_protocol.hpp"

namespace berth::agent {

struct StepFacts {
  messages::Limits limits;
  std::string setup_error;  // the child failed before exec (privileges, cgroup, rlimits)
  std::string exec_error;   // execvp failed
  bool cancelled = false;
  bool wall_expired = false;
  bool cpu_exceeded = false;                   // the agent killed the step for cpu time (cpuacct)
  std::optional<std::string> output_exceeded;  // the stream that passed the cap
  std::optional<int> wait_status;              // of the step's main process
  uint64_t cpu_ms = 0;
  uint64_t peak_memory_kib = 0;
  bool memory_cgroup = false;
  uint64_t oom_kills = 0;
  uint64_t memory_failcnt = 0;
};

// Fills verdict, exit_code, signal and message of `out`. Precedence: cancelled > time_limit >
// output_limit > memory_limit > runtime_error > ok; a step that never got to run (setup
// failure) is internal_error, one whose program could not be executed runtime_error with
// exit code 127.
void decide(const StepFacts& facts, messages::StepExit& out);

}  // namespace berth::agent
