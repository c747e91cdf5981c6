#pragma once
// A machine's NIC in the jail runtime: a veth pair whose host end is a port of the worker's
// bridge and whose other end is created directly inside the jail's network namespace.
#include <sys/types.h>

#include <expected>
#include <string>
#include <string_view>

#include "vmm/net/mac.hpp"

namespace berth::vmm::net {

// The host end's name for a job: "bj" + 12 hex digits of a hash of the job id. Interface names
// are at most 15 bytes, job ids are longer; 48 bits make a collision between the few dozen
// machines of one host vanishingly unlikely, and create_jail_veth fails rather than reuse.
std::string host_veth_name(std::string_view job_id);

struct VethSpec {
  std::string host_name;  // host end, a port of `bridge`
  std::string bridge;
  pid_t netns_pid = -1;  // the peer is created in this process's network namespace
  std::string peer_name = "eth0";
  MacAddress peer_mac{};  // all zero: the kernel picks one
};

// Creates the pair in one request (host end already enslaved to the bridge, peer already in
// the namespace), then turns on bridge-port isolation — isolated ports cannot reach each other,
// only the bridge's own address, so jobs cannot talk to one another — and only then sets the
// host end up, so no frame crosses the port before it is isolated. On failure nothing is left.
std::expected<void, std::string> create_jail_veth(const VethSpec& spec);

}  // namespace berth::vmm::net
