#pragma once
// msgpack encoding of every wire type. Decoding never throws: truncated bytes, wrong types and
// unknown versions come back as an error naming the type and the problem.
#include <concepts>
#include <expected>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "messages/agent_protocol.hpp"
#include "messages/version.hpp"

namespace berth::messages {

template <class T>
std::string encode(const T& value) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, value);
  return std::string(buf.data(), buf.size());
}

// Parses exactly one msgpack object; trailing bytes are an error too.
std::expected<msgpack::object_handle, std::string> parse_msgpack(std::string_view bytes,
                                                                 std::string_view what);

template <class T>
std::expected<T, std::string> decode(std::string_view bytes, std::string_view what) {
  auto handle = parse_msgpack(bytes, what);
  if (!handle) return std::unexpected(handle.error());
  T value;
  try {
    handle->get().convert(value);
  } catch (const std::exception& e) {
    return std::unexpected(std::string(what) + ": field of the wrong type (" + e.what() + ")");
  }
  if constexpr (requires { value.version; }) {
    if (value.version != kWireVersion)
      return std::unexpected(std::string(what) + ": unknown version " +
                             std::to_string(value.version) + " (this build speaks " +
                             std::to_string(kWireVersion) + ")");
  }
  return value;
}

// decode<AgentMessage> plus the check that the member named by `type` is present.
std::expected<AgentMessage, std::string> decode_agent_message(std::string_view bytes);

}  // namespace berth::messages
