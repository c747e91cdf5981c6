#pragma once
// Resource limits of one job. Defaults are what a job gets when it names none; the maxima are
// what the gateway accepts (docs/api.md lists both).
#include <cstdint>

#include <msgpack.hpp>

namespace berth::messages {

struct Limits {
  uint32_t wall_ms = 5'000;
  uint32_t cpu_ms = 5'000;
  uint32_t memory_mib = 256;
  uint32_t processes = 64;
  uint64_t output_bytes = 1 << 20;      // stdout + stderr captured, each
  uint64_t file_size_bytes = 16 << 20;  // largest file a job may write
  MSGPACK_DEFINE_MAP(wall_ms, cpu_ms, memory_mib, processes, output_bytes, file_size_bytes);
};

struct LimitBounds {
  static constexpr uint32_t kMaxWallMs = 60'000;
  static constexpr uint32_t kMaxCpuMs = 60'000;
  static constexpr uint32_t kMaxMemoryMib = 4'096;
  static constexpr uint32_t kMaxProcesses = 512;
  static constexpr uint64_t kMaxOutputBytes = 16 << 20;
  static constexpr uint64_t kMaxFileSizeBytes = 256 << 20;
};

}  // namespace berth::messages
