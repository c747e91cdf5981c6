#pragma once
// An uncompressed ELF vmlinux, booted the way Firecracker boots one: every PT_LOAD segment at
// its physical address (p_paddr), entry at e_entry — which for x86-64 vmlinux is
// phys_startup_64, a physical address (arch/x86/kernel/vmlinux.lds.S: ENTRY(phys_startup_64)) —
// in long mode with %rsi pointing at boot_params. There is no setup header in the file, so one
// is synthesized for boot_params.
#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "vmm/kvm/guest_memory.hpp"
#include "vmm/kvm/loaded_kernel.hpp"

namespace berth::vmm::kvm {

bool looks_like_elf(std::span<const uint8_t> image);

// Checks the ELF header (64-bit, little-endian, x86-64, executable) and every program header
// against the file size and guest RAM below `low_ram_end` with overflow-checked arithmetic, then
// copies the segments in and zeroes their bss.
std::expected<LoadedKernel, std::string> load_elf_kernel(const GuestMemory& mem,
                                                         std::span<const uint8_t> image,
                                                         uint64_t low_ram_end);

}  // namespace berth::vmm::kvm
