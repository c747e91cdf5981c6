#pragma once
// The supervisor's connection: one non-blocking TCP socket carrying length-prefixed msgpack
// frames (messages/frame.hpp). Reads feed a FrameReader; writes go to an outgoing buffer that
// the event loop flushes when the socket is writable, so a slow supervisor never stalls the
// agent (the step runner stops reading the job's pipes instead; see pending()).
#include <cstddef>
#include <expected>
#include <optional>
#include <string>

#include "agent/options.hpp"
#include "agent/unique_fd.hpp"
#include "messages/agent_protocol.hpp"
#include "messages/frame.hpp"

namespace berth::agent {

// A non-blocking listening TCP socket on addr:port.
std::expected<UniqueFd, std::string> listen_tcp(const Ipv4& addr, uint16_t port);

// Accepts one connection from a listening socket (non-blocking: nullopt when none is waiting).
std::expected<std::optional<UniqueFd>, std::string> accept_one(int listen_fd);

class Connection {
 public:
  explicit Connection(UniqueFd fd);

  int fd() const { return fd_.get(); }

  // Reads what the socket holds (bounded per call). An error means the connection is over:
  // the peer closed it ("closed by the supervisor") or the read failed.
  std::expected<void, std::string> read_available();

  // The next whole message, nullopt when more bytes are needed; an error for a bad frame
  // (oversized, undecodable): the connection must then be dropped.
  std::expected<std::optional<messages::AgentMessage>, std::string> next_message();

  void send(const messages::AgentMessage& msg);
  // Writes as much of the outgoing buffer as the socket takes now.
  std::expected<void, std::string> flush();
  // Bytes queued and not yet written.
  size_t pending() const { return out_.size() - out_off_; }
  // Tries to flush everything for up to `timeout_ms`, for the last words before exiting.
  void drain(int timeout_ms);

 private:
  UniqueFd fd_;
  // Frames from the worker: `exec` carries the job's sources and stdin.
  messages::FrameReader reader_{messages::kMaxExecFrameBytes};
  std::string out_;
  size_t out_off_ = 0;
};

}  // namespace berth::agent
