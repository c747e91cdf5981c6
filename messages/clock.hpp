#pragma once
#include <chrono>
#include <cstdint>

namespace berth::messages {
// Wall-clock milliseconds since the epoch: the unit of every timestamp on the wire.
inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace berth::messages
