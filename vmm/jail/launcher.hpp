#pragma once
// Starting bwrap: fork + execve with only async-signal-safe calls in the child (the worker is
// multi-threaded; after fork only the forking thread exists, and any lock another thread held
// stays locked), and reading the sandbox's pid from bwrap's --info-fd.
#include <sys/types.h>

#include <chrono>
#include <expected>
#include <span>
#include <string>
#include <vector>

namespace berth::vmm::jail {

struct LaunchFds {
  int stdout_fd = -1;                 // the console log: bwrap's and the agent's stdout/stderr
  int stdin_fd = -1;                  // /dev/null
  std::span<const int> cgroup_procs;  // cgroup.procs of each job cgroup, opened for writing
  std::span<const int> inherit;       // passed to bwrap by number (seccomp, info pipe)
  // CLONE_NEW* flags: the child starts in fresh namespaces of these kinds (a jailed monitor);
  // 0: a plain fork (bwrap makes its own).
  unsigned long namespaces = 0;
};

// Forks (or clones into `fds.namespaces`); the child writes its pid into every cgroup.procs (so
// bwrap, the namespaces and all that runs in them are accounted to the job from the first
// instruction), sets up 0/1/2, marks every other descriptor close-on-exec except `inherit` (bwrap
// hands unknown descriptors on into the sandbox), and executes `path` with `argv` and an empty
// environment. Returns the child's pid. A failure in the child is written to the log and exits
// 126/127.
std::expected<pid_t, std::string> launch(const std::string& path,
                                         const std::vector<std::string>& argv,
                                         const LaunchFds& fds);

// Reads bwrap's info JSON ({"child-pid": N, ...}) from `fd` until it is complete, bwrap closes
// it, or `timeout` passes.
std::expected<pid_t, std::string> read_child_pid(int fd, std::chrono::milliseconds timeout);

// The absolute path of `name` on PATH, or an error naming it.
std::expected<std::string, std::string> find_program(const std::string& name);

}  // namespace berth::vmm::jail
