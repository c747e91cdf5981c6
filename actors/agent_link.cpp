#include "actors/agent_link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"
#include "messages/frame.hpp"

namespace berth::actors {

std::expected<std::unique_ptr<AgentLink>, std::string> AgentLink::connect(
    const std::string& ip, uint16_t port, std::chrono::milliseconds timeout,
    const std::function<bool()>& alive) {
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
      return std::unique_ptr<AgentLink>(new AgentLink(fd));
    }
    last = std::strerror(errno);
    ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::unexpected("agent at " + ip + ":" + std::to_string(port) + " did not answer within " +
                         std::to_string(timeout.count()) + " ms (last error: " + last + ")");
}

AgentLink::~AgentLink() {
  close();
}

void AgentLink::close() {
  closing_ = true;
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void AgentLink::start_reader(caf::actor owner) {
  reader_ = std::thread([this, owner] {
    messages::FrameReader frames(messages::kMaxAgentFrameBytes);
    char buf[65536];
    std::string why = "the agent closed the connection";
    while (true) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        why = std::string("reading from the agent: ") + std::strerror(errno);
        break;
      }
      frames.feed(std::string_view(buf, static_cast<size_t>(n)));
      bool bad = false;
      while (true) {
        auto f = frames.next();
        if (!f) {
          why = "bad frame from the agent: " + f.error();
          bad = true;
          break;
        }
        if (!*f) break;
        spdlog::debug("agent link fd {} to {}: frame of {} bytes", fd_, owner.id(), (*f)->size());
        caf::anon_send(owner, frame_atom::value, std::move(**f));
      }
      if (bad) break;
    }
    spdlog::debug("agent link fd {} to {}: reader ends: {}", fd_, owner.id(), why);
    if (!closing_) caf::anon_send(owner, closed_atom::value, why);
  });
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
