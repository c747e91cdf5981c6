#pragma once
// IPv4 addresses and networks as strong types: the worker's address pool (ip_manager), the
// bridge's gateway address and each machine's guest address are all computed with these, so a
// string that is not an address is rejected once, at the edge, with the reason.
#include <compare>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace berth::vmm::net {

class Ipv4 {
 public:
  constexpr Ipv4() = default;
  constexpr explicit Ipv4(uint32_t host_order) : value_(host_order) {}

  // Strict dotted quad: four decimal parts 0..255, no leading zeros (so "010" cannot be read
  // as octal by another tool), no spaces, nothing after it.
  static std::expected<Ipv4, std::string> parse(std::string_view text);

  constexpr uint32_t value() const { return value_; }  // host byte order
  std::string to_string() const;

  constexpr auto operator<=>(const Ipv4&) const = default;

 private:
  uint32_t value_ = 0;
};

// A network: address with the host bits zero, and a prefix length 0..32.
class Cidr {
 public:
  Cidr() = default;  // 0.0.0.0/32
  // "10.213.0.0/24". Host bits must be zero ("10.213.0.5/24" is rejected: it usually means the
  // writer confused an interface address with its network).
  static std::expected<Cidr, std::string> parse(std::string_view text);
  // The network that `addr` lies in, e.g. enclosing(10.213.0.7, 24) = 10.213.0.0/24.
  static std::expected<Cidr, std::string> enclosing(Ipv4 addr, int prefix_len);

  Ipv4 network() const { return network_; }
  int prefix() const { return prefix_; }
  Ipv4 netmask() const;
  Ipv4 broadcast() const;
  // Addresses in the network, including network and broadcast: 2^(32 - prefix).
  uint64_t size() const { return uint64_t{1} << (32 - prefix_); }
  // Usable host addresses: size() - 2, or 0 for /31 and /32, which host() does not serve.
  uint64_t host_count() const { return prefix_ <= 30 ? size() - 2 : 0; }
  // The n-th host address, 1 <= n <= host_count(): host(1) is the first usable address (the
  // bridge's gateway by convention), host(host_count()) the one below broadcast.
  std::expected<Ipv4, std::string> host(uint64_t n) const;
  bool contains(Ipv4 addr) const;
  std::string to_string() const;  // "10.213.0.0/24"

  auto operator<=>(const Cidr&) const = default;

 private:
  Cidr(Ipv4 network, int prefix) : network_(network), prefix_(prefix) {}
  Ipv4 network_;
  int prefix_ = 32;
};

// Bits set for a prefix length 0..32 (host byte order): 24 -> 0xffffff00.
constexpr uint32_t prefix_mask(int prefix_len) {
  return prefix_len <= 0 ? 0u : prefix_len >= 32 ? ~0u : ~0u << (32 - prefix_len);
}

}  // namespace berth::vmm::net
