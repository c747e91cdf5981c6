#pragma once
// The guest's physical memory map as the BIOS e820 call would report it (Linux boot protocol:
// boot_params.e820_table). Derived from GuestMemory alone, so the map and the real mappings
// cannot disagree.
#include <cstdint>
#include <vector>

#include "vmm/kvm/guest_memory.hpp"

namespace berth::vmm::kvm {

inline constexpr uint32_t kE820Ram = 1;
inline constexpr uint32_t kE820Reserved = 2;

struct E820Entry {
  uint64_t addr = 0;
  uint64_t size = 0;
  uint32_t type = 0;
  bool operator==(const E820Entry&) const = default;
};

// RAM below 640K (up to the MP table), the MP table's KiB reserved, RAM from 1 MiB to the end of
// the low region (at most the 3 GiB gap), and RAM from 4 GiB when the guest has that much.
std::vector<E820Entry> build_e820(const GuestMemory& mem);

}  // namespace berth::vmm::kvm
