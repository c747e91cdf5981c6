#include "agent/step_child.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <signal.h>
#include <cerrno>

#include "agent/log.hpp"
#include "agent/pid1.hpp"
#include "agent/privileges.hpp"

namespace berth::agent {

namespace {

constexpr rlim_t kStackBytes = 64 << 20;  // deep recursion in a job is normal, 8 MiB is not much
constexpr rlim_t kOpenFiles = 256;

[[noreturn]] void fail(char kind, const std::string& why) {
  std::string msg(1, kind);
  msg += why;
  ssize_t n = write(3, msg.data(), msg.size());
  (void)n;
  _exit(kind == kReportExec ? 127 : 126);
}

std::expected<void, std::string> set_limit(int resource, const char* name, rlim_t soft,
                                           rlim_t hard) {
  rlimit rl{soft, hard};
  if (setrlimit(resource, &rl) != 0) return std::unexpected(errno_text(name));
  return {};
}

std::expected<void, std::string> set_limits(const ChildPlan& p) {
  // Whole seconds, rounded up, plus one: the agent's cpuacct check or the wall limit normally
  // ends the step first; SIGXCPU at the soft limit, SIGKILL a second later.
  rlim_t cpu_s = (rlim_t{p.limits.cpu_ms} + 999) / 1000 + 1;
  std::pair<int, std::tuple<const char*, rlim_t, rlim_t>> limits[] = {
      {RLIMIT_CPU, {"RLIMIT_CPU", cpu_s, cpu_s + 1}},
      {RLIMIT_FSIZE, {"RLIMIT_FSIZE", p.limits.file_size_bytes, p.limits.file_size_bytes}},
      {RLIMIT_NOFILE, {"RLIMIT_NOFILE", kOpenFiles, kOpenFiles}},
      {RLIMIT_CORE, {"RLIMIT_CORE", 0, 0}},
      {RLIMIT_STACK, {"RLIMIT_STACK", kStackBytes, kStackBytes}},
  };
  for (auto& [res, v] : limits) {
    auto [name, soft, hard] = v;
    if (auto r = set_limit(res, name, soft, hard); !r) return r;
  }
  // RLIMIT_NPROC counts every process of the uid on the whole host (other jobs too), so it is
  // only the fallback when there is no pids cgroup to count the step's own processes.
  if (!p.cgroups || !p.cgroups->has_pids()) {
    if (auto r = set_limit(RLIMIT_NPROC, "RLIMIT_NPROC", p.limits.processes, p.limits.processes);
        !r)
      return r;
  }
  return {};
}

std::expected<void, std::string> wire_fds(const ChildPlan& p) {
  // The pipes were made after fds 0-2 were ensured open, so none of them is 0-2 itself.
  if (dup2(p.stdin_fd, 0) < 0 || dup2(p.stdout_fd, 1) < 0 || dup2(p.stderr_fd, 2) < 0)
    return std::unexpected(errno_text("dup2"));
  if (p.report_fd != 3 && dup3(p.report_fd, 3, O_CLOEXEC) < 0)
    return std::unexpected(errno_text("dup3"));
  // Nothing of the agent's (the supervisor socket above all) may leak into the job.
  if (close_range(4, ~0U, 0) != 0) {
    for (int fd = 4; fd < 1024; ++fd) close(fd);
  }
  return {};
}

}  // namespace

std::vector<std::string> job_environment(const std::map<std::string, std::string>& env,
                                         const std::string& work_dir) {
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  if (!env.contains("PATH")) out.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  if (!env.contains("HOME")) out.push_back("HOME=" + work_dir);
  return out;
}

void run_child(const ChildPlan& p) {
  // Until fds are wired the report pipe is still at p.report_fd; fail() writes to fd 3, so
  // wire first and report everything after.
  if (auto r = wire_fds(p); !r) {
    std::string msg = std::string(1, kReportSetup) + r.error();
    ssize_t n = write(p.report_fd, msg.data(), msg.size());
    (void)n;
    _exit(126);
  }
  reset_signals_for_exec();
  // Own session and process group: the agent kills the step with one killpg.
  if (setsid() < 0) fail(kReportSetup, errno_text("setsid"));
  if (p.cgroups) {
    if (auto r = p.cgroups->enter_self(); !r) fail(kReportSetup, r.error());
  }
  if (auto r = set_limits(p); !r) fail(kReportSetup, r.error());
  if (chdir(p.work_dir.c_str()) != 0) fail(kReportSetup, errno_text("chdir " + p.work_dir));
  if (auto r = drop_privileges(p.uid, p.gid); !r) fail(kReportSetup, r.error());
  // Set after the uid change, which clears it: should the agent die, the job dies with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);

  std::vector<char*> argv;
  for (const auto& a : p.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : p.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // execvp searches the PATH of `environ`, which must therefore be the job's.
  environ = envp.data();
  execvp(argv[0], argv.data());
  fail(kReportExec, errno_text("cannot execute '" + p.argv[0] + "'"));
}

}  // namespace berth::agent
