#pragma once
// SHA-256 (FIPS 180-4) for content-addressed image keys and the agent's proof of its machine's
// secret (messages/agent_auth.hpp); no crypto library is in our dependency list and this is all
// we need of one. Here, below images/ and agent/, so the static agent links it too.
#include <array>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>

namespace berth::messages {

class Sha256 {
 public:
  Sha256();
  Sha256& update(std::string_view data);
  std::string hex();     // finishes the digest: 64 lowercase hex digits
  std::string digest();  // finishes the digest: its 32 bytes

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// The digest of a file's bytes (hex), e.g. the agent binary an image carries.
std::expected<std::string, std::string> sha256_file(const std::filesystem::path& path);

}  // namespace berth::messages
