#include "vmm/jail/launcher.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace berth::vmm::jail {

namespace {

// Async-signal-safe helpers for the child: no allocation, no locale, no stdio.
void child_write(int fd, const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Decimal text of v into buf (at least 21 bytes), NUL-terminated.
const char* child_itoa(long v, char* buf) {
  char tmp[21];
  int n = 0;
  bool neg = v < 0;
  unsigned long u = neg ? 0ul - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  int i = 0;
  if (neg) buf[i++] = '-';
  while (n > 0) buf[i++] = tmp[--n];
  buf[i] = '\0';
  return buf;
}

[[noreturn]] void child_fail(int log_fd, const char* what, int err) {
  char num[24];
  child_write(log_fd, "berth launcher: ");
  child_write(log_fd, what);
  child_write(log_fd, " failed, errno ");
  child_write(log_fd, child_itoa(err, num));
  child_write(log_fd, "\n");
  _exit(126);
}

}  // namespace

std::expected<pid_t, std::string> launch(const std::string& path,
                                         const std::vector<std::string>& argv,
                                         const LaunchFds& fds) {
  // Everything the child touches is prepared here: it may not allocate.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);
  char* envp[] = {nullptr};

  // clone(2) with only namespace flags and SIGCHLD is fork into new namespaces (no CLONE_VM:
  // the child gets a copy of this address space, and the same rules as after fork apply).
  pid_t pid = fds.namespaces ? static_cast<pid_t>(syscall(SYS_clone, fds.namespaces | SIGCHLD,
                                                          nullptr, nullptr, nullptr, 0))
                             : fork();
  if (pid < 0)
    return std::unexpected(std::string(fds.namespaces ? "clone" : "fork") + ": " +
                           std::strerror(errno));
  if (pid > 0) return pid;

  // --- child: async-signal-safe calls only ---
  int log = fds.stdout_fd;
  char num[24];
  const char* self = child_itoa(getpid(), num);
  for (int fd : fds.cgroup_procs) {
    size_t len = 0;
    while (self[len]) ++len;
    if (write(fd, self, len) != static_cast<ssize_t>(len))
      child_fail(log, "joining the job cgroup", errno);
  }
  if (dup2(fds.stdin_fd, 0) < 0) child_fail(log, "dup2 stdin", errno);
  if (dup2(log, 1) < 0 || dup2(log, 2) < 0) child_fail(log, "dup2 stdout/stderr", errno);
  // Descriptors other threads opened without O_CLOEXEC must not reach the jail.
  if (syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0)
    child_fail(2, "close_range", errno);
  for (int fd : fds.inherit)
    if (fcntl(fd, F_SETFD, 0) != 0) child_fail(2, "clearing close-on-exec", errno);
  execve(path.c_str(), args.data(), envp);
  int err = errno;
  child_write(2, "berth launcher: execve ");
  child_write(2, path.c_str());
  child_write(2, " failed, errno ");
  child_write(2, child_itoa(err, num));
  child_write(2, "\n");
  _exit(127);
}

std::expected<pid_t, std::string> read_child_pid(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string json;
  while (true) {
    // bwrap writes one small JSON object and closes the descriptor; the object is complete at
    // its closing brace.
    if (auto key = json.find("\"child-pid\"");
        key != std::string::npos && json.find('}') != std::string::npos) {
      auto colon = json.find(':', key);
      if (colon == std::string::npos) break;
      char* end = nullptr;
      long v = std::strtol(json.c_str() + colon + 1, &end, 10);
      if (v <= 0 || end == json.c_str() + colon + 1) break;
      return static_cast<pid_t>(v);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return std::unexpected("bwrap reported no sandbox pid within " +
                             std::to_string(timeout.count()) + " ms");
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return std::unexpected(std::string("poll info-fd: ") + std::strerror(errno));
    if (r == 0) continue;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(std::string("read info-fd: ") + std::strerror(errno));
    if (n == 0)
      return std::unexpected(std::string("bwrap closed its info-fd without a sandbox pid"));
    json.append(buf, static_cast<size_t>(n));
    if (json.size() > 65536) break;
  }
  return std::unexpected("bwrap's info-fd is not what was expected: " + json.substr(0, 200));
}

std::expected<std::string, std::string> find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    auto colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    if (!dir.empty()) {
      auto candidate = dir + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::unexpected(name + " not found on PATH");
}

}  // namespace berth::vmm::jail
