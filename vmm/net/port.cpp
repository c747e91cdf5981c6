#include "vmm/net/port.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vmm/net/netlink.hpp"

namespace berth::vmm::net {

std::expected<void, std::string> isolate_port(const std::string& port) {
  auto path = "/sys/class/net/" + port + "/brport/isolated";
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return std::unexpected("open " + path + ": " + std::strerror(errno));
  ssize_t n = write(fd, "1", 1);
  int saved = errno;
  close(fd);
  if (n != 1) return std::unexpected("write 1 to " + path + ": " + std::strerror(saved));
  return {};
}

std::expected<void, std::string> attach_to_bridge(const std::string& port,
                                                  const std::string& bridge) {
  if (auto ok = check_link_name(port); !ok) return ok;
  auto sock = route_socket();
  if (!sock) return std::unexpected(sock.error());
  auto br = find_link(sock->get(), bridge);
  if (!br) return std::unexpected(br.error());
  if (!*br)
    return std::unexpected("bridge " + bridge + " does not exist (the worker creates it at start)");
  auto link = find_link(sock->get(), port);
  if (!link) return std::unexpected(link.error());
  if (!*link) return std::unexpected("link " + port + " does not exist");

  Link master(rtnl_link_alloc());
  if (!master) return std::unexpected(std::string("netlink: out of memory"));
  rtnl_link_set_master(master.get(), rtnl_link_get_ifindex(br->get()));
  if (int err = rtnl_link_change(sock->get(), link->get(), master.get(), 0); err < 0)
    return std::unexpected("netlink: make " + port + " a port of " + bridge + ": " + nl_error(err));
  if (auto ok = isolate_port(port); !ok) return std::unexpected("isolate " + ok.error());
  Link up(rtnl_link_alloc());
  if (!up) return std::unexpected(std::string("netlink: out of memory"));
  rtnl_link_set_flags(up.get(), IFF_UP);
  if (int err = rtnl_link_change(sock->get(), link->get(), up.get(), 0); err < 0)
    return std::unexpected("netlink: set " + port + " up: " + nl_error(err));
  return {};
}

}  // namespace berth::vmm::net
