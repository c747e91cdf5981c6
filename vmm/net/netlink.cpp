#include "vmm/net/netlink.hpp"

#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>

namespace berth::vmm::net {

std::expected<NlSock, std::string> route_socket() {
  NlSock sock(nl_socket_alloc());
  if (!sock) return std::unexpected(std::string("netlink: cannot allocate a socket"));
  if (int err = nl_connect(sock.get(), NETLINK_ROUTE); err < 0)
    return std::unexpected("netlink: connect: " + nl_error(err));
  return sock;
}

std::string nl_error(int err) {
  return nl_geterror(err);
}

std::expected<Link, std::string> find_link(nl_sock* sock, const std::string& name) {
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &raw);
  if (err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV) return Link{};
  if (err < 0) return std::unexpected("netlink: get link " + name + ": " + nl_error(err));
  return Link(raw);
}

std::expected<void, std::string> check_link_name(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    return std::unexpected("interface name '" + name + "' must be 1.." +
                           std::to_string(IFNAMSIZ - 1) + " characters");
  if (name == "." || name == "..")
    return std::unexpected("interface name '" + name + "' is not allowed");
  for (char c : name)
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
      return std::unexpected("interface name '" + name + "' contains a '/', ':' or whitespace");
  return {};
}

}  // namespace berth::vmm::net
