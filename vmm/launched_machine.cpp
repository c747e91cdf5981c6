#include "vmm/launched_machine.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace berth::vmm {

std::expected<void, std::string> LaunchedMachine::start() {
  if (state_ != State::fresh)
    return std::unexpected(
        std::string("start: this machine was already started (machines are never reused)"));
  state_ = State::started;
  auto t0 = std::chrono::steady_clock::now();
  auto launched = launch_steps();
  if (!launched) {
    spdlog::error("[{}] {} did not start: {}", job_id_, noun_, launched.error());
    stop();
    return launched;
  }
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  spdlog::info("[{}] {} up in {} ms: {}", job_id_, noun_, ms.count(), launch_summary());
  return {};
}

void LaunchedMachine::stop() {
  State was = state_;
  state_ = State::stopped;
  if (was == State::started) teardown();
}

}  // namespace berth::vmm
