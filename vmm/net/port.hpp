#pragma once
// An existing link (a machine's TAP) made a port of the worker's bridge.
#include <expected>
#include <string>

namespace berth::vmm::net {

// Enslaves `port` to `bridge`, turns on bridge-port isolation (isolated ports reach only the
// bridge's own address, not each other: jobs cannot talk to one another) and only then sets the
// port up, so no frame crosses it before it is isolated.
std::expected<void, std::string> attach_to_bridge(const std::string& port,
                                                  const std::string& bridge);

// /sys/class/net/<port>/brport/isolated = 1 (Linux 4.18+). libnl 3.7 has no setter for
// IFLA_BRPORT_ISOLATED, sysfs does.
std::expected<void, std::string> isolate_port(const std::string& port);

}  // namespace berth::vmm::net
