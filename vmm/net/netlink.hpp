#pragma once
// RAII for the libnl objects the host-network code uses. Each operation opens its own route
// socket: they are cheap, and no socket is shared between the threads that start machines.
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include <expected>
#include <memory>
#include <string>

namespace berth::vmm::net {

struct NlSockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
using NlSock = std::unique_ptr<nl_sock, NlSockFree>;

struct LinkPut {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
using Link = std::unique_ptr<rtnl_link, LinkPut>;

// A connected NETLINK_ROUTE socket.
std::expected<NlSock, std::string> route_socket();

// libnl's text for a (negative) libnl error code.
std::string nl_error(int err);

// The link called `name`, or nullptr when there is none; an error only when the kernel could
// not be asked.
std::expected<Link, std::string> find_link(nl_sock* sock, const std::string& name);

// Linux interface names: 1..15 bytes (IFNAMSIZ - 1), no '/', no whitespace, not "." or "..".
std::expected<void, std::string> check_link_name(const std::string& name);

}  // namespace berth::vmm::net
