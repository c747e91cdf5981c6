#include "vmm/kvm/e820.hpp"

#include "vmm/kvm/memory_map.hpp"

namespace berth::vmm::kvm {

std::vector<E820Entry> build_e820(const GuestMemory& mem) {
  std::vector<E820Entry> map;
  for (const auto& r : mem.regions()) {
    uint64_t start = r.guest_addr;
    uint64_t end = r.guest_addr + r.size;
    if (start < layout::kHighMem) {
      // Base memory: usable up to the MP table, which the guest must not reuse as RAM; the VGA
      // and BIOS area [640K, 1M) is left out of the map, as on real hardware.
      uint64_t low_end = end < layout::kLowRamEnd ? end : layout::kLowRamEnd;
      map.push_back({start, low_end - start, kE820Ram});
      if (end > layout::kLowRamEnd)
        map.push_back({layout::kLowRamEnd, 0xa0000 - layout::kLowRamEnd, kE820Reserved});
      start = layout::kHighMem;
    }
    if (end > start) map.push_back({start, end - start, kE820Ram});
  }
  return map;
}

}  // namespace berth::vmm::kvm
