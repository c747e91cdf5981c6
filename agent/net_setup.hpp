#pragma once
// Brings up the machine's network before the agent listens: `lo`, then the NIC the launcher
// attaches (a veth end in the jail, virtio-net in a microVM) with the leased address. Plain
// ioctls, no libnl: the agent stays a small static binary. No default route is added unless the
// launcher asks (--route-via): a job reaches nothing beyond its subnet otherwise.
#include <chrono>
#include <expected>
#include <string>

#include "agent/options.hpp"

namespace berth::agent {

// Waits up to `timeout` for `iface` to exist (the launcher moves it in just after start), then
// brings up lo and `iface` and gives `iface` the address `ip`.
std::expected<void, std::string> setup_network(const std::string& iface, const Ipv4& ip,
                                               std::chrono::milliseconds timeout);

// Adds the default route via `via` (on the NIC that setup_network configured).
std::expected<void, std::string> add_default_route(const Ipv4& via);

// Sends one datagram to the gateway (the host side of the bridge). The host's first connection
// attempt may have found no neighbour entry for us and marked it failed; traffic from us makes
// the host learn our address at once instead of after its retry timer (about a second).
void announce(const Ipv4& gateway);

}  // namespace berth::agent
