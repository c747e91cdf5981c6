#include "gateway/worker_directory.hpp"

#include <spdlog/spdlog.h>

#include "messages/codec.hpp"

namespace berth::gateway {

namespace {
constexpr auto kFresh = std::chrono::seconds(1);
}

std::expected<std::vector<messages::WorkerInfo>, ApiError> WorkerDirectory::live() {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (have_ && now - read_at_ < kFresh) return cached_;
  auto entries = store_.worker_entries();
  if (!entries) return std::unexpected(entries.error());
  std::vector<messages::WorkerInfo> out;
  for (auto& [key, e] : *entries) {
    auto info = messages::decode<messages::WorkerInfo>(e.value, "worker announcement");
    if (!info) {
      spdlog::warn("worker announcement {} ignored: {}", key, info.error());
      continue;
    }
    out.push_back(std::move(*info));
  }
  cached_ = out;
  read_at_ = now;
  have_ = true;
  return out;
}

std::expected<void, ApiError> WorkerDirectory::check_network_allowed() {
  auto workers = live();
  if (!workers) return std::unexpected(workers.error());
  for (auto& w : *workers)
    if (w.egress == "nat") return {};
  return std::unexpected(ApiError{400, "network access is disabled on this deployment"});
}

}  // namespace berth::gateway
