#pragma once
// What every fuzz target (tests/fuzz/*_fuzz.cpp) shares: a reader that decodes the fuzzer's
// bytes into values (and a writer that encodes seeds the same way), a check that aborts with a
// message when an invariant breaks, tallies of what the inputs reached, and the seeds hook.
//
// Each target is linked either with libFuzzer (bench/fuzz.sh, clang) or with replay_main.cpp
// (CTest, any compiler), which runs every file of its corpus once and can write its seeds.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace berth::fuzz {

// Decodes the input front to back. Past its end every value reads as zero and every byte span
// as empty, so a harness never has to check lengths: a short input is just a short program.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  size_t remaining() const { return size_ - pos_; }
  bool empty() const { return pos_ == size_; }

  template <class T>
  T take() {
    static_assert(std::is_integral_v<T>);
    T v = 0;  // little endian, like the guest structures the fuzzer writes
    size_t n = remaining() < sizeof v ? remaining() : sizeof v;
    std::memcpy(&v, data_ + pos_, n);
    pos_ += n;
    return v;
  }
  // Up to `n` bytes (fewer at the end of the input).
  std::span<const uint8_t> bytes(size_t n) {
    if (n > remaining()) n = remaining();
    std::span<const uint8_t> s(data_ + pos_, n);
    pos_ += n;
    return s;
  }
  std::span<const uint8_t> rest() { return bytes(remaining()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// The seed writer's side of Input: the same encoding, appended.
class Output {
 public:
  template <class T>
  requires std::is_integral_v<T> Output& put(T v) {
    auto p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof v);
    return *this;
  }
  Output& put(std::span<const uint8_t> b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }
  Output& put(std::string_view s) {
    return put(std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// An invariant of the code under test broke: report it and abort, which both libFuzzer and the
// replay test count as a crash.
[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n", file, line, what);
  std::abort();
}
#define FUZZ_CHECK(cond) ((cond) ? (void)0 : ::berth::fuzz::check_failed(#cond, __FILE__, __LINE__))

// Counts how often inputs reached something worth reaching (a chain popped, a frame decoded,
// a kernel loaded). The replay prints them, which shows at a glance that the seeds still reach
// the code they were written for. Defined at namespace scope, one object per counter.
class Tally {
 public:
  explicit Tally(const char* name);
  void operator++() { ++count_; }
  void add(uint64_t n) { count_ += n; }
  const char* name() const { return name_; }
  uint64_t count() const { return count_; }
  static std::span<Tally* const> all();

 private:
  const char* name_;
  uint64_t count_ = 0;
};

// The target's seed corpus, written by `fuzz_<name> --write-seeds DIR` (replay_main.cpp).
// Each target defines it next to its harness, so the seeds speak the harness's input format.
struct Seed {
  std::string name;
  std::vector<uint8_t> bytes;
};
std::vector<Seed> seeds();

// Turns off spdlog: the devices log every rule a driver breaks, which is most inputs.
void silence_logs();

}  // namespace berth::fuzz
