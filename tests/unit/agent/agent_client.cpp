#include "tests/unit/agent/agent_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "messages/codec.hpp"

namespace berth::agent::test {

namespace {
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point end) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}
}  // namespace

bool AgentClient::connect(const std::string& ip, uint16_t port, std::chrono::milliseconds timeout) {
  auto end = Clock::now() + timeout;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  while (Clock::now() < end) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      fd_ = fd;
      return true;
    }
    ::close(fd);
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void AgentClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void AgentClient::send(const messages::AgentMessage& msg) {
  send_raw(messages::frame(msg));
}

void AgentClient::send_raw(std::string_view bytes) {
  while (!bytes.empty() && fd_ >= 0) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

bool AgentClient::read_some(std::chrono::milliseconds timeout) {
  if (fd_ < 0 || eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[64 * 1024];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  reader_.feed(std::string_view(buf, static_cast<size_t>(n)));
  return true;
}

std::optional<messages::AgentMessage> AgentClient::recv(std::chrono::milliseconds timeout) {
  auto end = Clock::now() + timeout;
  while (true) {
    auto body = reader_.next();
    if (!body) return std::nullopt;
    if (*body) {
      auto msg = messages::decode_agent_message(**body);
      if (!msg) return std::nullopt;
      return std::move(*msg);
    }
    if (Clock::now() >= end || eof_) return std::nullopt;
    read_some(std::chrono::milliseconds(remaining_ms(end)));
  }
}

bool AgentClient::wait_closed(std::chrono::milliseconds timeout) {
  auto end = Clock::now() + timeout;
  while (!eof_ && Clock::now() < end) read_some(std::chrono::milliseconds(remaining_ms(end)));
  return eof_;
}

StepRun AgentClient::run(const messages::ExecStep& step, std::chrono::milliseconds timeout) {
  send(messages::make_message(step));
  return collect(timeout);
}

StepRun AgentClient::collect(std::chrono::milliseconds timeout) {
  StepRun r;
  auto start = Clock::now();
  auto end = start + timeout;
  while (Clock::now() < end) {
    auto msg = recv(std::chrono::milliseconds(remaining_ms(end)));
    if (!msg) break;
    if (msg->type == messages::AgentMsgType::output) {
      auto& o = *msg->output;
      (o.stream == messages::Stream::stdout_stream ? r.out : r.err) += o.data;
      ++r.chunks;
      r.largest_chunk = std::max(r.largest_chunk, o.data.size());
    } else if (msg->type == messages::AgentMsgType::exit) {
      r.exit = std::move(msg->exit);
      break;
    }
  }
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return r;
}

messages::ExecStep exec_of(std::vector<std::string> argv, messages::Limits limits) {
  messages::ExecStep s;
  s.step = "run";
  s.argv = std::move(argv);
  s.limits = limits;
  return s;
}

messages::ExecStep shell(const std::string& script, messages::Limits limits) {
  return exec_of({"/bin/sh", "-c", script}, limits);
}

}  // namespace berth::agent::test
