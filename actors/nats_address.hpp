#pragma once
// The IPv4 addresses of the NATS servers a worker connects to: a job with egress must not reach
// the fleet's NATS, whatever egress_deny says, so these are denied too (vmm/net/host_filter.hpp).
#include <string>
#include <vector>

#include "vmm/net/ipv4.hpp"

namespace berth::actors {

// Every IPv4 address the hosts of `urls` (comma-separated nats://host:port, as nats.c takes
// them) resolve to, as /32 networks. A host that does not resolve now adds nothing.
std::vector<vmm::net::Cidr> nats_server_addresses(const std::string& urls);

}  // namespace berth::actors
