#pragma once
// The duties of a PID 1: standard descriptors that exist, /proc, signals read from a signalfd
// instead of default handlers (which would end the machine on SIGTERM), and reaping every
// child, including orphans that the kernel reparents to us.
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "agent/unique_fd.hpp"

namespace berth::agent {

// Opens /dev/null on any of fds 0-2 that is closed, so no socket or pipe lands there and is
// later clobbered by a child's dup2.
void ensure_std_fds();

// Mounts procfs on /proc when /proc/self is missing; failures are only logged (in the jail
// bwrap has mounted it already and the agent lacks CAP_SYS_ADMIN).
void mount_proc_if_missing();

// Blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP and returns a non-blocking signalfd for them;
// ignores SIGPIPE so a closed socket or pipe is an EPIPE, not a death. Also makes the agent a
// child subreaper, so that outside a PID namespace (tests) orphans of a step still come to us.
std::expected<UniqueFd, std::string> setup_signals();

// Signal numbers waiting on the signalfd.
std::vector<int> read_signals(int sigfd);

struct Reaped {
  pid_t pid = 0;
  int status = 0;
  struct rusage usage {};
};
// Every child that has ended, without waiting.
std::vector<Reaped> reap_children();

// Milliseconds since the machine booted (CLOCK_BOOTTIME).
int64_t uptime_ms();

// The child's signal state back to defaults: empty mask, SIGPIPE not ignored.
void reset_signals_for_exec();

}  // namespace berth::agent
