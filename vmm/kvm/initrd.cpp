#include "vmm/kvm/initrd.hpp"

namespace berth::vmm::kvm {

std::expected<uint64_t, std::string> place_initrd(uint64_t size, uint64_t low_ram_end,
                                                  uint64_t kernel_end, uint64_t addr_max) {
  constexpr uint64_t kPage = 4096;
  if (size == 0) return std::unexpected("initramfs is empty");
  // The highest byte the initrd may occupy is the lower of the kernel's limit and RAM's end.
  uint64_t top = low_ram_end;
  if (addr_max != 0 && addr_max < UINT64_MAX && addr_max + 1 < top) top = addr_max + 1;
  if (size > top)
    return std::unexpected("initramfs of " + std::to_string(size >> 20) +
                           " MiB does not fit below the kernel's initrd limit; give the VM more "
                           "memory or use a smaller image");
  uint64_t addr = (top - size) & ~(kPage - 1);
  if (addr < kernel_end)
    return std::unexpected("initramfs of " + std::to_string(size >> 20) + " MiB and the kernel (" +
                           std::to_string(kernel_end >> 20) + " MiB) do not both fit in " +
                           std::to_string(top >> 20) + " MiB of low RAM; give the VM more memory");
  return addr;
}

}  // namespace berth::vmm::kvm
