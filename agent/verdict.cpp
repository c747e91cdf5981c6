#include "agent/verdict.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

namespace berth::agent {

namespace {

using messages::Verdict;

std::string signal_name(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

void decide(const StepFacts& f, messages::StepExit& out) {
  out.exit_code.reset();
  out.signal.reset();
  std::optional<int> sig;
  if (f.wait_status && WIFEXITED(*f.wait_status)) out.exit_code = WEXITSTATUS(*f.wait_status);
  if (f.wait_status && WIFSIGNALED(*f.wait_status)) sig = out.signal = WTERMSIG(*f.wait_status);

  const uint64_t cpu_limit_ms = f.limits.cpu_ms;
  const uint64_t mem_limit_kib = uint64_t{f.limits.memory_mib} * 1024;
  // RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one.
  const bool cpu_killed =
      f.cpu_exceeded || (sig == SIGXCPU) || (sig == SIGKILL && f.cpu_ms >= cpu_limit_ms);
  const bool memory_hit = f.memory_cgroup
                              ? f.oom_kills > 0 || (f.memory_failcnt > 0 && sig == SIGKILL)
                              : f.peak_memory_kib >= mem_limit_kib;

  if (f.cancelled) {
    out.verdict = Verdict::cancelled;
    out.message = "cancelled";
  } else if (!f.setup_error.empty()) {
    out.verdict = Verdict::internal_error;
    out.message = "the step could not be started: " + f.setup_error;
  } else if (!f.exec_error.empty()) {
    out.verdict = Verdict::runtime_error;
    out.exit_code = 127;
    out.signal.reset();
    out.message = f.exec_error;
  } else if (!f.wait_status) {
    out.verdict = Verdict::internal_error;
    out.message = "the step's process was never reaped";
  } else if (f.wall_expired) {
    out.verdict = Verdict::time_limit;
    out.message = "wall time limit of " + std::to_string(f.limits.wall_ms) + " ms reached";
  } else if (cpu_killed) {
    out.verdict = Verdict::time_limit;
    out.message = "cpu time limit of " + std::to_string(cpu_limit_ms) + " ms reached";
  } else if (f.output_exceeded) {
    out.verdict = Verdict::output_limit;
    out.message = *f.output_exceeded + " passed the output limit of " +
                  std::to_string(f.limits.output_bytes) + " bytes";
  } else if (memory_hit) {
    out.verdict = Verdict::memory_limit;
    out.message = "memory limit of " + std::to_string(f.limits.memory_mib) + " MiB reached";
  } else if (sig) {
    out.verdict = Verdict::runtime_error;
    out.message = "killed by " + signal_name(*sig);
    if (*sig == SIGXFSZ)
      out.message += " (file size limit of " + std::to_string(f.limits.file_size_bytes) + " bytes)";
  } else if (out.exit_code && *out.exit_code != 0) {
    out.verdict = Verdict::runtime_error;
    out.message = "exited with code " + std::to_string(*out.exit_code);
  } else {
    out.verdict = Verdict::ok;
    out.message.clear();
  }
}

}  // namespace berth::agent
