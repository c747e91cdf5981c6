#pragma once
// What a device model offers the monitor: guest accesses to the port or MMIO range it was
// registered at. The vCPU thread that took the exit calls read()/write(); a device that is
// also driven from the event loop thread (a TAP becoming readable, an ioeventfd) guards its
// own state.
//
// A device never trusts `offset` or the access size: an access it does not implement reads as
// zeros (or all ones where the spec says so) and is logged, never a crash.
#include <cstdint>
#include <span>

namespace berth::vmm::kvm {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  // `offset` is relative to the base the device was registered at; data.size() is 1, 2, 4 or 8.
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

}  // namespace berth::vmm::kvm
