#include "agent/pid1.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "agent/log.hpp"

namespace berth::agent {

namespace {
sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void ensure_std_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    int n = open("/dev/null", O_RDWR);
    if (n >= 0 && n != fd) {
      dup2(n, fd);
      close(n);
    }
  }
}

void mount_proc_if_missing() {
  struct stat st {};
  if (stat("/proc/self", &st) == 0) return;
  mkdir("/proc", 0555);
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    log(errno_text("mount /proc (continuing without it)"));
}

std::expected<UniqueFd, std::string> setup_signals() {
  sigset_t set = handled_signals();
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return std::unexpected(errno_text("sigprocmask"));
  int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return std::unexpected(errno_text("signalfd"));
  signal(SIGPIPE, SIG_IGN);
  if (getpid() != 1 && prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    log(errno_text("PR_SET_CHILD_SUBREAPER (orphans of a step will not be reaped by us)"));
  return UniqueFd(fd);
}

std::vector<int> read_signals(int sigfd) {
  std::vector<int> out;
  signalfd_siginfo info[8];
  while (true) {
    ssize_t n = read(sigfd, info, sizeof info);
    if (n <= 0) break;
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof info[0]; ++i)
      out.push_back(static_cast<int>(info[i].ssi_signo));
  }
  return out;
}

std::vector<Reaped> reap_children() {
  std::vector<Reaped> out;
  while (true) {
    Reaped r;
    pid_t pid = wait4(-1, &r.status, WNOHANG, &r.usage);
    if (pid <= 0) break;  // 0: children remain but none has ended; -1 ECHILD: none at all
    r.pid = pid;
    out.push_back(r);
  }
  return out;
}

int64_t uptime_ms() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

void reset_signals_for_exec() {
  // An ignored disposition survives execve; a job expects SIGPIPE to kill it like anywhere else.
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace berth::agent
