#pragma once
// The jail's fds: berth::UniqueFd, and a helper to keep one off the standard descriptors.
#include <fcntl.h>

#include <unistd.h>
#include "base/unique_fd.hpp"

#include <utility>

namespace berth::vmm::jail {

using UniqueFd = berth::UniqueFd;

// Moves `fd` to a number >= 3 (close-on-exec kept), so that the launcher's child can put
// /dev/null and the log on 0, 1 and 2 without overwriting it even if this process started
// with a standard descriptor closed.
inline UniqueFd above_stdio(UniqueFd fd) {
  if (!fd || fd.get() > 2) return fd;
  return UniqueFd(fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
}

}  // namespace berth::vmm::jail
