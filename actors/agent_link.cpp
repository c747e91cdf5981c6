#include "actors/agent_link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "messages/frame.hpp"

namespace berth::actors {

std::expected<std::unique_ptr<AgentLink>, std::string> AgentLink::connect(
    const std::string& ip, uint16_t port, std::chrono::milliseconds timeout,
    const std::function<bool()>& alive, Bounds bounds) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1)
    return std::unexpected("bad agent address " + ip);
  auto end = std::chrono::steady_clock::now() + timeout;
  std::string last = "no attempt";
  while (std::chrono::steady_clock::now() < end) {
    if (!alive()) return std::unexpected("the machine exited before its agent answered");
    // Non-blocking with a short wait per try: a SYN sent before the machine's NIC is up is
    // lost, and the kernel would retransmit it only a second later.
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, 100) == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      int flags = fcntl(fd, F_GETFL);
      fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      // A wedged agent must not hold the supervisor's thread forever on a write.
      timeval tv{10, 0};
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      return std::unique_ptr<AgentLink>(new AgentLink(fd, bounds));
    }
    last = std::strerror(errno);
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::unexpected("agent at " + ip + ":" + std::to_string(port) + " did not answer within " +
                         std::to_string(timeout.count()) + " ms (last error: " + last + ")");
}

std::unique_ptr<AgentLink> AgentLink::adopt(int fd, Bounds bounds) {
  return std::unique_ptr<AgentLink>(new AgentLink(fd, bounds));
}

AgentLink::~AgentLink() {
  close();
}

void AgentLink::close() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  room_.notify_all();                      // a reader waiting for room gives up
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);  // a reader in recv() returns
  if (reader_.joinable()) reader_.join();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void AgentLink::consumed(size_t bytes) {
  {
    std::lock_guard lock(mu_);
    if (frames_in_flight_ > 0) --frames_in_flight_;
    bytes_in_flight_ -= std::min(bytes_in_flight_, bytes);
  }
  room_.notify_one();
}

size_t AgentLink::frames_in_flight() const {
  std::lock_guard lock(mu_);
  return frames_in_flight_;
}

size_t AgentLink::peak_frames_in_flight() const {
  std::lock_guard lock(mu_);
  return peak_frames_;
}

size_t AgentLink::peak_bytes_in_flight() const {
  std::lock_guard lock(mu_);
  return peak_bytes_;
}

bool AgentLink::wait_for_room(size_t bytes) {
  std::unique_lock lock(mu_);
  // One frame always fits when none is in flight, so a frame larger than the byte bound (but
  // within max_frame_bytes) still goes through, alone.
  room_.wait(lock, [&] {
    return closing_ ||
           (frames_in_flight_ < bounds_.max_frames_in_flight &&
            (frames_in_flight_ == 0 || bytes_in_flight_ + bytes <= bounds_.max_bytes_in_flight));
  });
  if (closing_) return false;
  ++frames_in_flight_;
  bytes_in_flight_ += bytes;
  peak_frames_ = std::max(peak_frames_, frames_in_flight_);
  peak_bytes_ = std::max(peak_bytes_, bytes_in_flight_);
  return true;
}

void AgentLink::start_reader(caf::actor owner) {
  reader_ = std::thread([this, owner] { read_loop(owner); });
}

void AgentLink::read_loop(caf::actor owner) {
  messages::FrameReader frames(bounds_.max_frame_bytes);
  // One recv at most: with the frames it completes that is all the reader holds beyond those
  // in flight (plus one partial frame, itself capped).
  std::vector<char> buf(64 * 1024);
  std::string why = "the agent closed the connection";
  bool agent_fault = false, stopped = false;
  while (!stopped) {
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      why = std::string("reading from the agent: ") + std::strerror(errno);
      break;
    }
    frames.feed(std::string_view(buf.data(), static_cast<size_t>(n)));
    while (true) {
      auto f = frames.next();
      if (!f) {
        why = "the agent broke the protocol: " + f.error() + "; the session is ended";
        agent_fault = stopped = true;
        break;
      }
      if (!*f) break;
      // Backpressure: no more recv() until the owner has room (see the header).
      if (!wait_for_room((*f)->size())) {
        stopped = true;
        break;
      }
      spdlog::debug("agent link fd {} to {}: frame of {} bytes", fd_, owner.id(), (*f)->size());
      caf::anon_send(owner, frame_atom::value, std::move(**f));
    }
  }
  spdlog::debug("agent link fd {} to {}: reader ends: {}", fd_, owner.id(), why);
  bool closing;
  {
    std::lock_guard lock(mu_);
    closing = closing_;
  }
  if (!closing) caf::anon_send(owner, closed_atom::value, why, agent_fault);
}

std::expected<void, std::string> AgentLink::send(const messages::AgentMessage& msg) {
  auto bytes = messages::frame(msg);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(std::string("sending to the agent: ") + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace berth::actors
