#pragma once
// A bzImage, loaded for the 64-bit boot protocol (Linux boot protocol 2.15, "64-bit BOOT
// PROTOCOL"): the protected-mode kernel is copied to its load address and entered in long mode
// at load address + 0x200 (startup_64 of the decompressor). No real-mode setup code runs.
#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "vmm/kvm/guest_memory.hpp"
#include "vmm/kvm/loaded_kernel.hpp"

namespace berth::vmm::kvm {

// The oldest protocol we accept: 2.12 introduced xloadflags and XLF_KERNEL_64, the flag that
// says the 64-bit entry exists. Anything older cannot be booted the way we boot.
inline constexpr uint16_t kMinBootProtocol = 0x020c;

struct BzImageInfo {
  setup_header hdr{};
  uint64_t setup_size = 0;    // bytes of real-mode setup before the protected-mode kernel
  uint64_t payload_size = 0;  // bytes of protected-mode kernel
  uint64_t load_addr = 0;     // where we put it
  uint64_t end = 0;           // load_addr + max(payload, init_size)
};

// Checks the setup header: boot flag 0xAA55, "HdrS", version >= 2.12, LOADED_HIGH, XLF_KERNEL_64,
// a setup and payload that lie inside the file. No memory is touched.
std::expected<BzImageInfo, std::string> parse_bzimage(std::span<const uint8_t> image);

// parse_bzimage(), then checks the kernel fits below `low_ram_end` and copies it in.
std::expected<LoadedKernel, std::string> load_bzimage(const GuestMemory& mem,
                                                      std::span<const uint8_t> image,
                                                      uint64_t low_ram_end);

}  // namespace berth::vmm::kvm
