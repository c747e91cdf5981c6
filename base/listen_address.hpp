#pragma once
// A "host:port" to listen on, as the gateway's `listen` and the worker's `status_listen` take it.
#include <cstdint>
#include <expected>
#include <stdexcept>
#include <string>

namespace berth {

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

// "127.0.0.1:8080", "[::1]:8080", ":8080" (all interfaces); port 0 asks the kernel for one.
inline std::expected<ListenAddress, std::string> parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return std::unexpected("listen must be host:port, got '" + listen + "'");
  ListenAddress a;
  a.host = listen.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  if (a.host.empty()) a.host = "0.0.0.0";
  std::string port = listen.substr(colon + 1);
  try {
    size_t used = 0;
    unsigned long v = std::stoul(port, &used);
    if (used != port.size() || v > 65535) throw std::out_of_range(port);
    a.port = static_cast<uint16_t>(v);
  } catch (...) {
    return std::unexpected("listen: bad port '" + port + "' in '" + listen + "'");
  }
  return a;
}

}  // namespace berth
