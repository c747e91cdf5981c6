#include "agent/connection.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>

#include "agent/log.hpp"
#include "messages/codec.hpp"

namespace berth::agent {

namespace {
// Per read_available call; keeps one chatty peer from starving the step's pipes.
constexpr size_t kReadBudget = 1 << 20;

int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}
}  // namespace

std::expected<UniqueFd, std::string> listen_tcp(const Ipv4& addr, uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return std::unexpected(errno_text("socket"));
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(addr.addr);
  std::string where = format_ipv4(addr.addr) + ":" + std::to_string(port);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
    return std::unexpected(errno_text("bind " + where));
  if (listen(fd.get(), 4) != 0) return std::unexpected(errno_text("listen " + where));
  return fd;
}

std::expected<std::optional<UniqueFd>, std::string> accept_one(int listen_fd) {
  int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    // ECONNABORTED and friends: that client gave up; keep listening for the next.
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED || errno == EINTR ||
        errno == EPROTO)
      return std::optional<UniqueFd>{};
    return std::unexpected(errno_text("accept"));
  }
  int one = 1;
  // Output chunks and the exit message are small and latency matters more than packing.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return std::optional<UniqueFd>{UniqueFd(fd)};
}

Connection::Connection(UniqueFd fd) : fd_(std::move(fd)) {}

std::expected<void, std::string> Connection::read_available() {
  char buf[64 * 1024];
  size_t total = 0;
  while (total < kReadBudget) {
    ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      reader_.feed(std::string_view(buf, static_cast<size_t>(n)));
      total += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) return std::unexpected("connection closed by the supervisor");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return std::unexpected(errno_text("recv"));
  }
  return {};
}

std::expected<std::optional<messages::AgentMessage>, std::string> Connection::next_message() {
  auto body = reader_.next();
  if (!body) return std::unexpected("bad frame: " + body.error());
  if (!*body) return std::optional<messages::AgentMessage>{};
  auto msg = messages::decode_agent_message(**body);
  if (!msg) return std::unexpected("bad frame: " + msg.error());
  return std::optional<messages::AgentMessage>{std::move(*msg)};
}

void Connection::send(const messages::AgentMessage& msg) {
  if (out_off_ > 0 && out_off_ >= out_.size() / 2) {
    out_.erase(0, out_off_);
    out_off_ = 0;
  }
  out_ += messages::frame(msg);
}

std::expected<void, std::string> Connection::flush() {
  while (out_off_ < out_.size()) {
    ssize_t n = ::send(fd_.get(), out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    if (n > 0) {
      out_off_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {};
    return std::unexpected(errno_text("send to the supervisor"));
  }
  out_.clear();
  out_off_ = 0;
  return {};
}

void Connection::drain(int timeout_ms) {
  int64_t end = now_ms() + timeout_ms;
  while (pending() > 0) {
    if (!flush()) return;
    int left = static_cast<int>(end - now_ms());
    if (pending() == 0 || left <= 0) return;
    pollfd p{fd_.get(), POLLOUT, 0};
    poll(&p, 1, left);
  }
}

}  // namespace berth::agent
