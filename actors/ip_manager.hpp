#pragma once
#include <caf/all.hpp>

#include "actors/ip_pool.hpp"

namespace berth::actors {

struct IpManagerState {
  std::unique_ptr<IpPool> pool;
  static inline const char* name = "ip_manager";
};

// Leases machine addresses from the pool (see atoms.hpp for its messages).
caf::behavior ip_manager(caf::stateful_actor<IpManagerState>* self, std::shared_ptr<IpPool> pool);

}  // namespace berth::actors
