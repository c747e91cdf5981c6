#pragma once
// The boot recipe for guest memory, top to bottom: kernel (bzImage or ELF vmlinux), initramfs,
// command line, e820 map, boot_params, MP table, GDT and page tables. The vCPU side (registers)
// is in vcpu.cpp; this file only fills RAM, so all of it runs in unit tests.
#include <cstdint>
#include <expected>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/kvm/guest_memory.hpp"

namespace berth::vmm::kvm {

struct BootSetup {
  uint64_t entry = 0;        // RIP
  uint64_t boot_params = 0;  // RSI (0 for a raw image)
  uint64_t kernel_load = 0, kernel_end = 0;
  uint64_t initrd_addr = 0, initrd_size = 0;
  std::string kernel_format;  // "bzImage" / "ELF vmlinux" / "raw image", for logs
};

// Reads a whole file, refusing more than `max_bytes` (the guest could not hold it anyway).
std::expected<std::vector<uint8_t>, std::string> read_file(const std::filesystem::path& path,
                                                           uint64_t max_bytes);

// Loads a Linux kernel for the 64-bit boot protocol. `num_cpus` sizes the MP table.
std::expected<BootSetup, std::string> setup_linux_boot(const GuestMemory& mem,
                                                       std::span<const uint8_t> kernel,
                                                       std::span<const uint8_t> initrd,
                                                       std::string_view cmdline, uint32_t num_cpus);

// Test/debug entry: a flat 64-bit binary copied to `load_addr` and entered at `entry` in the same
// long-mode state a kernel gets (GDT, identity map of the first 4 GiB), with the stack at
// layout::kBootStack.
std::expected<BootSetup, std::string> setup_raw_boot(const GuestMemory& mem,
                                                     std::span<const uint8_t> image,
                                                     uint64_t load_addr, uint64_t entry);

// One past the last byte of RAM below the 32-bit gap.
uint64_t low_ram_end(const GuestMemory& mem);

}  // namespace berth::vmm::kvm
