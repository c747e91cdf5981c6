#pragma once
// Where the initramfs goes: as high as possible in low RAM (below the MMIO gap and the kernel's
// initrd_addr_max), page aligned, above the kernel — what boot.rst recommends so the kernel's
// own decompression area and early allocations stay clear of it.
#include <cstdint>
#include <expected>
#include <string>

namespace berth::vmm::kvm {

// `low_ram_end`: one past the last byte of RAM below 4 GiB. `kernel_end`: one past the kernel's
// init_size area. `addr_max`: setup_header.initrd_addr_max (the last byte the initrd may use).
std::expected<uint64_t, std::string> place_initrd(uint64_t size, uint64_t low_ram_end,
                                                  uint64_t kernel_end, uint64_t addr_max);

}  // namespace berth::vmm::kvm
