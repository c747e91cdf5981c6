#pragma once
#include <cstdint>

namespace berth::messages {
// Bumped on any incompatible change of a wire type; decoders refuse other versions.
inline constexpr uint32_t kWireVersion = 1;
}  // namespace berth::messages
