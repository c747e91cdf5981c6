#include "messages/agent_auth.hpp"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "messages/sha256.hpp"

namespace berth::messages {

std::expected<std::string, std::string> random_bytes(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(r);
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  constexpr size_t kBlock = 64;
  std::string k = key.size() > kBlock ? Sha256().update(key).digest() : std::string(key);
  k.resize(kBlock, '\0');
  std::string inner(kBlock, '\0'), outer(kBlock, '\0');
  for (size_t i = 0; i < kBlock; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  auto inner_digest = Sha256().update(inner).update(data).digest();
  return Sha256().update(outer).update(inner_digest).digest();
}

std::string agent_proof(std::string_view secret, std::string_view nonce) {
  std::string data(kProofContext);
  data += '\0';
  data += nonce;
  return hmac_sha256(secret, data);
}

bool proof_matches(std::string_view expected, std::string_view got) {
  unsigned char diff = expected.size() == got.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ (i < got.size() ? got[i] : 0));
  return diff == 0;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

std::expected<std::string, std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2)
    return std::unexpected("hex text of odd length " + std::to_string(hex.size()));
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return std::unexpected("not a hex digit at offset " + std::to_string(hi < 0 ? i : i + 1));
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace berth::messages
