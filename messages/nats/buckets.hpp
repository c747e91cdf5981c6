#pragma once
// How each KV bucket is made, in one place: whichever of the gateway or a worker starts first
// creates it, and both must ask for the same configuration.
#include "messages/nats/kv.hpp"
#include "messages/worker_info.hpp"

namespace berth::nats {

// Live workers' announcements: rebuilt within seconds by the workers, so memory storage, and
// expiring on their own when a worker stops announcing.
inline constexpr KvOptions kWorkersBucketOptions{.ttl_ms = messages::kWorkerTtlMs, .memory = true};

}  // namespace berth::nats
