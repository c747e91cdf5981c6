#pragma once
// A TCP service on every host address (0.0.0.0), the kind a job must never reach (sshd, NATS, a
// metrics agent): it writes `reply` to whoever connects and counts them. For containment tests:
// reachable through a bridge address unless something stops it.
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

namespace berth::test {

class HostListener {
 public:
  explicit HostListener(std::string reply = "host-service\n");
  ~HostListener();
  HostListener(const HostListener&) = delete;
  HostListener& operator=(const HostListener&) = delete;

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  std::string reply_;
  uint16_t port_ = 0;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace berth::test
