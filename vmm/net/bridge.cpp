#include "vmm/net/bridge.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/route/addr.h>
#include <netlink/route/link/bridge.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <memory>

#include "vmm/net/ipv4.hpp"
#include "vmm/net/netlink.hpp"

namespace berth::vmm::net {

namespace {

struct AddrPut {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};

// Adds ip/prefix to link `ifindex`; an address that is already there is fine.
std::expected<void, std::string> ensure_address(nl_sock* sock, int ifindex, const std::string& link,
                                                Ipv4 ip, int prefix_len) {
  uint32_t be = htonl(ip.value());
  std::unique_ptr<nl_addr, NlAddrPut> local(nl_addr_build(AF_INET, &be, sizeof be));
  std::unique_ptr<rtnl_addr, AddrPut> addr(rtnl_addr_alloc());
  if (!local || !addr) return std::unexpected(std::string("netlink: out of memory"));
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_family(addr.get(), AF_INET);
  if (int err = rtnl_addr_set_local(addr.get(), local.get()); err < 0)
    return std::unexpected("netlink: set address: " + nl_error(err));
  // After set_local: libnl copies the local address's (empty) prefix length into the object.
  rtnl_addr_set_prefixlen(addr.get(), prefix_len);
  int err = rtnl_addr_add(sock, addr.get(), NLM_F_CREATE | NLM_F_EXCL);
  if (err == -NLE_EXIST) return {};
  if (err < 0)
    return std::unexpected("netlink: add " + ip.to_string() + "/" + std::to_string(prefix_len) +
                           " to " + link + ": " + nl_error(err));
  spdlog::info("bridge {}: added address {}/{}", link, ip.to_string(), prefix_len);
  return {};
}

}  // namespace

std::expected<void, std::string> ensure_bridge(const std::string& name,
                                               const std::string& gateway_ip, int prefix_len) {
  if (auto ok = check_link_name(name); !ok) return std::unexpected("bridge: " + ok.error());
  auto ip = Ipv4::parse(gateway_ip);
  if (!ip) return std::unexpected("bridge " + name + ": gateway: " + ip.error());
  if (prefix_len < 1 || prefix_len > 30)
    return std::unexpected("bridge " + name + ": prefix length " + std::to_string(prefix_len) +
                           " is not in 1..30");
  auto sock = route_socket();
  if (!sock) return std::unexpected(sock.error());

  auto link = find_link(sock->get(), name);
  if (!link) return std::unexpected(link.error());
  if (!*link) {
    int err = rtnl_link_bridge_add(sock->get(), name.c_str());
    // Another worker on this host may have created it between our look and our add.
    if (err < 0 && err != -NLE_EXIST)
      return std::unexpected("netlink: create bridge " + name + ": " + nl_error(err));
    if (err == 0) spdlog::info("bridge {}: created", name);
    link = find_link(sock->get(), name);
    if (!link) return std::unexpected(link.error());
    if (!*link) return std::unexpected("bridge " + name + " vanished right after it was created");
  }
  const char* type = rtnl_link_get_type(link->get());
  if (!type || std::strcmp(type, "bridge") != 0)
    return std::unexpected("link " + name + " exists but is a " + (type ? type : "plain device") +
                           ", not a bridge; choose another bridge name");
  int ifindex = rtnl_link_get_ifindex(link->get());

  if (auto ok = ensure_address(sock->get(), ifindex, name, *ip, prefix_len); !ok) return ok;

  // A bridge without an address of its own takes the lowest MAC of its ports, so it changes
  // whenever a machine's veth comes or goes; machines that cached the old one in their ARP
  // table then send into the void. A fixed, locally administered MAC derived from the name
  // pins it (and survives a worker restart).
  uint8_t mac[6] = {0x02, 0xb7, 0, 0, 0, 0};
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  std::memcpy(mac + 2, &h, 4);
  std::unique_ptr<nl_addr, NlAddrPut> lladdr(nl_addr_build(AF_LLC, mac, sizeof mac));
  Link change(rtnl_link_alloc());
  if (!change || !lladdr) return std::unexpected(std::string("netlink: out of memory"));
  rtnl_link_set_addr(change.get(), lladdr.get());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int err = rtnl_link_change(sock->get(), link->get(), change.get(), 0); err < 0)
    return std::unexpected("netlink: set bridge " + name + " address and up: " + nl_error(err));
  return {};
}

std::expected<void, std::string> delete_link(const std::string& name) {
  if (auto ok = check_link_name(name); !ok) return ok;
  auto sock = route_socket();
  if (!sock) return std::unexpected(sock.error());
  Link link(rtnl_link_alloc());
  if (!link) return std::unexpected(std::string("netlink: out of memory"));
  rtnl_link_set_name(link.get(), name.c_str());
  int err = rtnl_link_delete(sock->get(), link.get());
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND) return {};
  if (err < 0) return std::unexpected("netlink: delete link " + name + ": " + nl_error(err));
  return {};
}

bool link_exists(const std::string& name) {
  auto sock = route_socket();
  if (!sock) return false;
  auto link = find_link(sock->get(), name);
  return link && *link;
}

}  // namespace berth::vmm::net
