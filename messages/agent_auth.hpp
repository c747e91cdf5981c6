#pragma once
// How the supervisor knows it talks to the agent of the machine it booted, not to whatever
// answers at that address (a guest that took over a neighbour's address, a process that got to
// the port first): each machine is given a fresh random secret at boot — on the kernel command
// line for kvm, through an inherited fd for the jail — and the agent must prove it holds it.
//
//   agent      -> supervisor  hello
//   supervisor -> agent       challenge  {nonce: 32 random bytes}
//   agent      -> supervisor  proof      {mac: HMAC-SHA256(secret, kProofContext || nonce)}
//
// The nonce makes every proof single-use; the context string keeps the MAC from meaning
// anything else. The supervisor sends exec only after the proof matched.
#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace berth::messages {

inline constexpr size_t kSecretBytes = 32;
inline constexpr size_t kNonceBytes = 32;
inline constexpr std::string_view kProofContext = "berth agent proof v1";

// `n` bytes from the kernel's CSPRNG (getrandom), or why not.
std::expected<std::string, std::string> random_bytes(size_t n);

// RFC 2104 HMAC with SHA-256.
std::string hmac_sha256(std::string_view key, std::string_view data);

std::string agent_proof(std::string_view secret, std::string_view nonce);

// Constant time in the length of `expected`, so a guest cannot find the proof byte by byte.
bool proof_matches(std::string_view expected, std::string_view got);

// Lowercase hex, and back (an error for odd lengths or non-hex characters).
std::string to_hex(std::string_view bytes);
std::expected<std::string, std::string> from_hex(std::string_view hex);

}  // namespace berth::messages
