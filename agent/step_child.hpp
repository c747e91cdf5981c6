#pragma once
// The step's side of the fork: everything between fork() and execvp(), in the order that
// keeps it safe — own session, step cgroups, rlimits, pipes on 0/1/2, cwd, privileges last
// but one (cgroup and rlimit changes need root), then exec. A failure is written to the
// report pipe so the agent can tell "could not start" (internal_error) from "could not
// exec" (runtime_error, 127) from the job's own exit.
#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cgroup.hpp"
#include "messages/limits.hpp"

namespace berth::agent {

struct ChildPlan {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string work_dir;
  uid_t uid = 65534;
  gid_t gid = 65534;
  messages::Limits limits;
  const StepCgroups* cgroups = nullptr;
  int stdin_fd = -1;  // the child's ends of the three pipes
  int stdout_fd = -1;
  int stderr_fd = -1;
  int report_fd = -1;  // close-on-exec pipe: stays silent when exec succeeds
};

// First byte of a report: which kind of failure follows.
inline constexpr char kReportSetup = 'S';
inline constexpr char kReportExec = 'X';

[[noreturn]] void run_child(const ChildPlan& plan);

// The job's environment: exactly `env`, plus PATH and HOME when it does not set them.
std::vector<std::string> job_environment(const std::map<std::string, std::string>& env,
                                         const std::string& work_dir);

}  // namespace berth::agent
