#pragma once
// The last bytes a guest printed, kept after the VM ends so a failed boot can be explained
// ("Kernel panic - not syncing: ..."). Bounded: a guest printing forever costs a fixed amount.
//
// Thread-safety: append() from the vCPU thread, tail() from any thread.
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>

namespace berth::vmm::kvm {

class ConsoleRing {
 public:
  explicit ConsoleRing(size_t capacity = 64 * 1024) : buf_(capacity, '\0') {}

  void append(std::string_view bytes);
  // Everything still held, oldest first (at most capacity bytes).
  std::string tail() const;
  // Bytes ever appended (including those since overwritten).
  size_t total() const;
  size_t capacity() const { return buf_.size(); }

 private:
  mutable std::mutex mu_;
  std::string buf_;
  size_t next_ = 0;   // where the next byte goes
  size_t total_ = 0;  // bytes appended in all
};

}  // namespace berth::vmm::kvm
