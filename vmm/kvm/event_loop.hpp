#pragma once
// The monitor's one I/O thread: an epoll set of fds (ioeventfds of virtqueues, TAP devices,
// the wall-limit timerfd) each with a callback run on that thread when the fd is readable.
// Device work that is not a vCPU exit happens here, so a device's queue processing is never
// concurrent with itself.
//
// Lifecycle: add() fds, start() the thread, stop() (any thread, idempotent) wakes it through an
// eventfd and joins it. The destructor stops. Callbacks must not block; they run one at a time.
// add() after start() is allowed (epoll_ctl is thread-safe; the callback map is locked).
#include <atomic>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/kvm/unique_fd.hpp"

namespace berth::vmm::kvm {

class EventLoop {
 public:
  static std::expected<std::unique_ptr<EventLoop>, std::string> create();
  ~EventLoop();

  // `fd` stays owned by the caller and must outlive the loop's use of it (remove() or stop()).
  std::expected<void, std::string> add(int fd, std::function<void()> on_readable);
  void remove(int fd);

  // What the thread does before its first epoll_wait (the Vm installs its seccomp filter there),
  // and whom it tells when it cannot go on (setup failed, epoll_wait failed); the loop thread then
  // ends. Both optional; on_fatal runs on the loop thread.
  struct ThreadHooks {
    std::function<std::expected<void, std::string>()> setup;
    std::function<void(std::string)> on_fatal;
  };
  std::expected<void, std::string> start(ThreadHooks hooks = {});
  // Asks the thread to end after the callback it is running; safe from the loop thread itself.
  void request_stop();
  // request_stop(), then joins the thread (not from the loop thread).
  void stop();

 private:
  EventLoop() = default;
  void run(const ThreadHooks& hooks);

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: stop() writes it
  std::mutex mu_;
  std::map<int, std::shared_ptr<std::function<void()>>> handlers_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
};

}  // namespace berth::vmm::kvm
