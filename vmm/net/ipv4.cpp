#include "vmm/net/ipv4.hpp"

#include <charconv>

namespace berth::vmm::net {

namespace {

// A decimal number without sign, spaces or leading zeros; `max` bounds it.
std::expected<uint32_t, std::string> parse_decimal(std::string_view s, uint32_t max) {
  if (s.empty()) return std::unexpected(std::string("empty number"));
  if (s.size() > 1 && s[0] == '0')
    return std::unexpected("leading zero in '" + std::string(s) + "'");
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    return std::unexpected("'" + std::string(s) + "' is not a decimal number");
  if (v > max) return std::unexpected(std::string(s) + " is larger than " + std::to_string(max));
  return v;
}

}  // namespace

std::expected<Ipv4, std::string> Ipv4::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return std::unexpected("'" + std::string(text) + "' is not an IPv4 address: " + why);
  };
  uint32_t value = 0;
  std::string_view rest = text;
  for (int i = 0; i < 4; ++i) {
    auto dot = rest.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return bad("expected four dot-separated parts");
    auto part = rest.substr(0, dot);
    auto octet = parse_decimal(part, 255);
    if (!octet) return bad(octet.error());
    value = value << 8 | *octet;
    rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
  }
  return Ipv4(value);
}

std::string Ipv4::to_string() const {
  return std::to_string(value_ >> 24) + '.' + std::to_string(value_ >> 16 & 0xff) + '.' +
         std::to_string(value_ >> 8 & 0xff) + '.' + std::to_string(value_ & 0xff);
}

std::expected<Cidr, std::string> Cidr::parse(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return std::unexpected("'" + std::string(text) +
                           "' is not an IPv4 network (a.b.c.d/len): " + why);
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return bad("no '/prefix'");
  auto addr = Ipv4::parse(text.substr(0, slash));
  if (!addr) return bad(addr.error());
  auto len = parse_decimal(text.substr(slash + 1), 32);
  if (!len) return bad("prefix: " + len.error());
  int prefix = static_cast<int>(*len);
  if ((addr->value() & ~prefix_mask(prefix)) != 0)
    return bad("host bits are set; the network is " +
               Ipv4(addr->value() & prefix_mask(prefix)).to_string() + "/" +
               std::to_string(prefix));
  return Cidr(*addr, prefix);
}

std::expected<Cidr, std::string> Cidr::enclosing(Ipv4 addr, int prefix_len) {
  if (prefix_len < 0 || prefix_len > 32)
    return std::unexpected("prefix length " + std::to_string(prefix_len) + " is not in 0..32");
  return Cidr(Ipv4(addr.value() & prefix_mask(prefix_len)), prefix_len);
}

Ipv4 Cidr::netmask() const {
  return Ipv4(prefix_mask(prefix_));
}

Ipv4 Cidr::broadcast() const {
  return Ipv4(network_.value() | ~prefix_mask(prefix_));
}

std::expected<Ipv4, std::string> Cidr::host(uint64_t n) const {
  if (n < 1 || n > host_count())
    return std::unexpected("host " + std::to_string(n) + " is outside " + to_string() +
                           " (it has " + std::to_string(host_count()) + " usable addresses)");
  return Ipv4(network_.value() + static_cast<uint32_t>(n));
}

bool Cidr::contains(Ipv4 addr) const {
  return (addr.value() & prefix_mask(prefix_)) == network_.value();
}

std::string Cidr::to_string() const {
  return network_.to_string() + "/" + std::to_string(prefix_);
}

}  // namespace berth::vmm::net
