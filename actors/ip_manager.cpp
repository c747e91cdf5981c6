#include "actors/ip_manager.hpp"

#include <spdlog/spdlog.h>

#include "actors/atoms.hpp"

namespace berth::actors {

caf::behavior ip_manager(caf::stateful_actor<IpManagerState>* self, std::shared_ptr<IpPool> pool) {
  self->state.pool = std::make_unique<IpPool>(std::move(*pool));
  return {
      [=](lease_atom, const std::string& job) -> std::tuple<bool, std::string> {
        auto ip = self->state.pool->lease(job);
        if (!ip) {
          spdlog::error("[{}] ip lease failed: {}", job, ip.error());
          return {false, ip.error()};
        }
        spdlog::debug("[{}] leased {}", job, *ip);
        return {true, *ip};
      },
      [=](release_atom, const std::string& job) {
        self->state.pool->release(job);
        return true;
      },
      [=](leases_atom) { return static_cast<uint64_t>(self->state.pool->in_use()); },
  };
}

}  // namespace berth::actors
