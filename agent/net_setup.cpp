#include "agent/net_setup.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include <cstring>

#include "agent/log.hpp"
#include "agent/unique_fd.hpp"

namespace berth::agent {

namespace {

ifreq request_for(const std::string& iface) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  return ifr;
}

void put_addr(ifreq& ifr, uint32_t addr) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(addr);
  std::memcpy(&ifr.ifr_addr, &sin, sizeof sin);
}

std::expected<void, std::string> bring_up(int sock, const std::string& iface) {
  ifreq ifr = request_for(iface);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
    return std::unexpected(errno_text("SIOCGIFFLAGS " + iface));
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) != 0)
    return std::unexpected(errno_text("SIOCSIFFLAGS " + iface));
  return {};
}

bool wait_for(const std::string& iface, std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (if_nametoindex(iface.c_str()) == 0) {
    if (std::chrono::steady_clock::now() >= end) return false;
    timespec ts{0, 20'000'000};
    nanosleep(&ts, nullptr);
  }
  return true;
}

}  // namespace

std::expected<void, std::string> setup_network(const std::string& iface, const Ipv4& ip,
                                               std::chrono::milliseconds timeout) {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return std::unexpected(errno_text("socket for interface setup"));
  if (auto r = bring_up(sock.get(), "lo"); !r) return r;
  if (!wait_for(iface, timeout))
    return std::unexpected("interface " + iface + " did not appear within " +
                           std::to_string(timeout.count()) + " ms");
  ifreq ifr = request_for(iface);
  put_addr(ifr, ip.addr);
  if (ioctl(sock.get(), SIOCSIFADDR, &ifr) != 0)
    return std::unexpected(errno_text("SIOCSIFADDR " + iface));
  ifr = request_for(iface);
  put_addr(ifr, ip.prefix == 0 ? 0 : ~uint32_t{0} << (32 - ip.prefix));
  if (ioctl(sock.get(), SIOCSIFNETMASK, &ifr) != 0)
    return std::unexpected(errno_text("SIOCSIFNETMASK " + iface));
  if (auto r = bring_up(sock.get(), iface); !r) return r;
  log("interface " + iface + " up with " + format_ipv4(ip.addr) + "/" + std::to_string(ip.prefix));
  return {};
}

std::expected<void, std::string> add_default_route(const Ipv4& via) {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return std::unexpected(errno_text("socket for the route"));
  rtentry rt{};
  auto put = [](sockaddr& sa, uint32_t addr) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(addr);
    std::memcpy(&sa, &sin, sizeof sin);
  };
  put(rt.rt_dst, 0);
  put(rt.rt_genmask, 0);
  put(rt.rt_gateway, via.addr);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  if (ioctl(sock.get(), SIOCADDRT, &rt) != 0)
    return std::unexpected(errno_text("SIOCADDRT default via " + format_ipv4(via.addr)));
  log("default route via " + format_ipv4(via.addr));
  return {};
}

void announce(const Ipv4& gateway) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(9);  // discard
  to.sin_addr.s_addr = htonl(gateway.addr);
  (void)sendto(fd, "berth-agent", 11, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&to), sizeof to);
  close(fd);
}

}  // namespace berth::agent
