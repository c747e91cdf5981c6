#include "vmm/net/neighbour.hpp"

#include <arpa/inet.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/route/neighbour.h>

#include <memory>

#include "vmm/net/ipv4.hpp"
#include "vmm/net/netlink.hpp"

namespace berth::vmm::net {

std::expected<void, std::string> forget_neighbour(const std::string& bridge,
                                                  const std::string& ip) {
  auto addr = Ipv4::parse(ip);
  if (!addr) return std::unexpected("neighbour: " + addr.error());
  auto sock = route_socket();
  if (!sock) return std::unexpected(sock.error());
  auto link = find_link(sock->get(), bridge);
  if (!link) return std::unexpected(link.error());
  if (!*link) return {};
  uint32_t be = htonl(addr->value());
  std::unique_ptr<nl_addr, decltype(&nl_addr_put)> dst(nl_addr_build(AF_INET, &be, sizeof be),
                                                       nl_addr_put);
  std::unique_ptr<rtnl_neigh, decltype(&rtnl_neigh_put)> neigh(rtnl_neigh_alloc(), rtnl_neigh_put);
  if (!dst || !neigh) return std::unexpected(std::string("netlink: out of memory"));
  rtnl_neigh_set_ifindex(neigh.get(), rtnl_link_get_ifindex(link->get()));
  rtnl_neigh_set_family(neigh.get(), AF_INET);
  rtnl_neigh_set_dst(neigh.get(), dst.get());
  int err = rtnl_neigh_delete(sock->get(), neigh.get(), 0);
  if (err < 0 && err != -NLE_OBJ_NOTFOUND && err != -NLE_NOADDR)
    return std::unexpected("netlink: forget neighbour " + ip + " on " + bridge + ": " +
                           nl_error(err));
  return {};
}

}  // namespace berth::vmm::net
