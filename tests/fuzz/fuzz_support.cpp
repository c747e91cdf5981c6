#include "tests/fuzz/fuzz_support.hpp"

#include <spdlog/spdlog.h>

#include <array>

namespace berth::fuzz {

namespace {

// A fixed table, not a vector: Tallies are constructed during static initialisation, in any
// order relative to other translation units, so the registry must need no constructor itself.
constexpr size_t kMaxTallies = 64;
std::array<Tally*, kMaxTallies> g_tallies{};
size_t g_tally_count = 0;

}  // namespace

Tally::Tally(const char* name) : name_(name) {
  if (g_tally_count < kMaxTallies) g_tallies[g_tally_count++] = this;
}

std::span<Tally* const> Tally::all() {
  return {g_tallies.data(), g_tally_count};
}

void silence_logs() {
  spdlog::set_level(spdlog::level::off);
}

}  // namespace berth::fuzz
