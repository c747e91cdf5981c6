#include "agent/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace berth::agent {

void log(std::string_view line) {
  // One write per line so lines from the agent never interleave mid-line; a full pipe drops
  // the line rather than stalling the agent (stderr is non-blocking when the agent is PID 1).
  std::string out = "berth-agent: ";
  out.append(line);
  out.push_back('\n');
  ssize_t r = ::write(STDERR_FILENO, out.data(), out.size());
  (void)r;
}

std::string errno_text(std::string_view what) {
  return errno_text(what, errno);
}

std::string errno_text(std::string_view what, int err) {
  std::string out(what);
  out += ": ";
  out += std::strerror(err);
  return out;
}

}  // namespace berth::agent
