#include "messages/frame.hpp"

#include "messages/codec.hpp"

namespace berth::messages {

std::string frame(std::string_view body) {
  std::string out(4, '\0');
  auto n = static_cast<uint32_t>(body.size());
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
  out.append(body);
  return out;
}

std::string frame(const AgentMessage& msg) {
  return frame(encode(msg));
}

std::expected<std::optional<std::string>, std::string> FrameReader::next() {
  if (buf_.size() < 4) return std::optional<std::string>{};
  auto b = reinterpret_cast<const unsigned char*>(buf_.data());
  uint32_t n = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  if (n > max_)
    return std::unexpected("frame of " + std::to_string(n) + " bytes exceeds the limit of " +
                           std::to_string(max_) + " bytes");
  if (buf_.size() < 4 + size_t{n}) return std::optional<std::string>{};
  std::string body = buf_.substr(4, n);
  buf_.erase(0, 4 + size_t{n});
  return std::optional<std::string>{std::move(body)};
}

}  // namespace berth::messages
