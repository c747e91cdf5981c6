#pragma once
// The host's neighbour (ARP) table on the worker's bridge.
#include <expected>
#include <string>

namespace berth::vmm::net {

// Forgets what the host knows of `ip` on `bridge`. Addresses are reused by later machines with
// new MACs; a stale entry makes the host send the first SYN to a MAC that is gone and wait a
// second for the neighbour to be re-probed. Nothing known is not an error.
std::expected<void, std::string> forget_neighbour(const std::string& bridge, const std::string& ip);

}  // namespace berth::vmm::net
