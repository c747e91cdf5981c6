#pragma once
// The worker's bridge and host-side link housekeeping (DESIGN.md §3: every machine's NIC joins
// the worker's bridge; the bridge's own address is the machines' gateway).
#include <expected>
#include <string>

namespace berth::vmm::net {

// Creates bridge `name` if it is missing, gives it gateway_ip/prefix_len if it lacks that
// address, and sets it up. Idempotent: a worker calls it at every start. Fails when `name`
// exists but is not a bridge.
std::expected<void, std::string> ensure_bridge(const std::string& name,
                                               const std::string& gateway_ip, int prefix_len);

// Deletes link `name`; a link that is already gone is not an error.
std::expected<void, std::string> delete_link(const std::string& name);

// Whether a link called `name` exists in this network namespace (false, too, when netlink
// cannot be asked at all).
bool link_exists(const std::string& name);

}  // namespace berth::vmm::net
