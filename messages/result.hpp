#pragma once
// The outcome of a job (docs/api.md, "Verdicts").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <msgpack.hpp>

namespace berth::messages {

// Wire values are pinned: never renumber.
enum class Verdict : uint8_t {
  ok = 0,
  runtime_error = 1,
  time_limit = 2,
  memory_limit = 3,
  output_limit = 4,
  compile_error = 5,
  cancelled = 6,
  internal_error = 7,
};

std::string_view to_string(Verdict v);
std::optional<Verdict> verdict_from_string(std::string_view s);

struct Result {
  Verdict verdict = Verdict::internal_error;
  std::optional<int32_t> exit_code;
  std::optional<int32_t> signal;
  std::string stdout_data;
  std::string stderr_data;
  std::string compile_output;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  uint64_t cpu_ms = 0;
  uint64_t wall_ms = 0;
  uint64_t peak_memory_kib = 0;
  std::string message;  // why, for verdicts other than ok
  MSGPACK_DEFINE_MAP(verdict, exit_code, signal, stdout_data, stderr_data, compile_output,
                     stdout_truncated, stderr_truncated, cpu_ms, wall_ms, peak_memory_kib, message);
};

}  // namespace berth::messages

MSGPACK_ADD_ENUM(berth::messages::Verdict);
