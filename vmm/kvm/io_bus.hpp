#pragma once
// Address-range dispatch for guest port I/O and MMIO exits: which BusDevice owns an address.
//
// Ranges are kept sorted and may not overlap (rejected at registration, so two devices can never
// both believe they own a port). An access nobody owns is the guest probing: reads return all
// ones (what an empty ISA/PCI bus returns), writes are dropped, and both are logged at a bounded
// rate — a guest scanning every port must neither stop the monitor nor flood its log.
//
// Thread-safety: register devices before the vCPUs start; after that the bus is read-only and
// read()/write() may be called from every vCPU thread at once (each device guards itself).
#include <atomic>
#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/kvm/bus_device.hpp"

namespace berth::vmm::kvm {

class IoBus {
 public:
  explicit IoBus(std::string name) : name_(std::move(name)) {}

  // [base, base + len) must be non-empty, not wrap and not overlap a registered range.
  std::expected<void, std::string> add(uint64_t base, uint64_t len,
                                       std::shared_ptr<BusDevice> device);

  // Returns whether a device took the access.
  bool read(uint64_t addr, std::span<uint8_t> data);
  bool write(uint64_t addr, std::span<const uint8_t> data);

  // Accesses that hit no device, for tests and metrics.
  uint64_t unhandled_count() const { return unhandled_.load(std::memory_order_relaxed); }

 private:
  struct Range {
    uint64_t base, len;
    std::shared_ptr<BusDevice> device;
  };
  const Range* find(uint64_t addr, uint64_t size) const;
  void log_unhandled(const char* what, uint64_t addr, size_t size, uint64_t value);

  std::string name_;
  std::vector<Range> ranges_;  // sorted by base
  std::atomic<uint64_t> unhandled_{0};
};

}  // namespace berth::vmm::kvm
