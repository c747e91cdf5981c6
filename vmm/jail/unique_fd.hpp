#pragma once
// An owned file descriptor, closed once.
#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace berth::vmm::jail {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Moves `fd` to a number >= 3 (close-on-exec kept), so that the launcher's child can put
// /dev/null and the log on 0, 1 and 2 without overwriting it even if this process started
// with a standard descriptor closed.
inline UniqueFd above_stdio(UniqueFd fd) {
  if (!fd || fd.get() > 2) return fd;
  return UniqueFd(fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
}

}  // namespace berth::vmm::jail
