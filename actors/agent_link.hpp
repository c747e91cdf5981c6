#pragma once
// The supervisor's end of the agent session: a TCP connection to the agent at the machine's
// address. Writes happen on the supervisor's thread; a reader thread owned by the link turns
// incoming frames into (frame_atom, body) messages and the end of the stream into
// (closed_atom, why), so the supervisor never blocks on the socket.
#include <atomic>
#include <chrono>
#include <expected>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "messages/agent_protocol.hpp"

namespace berth::actors {

class AgentLink {
 public:
  // Retries until the agent accepts or `timeout` passes; `alive` is asked between tries so a
  // machine that died is noticed at once.
  static std::expected<std::unique_ptr<AgentLink>, std::string> connect(
      const std::string& ip, uint16_t port, std::chrono::milliseconds timeout,
      const std::function<bool()>& alive);
  ~AgentLink();

  void start_reader(caf::actor owner);
  std::expected<void, std::string> send(const messages::AgentMessage& msg);
  void close();

 private:
  explicit AgentLink(int fd) : fd_(fd) {}
  int fd_;
  std::thread reader_;
  std::atomic<bool> closing_{false};
};

}  // namespace berth::actors
