#pragma once
// Length-prefixed frames of the agent protocol: a 4-byte big-endian length, then the body.
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include "messages/agent_protocol.hpp"

namespace berth::messages {

std::string frame(std::string_view body);
std::string frame(const AgentMessage& msg);

// Accumulates bytes from a stream and yields whole frames. A length over kMaxFrameBytes is an
// error: the peer is broken or hostile and the connection must be dropped.
class FrameReader {
 public:
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // A frame body, nullopt when more bytes are needed, or an error.
  std::expected<std::optional<std::string>, std::string> next();

 private:
  std::string buf_;
};

}  // namespace berth::messages
