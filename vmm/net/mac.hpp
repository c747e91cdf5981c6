#pragma once
// A machine's MAC address: derived from its leased IPv4 address, so the host knows it before the
// machine exists and can pin the bridge port to it (vmm/net/host_filter.hpp), for both runtimes.
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

#include "vmm/net/ipv4.hpp"

namespace berth::vmm::net {

using MacAddress = std::array<uint8_t, 6>;

// 06:b7:a:b:c:d for a.b.c.d: locally administered (bit 1 of the first byte), unicast (bit 0
// clear), and distinct for every address of the pool.
constexpr MacAddress machine_mac(Ipv4 ip) {
  uint32_t v = ip.value();
  return {0x06,
          0xb7,
          static_cast<uint8_t>(v >> 24),
          static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8),
          static_cast<uint8_t>(v)};
}

inline std::string to_string(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

}  // namespace berth::vmm::net
