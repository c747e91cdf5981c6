#pragma once
// The supervisor's side of the agent protocol, for tests: a blocking TCP client with timeouts
// that sends frames and collects a step's output and exit.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "messages/agent_protocol.hpp"
#include "messages/frame.hpp"

namespace berth::agent::test {

using namespace std::chrono_literals;

struct StepRun {
  std::string out;
  std::string err;
  std::optional<messages::StepExit> exit;  // none: timed out or the connection closed
  std::chrono::milliseconds elapsed{0};    // from sending exec to receiving exit
  int chunks = 0;
  size_t largest_chunk = 0;
};

class AgentClient {
 public:
  AgentClient() = default;
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;
  ~AgentClient() { close(); }

  // Retries until the agent accepts or `timeout` passes. Never probes with a throwaway
  // connection: the agent serves only the first one.
  bool connect(const std::string& ip, uint16_t port, std::chrono::milliseconds timeout);
  void close();
  bool connected() const { return fd_ >= 0; }

  void send(const messages::AgentMessage& msg);
  void send_raw(std::string_view bytes);
  // The next message; nullopt on timeout or when the agent closed the connection.
  std::optional<messages::AgentMessage> recv(std::chrono::milliseconds timeout);
  // Whether the agent closes the connection within `timeout` (reading and dropping anything).
  bool wait_closed(std::chrono::milliseconds timeout);

  // Sends exec and collects output until the exit message.
  StepRun run(const messages::ExecStep& step, std::chrono::milliseconds timeout = 15s);
  // Collects output until an exit message, for a step already sent.
  StepRun collect(std::chrono::milliseconds timeout);

 private:
  bool read_some(std::chrono::milliseconds timeout);

  int fd_ = -1;
  bool eof_ = false;
  messages::FrameReader reader_{messages::kMaxAgentFrameBytes};  // the worker's cap
};

// An exec of argv with the given limits, as step "run".
messages::ExecStep exec_of(std::vector<std::string> argv, messages::Limits limits = {});
// /bin/sh -c script.
messages::ExecStep shell(const std::string& script, messages::Limits limits = {});

}  // namespace berth::agent::test
