#pragma once
// One step of a job, from the agent's side of the fork: writes the step's files, makes its
// cgroups, starts the child (step_child.cpp), then feeds its stdin, streams its stdout and
// stderr as `output` chunks, enforces the wall, cpu and output limits, and turns the end into
// the `exit` message. It owns no loop: the session's poll loop hands it readiness, reaped
// children and timeouts, so the supervisor's `cancel` is seen while a step runs.
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "agent/cgroup.hpp"
#include "agent/connection.hpp"
#include "agent/pid1.hpp"
#include "agent/poll_list.hpp"
#include "agent/unique_fd.hpp"
#include "agent/verdict.hpp"
#include "messages/agent_protocol.hpp"

namespace berth::agent {

// What every step shares, from the agent's options.
struct StepConfig {
  std::string work;
  uid_t uid = 65534;
  gid_t gid = 65534;
  CgroupParents cgroups;
  bool pid1 = false;  // then kill(-1) reaches whatever of a step escaped its group and cgroup
};

class StepRunner {
 public:
  // Starts the step. An error is the `exit` message for a step that could not start (a bad
  // file name, no cgroup, fork failing): verdict internal_error, message saying why.
  static std::expected<std::unique_ptr<StepRunner>, messages::StepExit> start(
      messages::ExecStep step, const StepConfig& cfg, int index, Connection& conn);
  ~StepRunner();  // kills whatever is left of the step

  void add_fds(PollList& polls);
  void handle(const PollList& polls);
  // Every child the agent reaps; the step's own main process ends the step.
  void on_reaped(const Reaped& reaped);
  void cancel(const std::string& reason);
  // Checks deadlines that have no descriptor (cpu time, the drain after the main process).
  void tick();
  // How long the loop may sleep for this step, in ms; -1: until something happens.
  int timeout_ms() const;
  bool done() const;
  // The `exit` message; also removes the step's cgroups. Call once, when done().
  messages::StepExit finish();

 private:
  struct Output {
    UniqueFd fd;
    messages::Stream stream;
    const char* name;
    uint64_t sent = 0;
    bool truncated = false;
    size_t slot = PollList::kNone;
  };

  StepRunner(messages::ExecStep step, const StepConfig& cfg, int index, Connection& conn);
  std::expected<void, std::string> spawn();
  void read_output(Output& out);
  void deliver(Output& out, std::string_view data);
  void feed_stdin();
  void kill_everything();
  std::string read_report();

  messages::ExecStep step_;
  StepConfig cfg_;
  int index_;
  Connection& conn_;
  StepCgroups cgroups_;
  StepFacts facts_;

  pid_t pid_ = -1;
  bool reaped_ = false;
  bool finished_ = false;
  struct rusage usage_ {};
  int64_t started_ms_ = 0;
  int64_t ended_ms_ = 0;
  int64_t drain_deadline_ms_ = 0;
  int64_t next_cpu_check_ms_ = 0;

  UniqueFd stdin_;
  size_t stdin_off_ = 0;
  UniqueFd report_;
  UniqueFd timer_;
  Output out_[2];
  size_t stdin_slot_ = PollList::kNone;
  size_t timer_slot_ = PollList::kNone;
};

// CLOCK_MONOTONIC in ms: the agent's one clock for deadlines and durations.
int64_t monotonic_ms();

}  // namespace berth::agent
