#include "vmm/kvm/console_ring.hpp"

namespace berth::vmm::kvm {

void ConsoleRing::append(std::string_view bytes) {
  std::lock_guard lock(mu_);
  if (buf_.empty()) return;
  for (char c : bytes) {
    buf_[next_] = c;
    next_ = (next_ + 1) % buf_.size();
  }
  total_ += bytes.size();
}

std::string ConsoleRing::tail() const {
  std::lock_guard lock(mu_);
  if (total_ < buf_.size()) return buf_.substr(0, total_);
  return buf_.substr(next_) + buf_.substr(0, next_);
}

size_t ConsoleRing::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace berth::vmm::kvm
