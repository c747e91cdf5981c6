#include "actors/nats_address.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

namespace berth::actors {

namespace {

// "nats://user:pass@host:4222" -> "host"; "[::1]:4222" has no IPv4 to deny.
std::string host_of(std::string url) {
  if (auto p = url.find("://"); p != std::string::npos) url = url.substr(p + 3);
  if (auto at = url.rfind('@'); at != std::string::npos) url = url.substr(at + 1);
  if (auto slash = url.find('/'); slash != std::string::npos) url = url.substr(0, slash);
  if (!url.empty() && url.front() == '[') return {};
  if (auto colon = url.rfind(':'); colon != std::string::npos) url = url.substr(0, colon);
  return url;
}

}  // namespace

std::vector<vmm::net::Cidr> nats_server_addresses(const std::string& urls) {
  std::vector<vmm::net::Cidr> out;
  size_t pos = 0;
  while (pos <= urls.size()) {
    auto comma = urls.find(',', pos);
    auto host =
        host_of(urls.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    while (!host.empty() && host.front() == ' ') host.erase(0, 1);
    if (!host.empty()) {
      addrinfo hints{};
      hints.ai_family = AF_INET;
      addrinfo* res = nullptr;
      if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0) {
        spdlog::warn("egress: NATS host {} does not resolve now ({}); not in the denied ranges",
                     host, gai_strerror(rc));
      } else {
        for (auto* a = res; a; a = a->ai_next) {
          auto* sin = reinterpret_cast<sockaddr_in*>(a->ai_addr);
          vmm::net::Ipv4 ip(ntohl(sin->sin_addr.s_addr));
          if (auto c = vmm::net::Cidr::enclosing(ip, 32)) out.push_back(*c);
        }
        freeaddrinfo(res);
      }
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace berth::actors
