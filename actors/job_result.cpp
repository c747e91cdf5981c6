#include "actors/job_result.hpp"

namespace berth::actors {

using messages::Stream;
using messages::Verdict;

void JobResult::append_capped(std::string& to, const std::string& data, uint64_t cap,
                              bool& truncated) {
  if (to.size() >= cap) {
    truncated = truncated || !data.empty();
    return;
  }
  auto room = cap - to.size();
  if (data.size() > room) truncated = true;
  to.append(data, 0, std::min<uint64_t>(room, data.size()));
}

void JobResult::output(const messages::OutputChunk& chunk) {
  // The agent caps output itself; the cap here only protects the worker from a broken agent.
  bool ignored = false;
  if (chunk.step == "compile")
    append_capped(result_.compile_output, chunk.data, cap_, ignored);
  else if (chunk.stream == Stream::stderr_stream)
    append_capped(result_.stderr_data, chunk.data, cap_, result_.stderr_truncated);
  else
    append_capped(result_.stdout_data, chunk.data, cap_, result_.stdout_truncated);
}

bool JobResult::step_exit(const messages::StepExit& e) {
  result_.cpu_ms += e.cpu_ms;
  result_.wall_ms += e.wall_ms;
  result_.peak_memory_kib = std::max(result_.peak_memory_kib, e.peak_memory_kib);
  if (e.step == "compile") {
    if (e.verdict == Verdict::ok) return true;
    ended_ = true;
    result_.verdict = e.verdict == Verdict::runtime_error ? Verdict::compile_error : e.verdict;
    result_.exit_code = e.exit_code;
    result_.signal = e.signal;
    result_.message = e.message.empty() ? "the compile step failed" : e.message;
    if (e.verdict != Verdict::runtime_error) result_.message = "compile step: " + result_.message;
    return false;
  }
  ended_ = true;
  result_.verdict = e.verdict;
  result_.exit_code = e.exit_code;
  result_.signal = e.signal;
  result_.stdout_truncated = result_.stdout_truncated || e.stdout_truncated;
  result_.stderr_truncated = result_.stderr_truncated || e.stderr_truncated;
  result_.message = e.message;
  return false;
}

void JobResult::end(Verdict verdict, std::string message) {
  ended_ = true;
  result_.verdict = verdict;
  result_.message = std::move(message);
}

}  // namespace berth::actors
