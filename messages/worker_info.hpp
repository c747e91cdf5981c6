#pragma once
// What a live worker tells the fleet about itself: one entry per worker in the KV bucket
// berth_workers, rewritten every kWorkerAnnounceMs and expiring kWorkerTtlMs after the last
// write, so a dead worker disappears within seconds. Gateways decide what to accept from these
// entries (e.g. `network: true` only when some worker offers egress), not from files of their own.
#include <cstdint>
#include <string>
#include <vector>

#include <msgpack.hpp>

#include "messages/version.hpp"

namespace berth::messages {

inline constexpr int64_t kWorkerAnnounceMs = 3'000;
inline constexpr int64_t kWorkerTtlMs = 10'000;

struct WorkerInfo {
  uint32_t version = kWireVersion;
  std::string worker_id;
  std::string runtime;  // "kvm" or "jail"
  std::string egress;   // "none" or "nat"
  uint32_t slots = 0;
  uint32_t running = 0;
  std::vector<std::string> languages;
  int64_t announced_ms = 0;
  MSGPACK_DEFINE_MAP(version, worker_id, runtime, egress, slots, running, languages, announced_ms);
};

}  // namespace berth::messages
