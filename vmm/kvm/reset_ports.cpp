#include "vmm/kvm/reset_ports.hpp"

namespace berth::vmm::kvm {

void ResetPort::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  for (auto& b : data) b = 0xff;
  if (offset != 0 || data.empty()) return;
  // Port 0x92 reads back with A20 enabled (bit 1) and the reset bit clear.
  data[0] = kind_ == Kind::port92 ? static_cast<uint8_t>((value_ & ~0x01) | 0x02) : value_;
}

void ResetPort::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset != 0 || data.empty()) return;
  bool reset = false;
  {
    std::lock_guard lock(mu_);
    value_ = data[0];
    reset = kind_ == Kind::port92 ? (data[0] & 0x01) : (data[0] & 0x04);
  }
  if (reset && on_reset_) on_reset_();
}

}  // namespace berth::vmm::kvm
