#pragma once
// The descriptors one turn of the event loop waits on. Rebuilt every turn: there are at most a
// handful (supervisor socket, signalfd, the step's three pipes and its timer), so poll() is
// simpler than epoll bookkeeping and just as cheap.
#include <poll.h>

#include <cstddef>
#include <vector>

namespace berth::agent {

class PollList {
 public:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  void clear() { fds_.clear(); }
  // Returns the slot to ask revents() with after poll; kNone for a closed descriptor.
  size_t add(int fd, short events) {
    if (fd < 0) return kNone;
    fds_.push_back(pollfd{fd, events, 0});
    return fds_.size() - 1;
  }
  short revents(size_t slot) const { return slot < fds_.size() ? fds_[slot].revents : 0; }
  pollfd* data() { return fds_.data(); }
  nfds_t size() const { return static_cast<nfds_t>(fds_.size()); }

 private:
  std::vector<pollfd> fds_;
};

}  // namespace berth::agent
