#pragma once
// The two other ways a PC guest resets itself, both cheap to honour: System Control Port A (0x92,
// bit 0 "fast reset") and the PCI reset control register (0xCF9, bit 2 "reset CPU"; Linux's
// `reboot=pci` writes 0x02 then 0x06). Either ends the VM as a guest reset.
#include <cstdint>
#include <functional>
#include <mutex>

#include "vmm/kvm/bus_device.hpp"

namespace berth::vmm::kvm {

inline constexpr uint16_t kPort92 = 0x92;
inline constexpr uint16_t kPortCf9 = 0xcf9;

class ResetPort : public BusDevice {
 public:
  enum class Kind { port92, cf9 };
  ResetPort(Kind kind, std::function<void()> on_reset)
      : kind_(kind), on_reset_(std::move(on_reset)) {}

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  Kind kind_;
  std::function<void()> on_reset_;
  std::mutex mu_;
  uint8_t value_ = 0;
};

}  // namespace berth::vmm::kvm
