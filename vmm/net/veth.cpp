#include "vmm/net/veth.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/route/link/veth.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "vmm/net/bridge.hpp"
#include "vmm/net/netlink.hpp"
#include "vmm/net/port.hpp"

namespace berth::vmm::net {

std::string host_veth_name(std::string_view job_id) {
  // FNV-1a 64: stable across runs and builds, unlike std::hash.
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : job_id) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "bj%012llx",
                static_cast<unsigned long long>(h & 0xffffffffffffull));
  return buf;
}

std::expected<void, std::string> create_jail_veth(const VethSpec& spec) {
  if (auto ok = check_link_name(spec.host_name); !ok) return ok;
  if (auto ok = check_link_name(spec.peer_name); !ok) return ok;
  if (spec.netns_pid <= 0) return std::unexpected(std::string("veth: no namespace pid"));
  auto sock = route_socket();
  if (!sock) return std::unexpected(sock.error());

  auto bridge = find_link(sock->get(), spec.bridge);
  if (!bridge) return std::unexpected(bridge.error());
  if (!*bridge)
    return std::unexpected("bridge " + spec.bridge +
                           " does not exist (the worker creates it at start)");

  Link veth(rtnl_link_veth_alloc());
  if (!veth) return std::unexpected(std::string("netlink: out of memory"));
  Link peer(rtnl_link_veth_get_peer(veth.get()));  // takes a reference
  rtnl_link_set_name(veth.get(), spec.host_name.c_str());
  rtnl_link_set_master(veth.get(), rtnl_link_get_ifindex(bridge->get()));
  rtnl_link_set_name(peer.get(), spec.peer_name.c_str());
  rtnl_link_set_ns_pid(peer.get(), spec.netns_pid);
  // The filter pins the port to this MAC (vmm/net/host_filter.hpp).
  std::unique_ptr<nl_addr, void (*)(nl_addr*)> mac(nullptr, nl_addr_put);
  if (spec.peer_mac != MacAddress{}) {
    mac.reset(nl_addr_build(AF_LLC, spec.peer_mac.data(), spec.peer_mac.size()));
    if (!mac) return std::unexpected(std::string("netlink: out of memory"));
    rtnl_link_set_addr(peer.get(), mac.get());
  }
  if (int err = rtnl_link_add(sock->get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL); err < 0)
    return std::unexpected("netlink: create veth " + spec.host_name + " (peer " + spec.peer_name +
                           " in the namespace of pid " + std::to_string(spec.netns_pid) +
                           ", port of " + spec.bridge + "): " + nl_error(err));

  auto undo = [&](std::string why) -> std::expected<void, std::string> {
    (void)delete_link(spec.host_name);
    return std::unexpected(std::move(why));
  };
  if (auto ok = isolate_port(spec.host_name); !ok) return undo("isolate " + ok.error());
  auto link = find_link(sock->get(), spec.host_name);
  if (!link || !*link) return undo("veth " + spec.host_name + " vanished after it was created");
  Link change(rtnl_link_alloc());
  if (!change) return undo("netlink: out of memory");
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sock->get(), link->get(), change.get(), 0); err < 0)
    return undo("netlink: set " + spec.host_name + " up: " + nl_error(err));
  return {};
}

}  // namespace berth::vmm::net
