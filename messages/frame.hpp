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

// Accumulates bytes from a stream and yields whole frames. A length over the reader's
// max_frame_bytes is an error, reported as soon as the length is in, without waiting for the
// body: the peer is broken or hostile and the connection must be dropped. The cap is the
// caller's, because each side knows what its peer may legitimately send
// (messages/agent_protocol.hpp: kMaxExecFrameBytes, kMaxAgentFrameBytes).
class FrameReader {
 public:
  explicit FrameReader(uint32_t max_frame_bytes) : max_(max_frame_bytes) {}
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // A frame body, nullopt when more bytes are needed, or an error naming the frame's size.
  std::expected<std::optional<std::string>, std::string> next();
  uint32_t max_frame_bytes() const { return max_; }
  // Bytes fed and not yet returned as frames.
  size_t buffered() const { return buf_.size(); }

 private:
  uint32_t max_;
  std::string buf_;
};

}  // namespace berth::messages
