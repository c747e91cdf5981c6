#include "vmm/kvm/event_loop.hpp"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>

namespace berth::vmm::kvm {

std::expected<std::unique_ptr<EventLoop>, std::string> EventLoop::create() {
  std::unique_ptr<EventLoop> loop(new EventLoop());
  loop->epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!loop->epoll_) return std::unexpected(std::string("epoll_create1: ") + std::strerror(errno));
  loop->wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!loop->wake_) return std::unexpected(std::string("eventfd: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = loop->wake_.get();
  if (epoll_ctl(loop->epoll_.get(), EPOLL_CTL_ADD, loop->wake_.get(), &ev) != 0)
    return std::unexpected(std::string("epoll_ctl: ") + std::strerror(errno));
  return loop;
}

EventLoop::~EventLoop() {
  stop();
}

std::expected<void, std::string> EventLoop::add(int fd, std::function<void()> on_readable) {
  {
    std::lock_guard lock(mu_);
    if (handlers_.contains(fd))
      return std::unexpected("event loop: fd " + std::to_string(fd) + " added twice");
    handlers_[fd] = std::make_shared<std::function<void()>>(std::move(on_readable));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    int err = errno;
    std::lock_guard lock(mu_);
    handlers_.erase(fd);
    return std::unexpected("event loop: epoll_ctl add fd " + std::to_string(fd) + ": " +
                           std::strerror(err));
  }
  return {};
}

void EventLoop::remove(int fd) {
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  std::lock_guard lock(mu_);
  handlers_.erase(fd);
}

std::expected<void, std::string> EventLoop::start(ThreadHooks hooks) {
  if (thread_.joinable()) return std::unexpected("event loop already started");
  try {
    thread_ = std::thread([this, hooks = std::move(hooks)] { run(hooks); });
  } catch (const std::system_error& e) {
    return std::unexpected(std::string("event loop thread: ") + e.what());
  }
  return {};
}

void EventLoop::stop() {
  request_stop();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void EventLoop::request_stop() {
  stopping_.store(true);
  uint64_t one = 1;
  if (wake_ && ::write(wake_.get(), &one, sizeof one) < 0) {
    // The counter can only be full (EAGAIN) if it was written 2^64-2 times: already woken.
  }
}

void EventLoop::run(const ThreadHooks& hooks) {
  auto fatal = [&](std::string message) {
    spdlog::error("vmm: event loop: {}", message);
    if (hooks.on_fatal) hooks.on_fatal(std::move(message));
  };
  if (hooks.setup) {
    if (auto r = hooks.setup(); !r) return fatal(r.error());
  }
  epoll_event events[16];
  while (!stopping_.load()) {
    int n = epoll_wait(epoll_.get(), events, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fatal(std::string("epoll_wait: ") + std::strerror(errno));
    }
    for (int i = 0; i < n && !stopping_.load(); ++i) {
      if (events[i].data.fd == wake_.get()) continue;
      std::shared_ptr<std::function<void()>> h;
      {
        std::lock_guard lock(mu_);
        auto it = handlers_.find(events[i].data.fd);
        if (it != handlers_.end()) h = it->second;
      }
      if (h && *h) (*h)();
    }
  }
}

}  // namespace berth::vmm::kvm
