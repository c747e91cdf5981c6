#pragma once
// The CPU state a 64-bit entry point expects (Linux boot protocol 2.15, "64-bit BOOT PROTOCOL"):
// paging on with an identity map covering the kernel, boot_params, the command line and the
// initramfs; a GDT with flat __BOOT_CS (0x10, 64-bit code) and __BOOT_DS (0x18); interrupts off.
//
// write_boot_gdt()/write_identity_page_tables() put the tables in guest RAM;
// long_mode_sregs() fills the special registers that point at them. No KVM call here, so the
// tables can be checked byte for byte in a unit test.
#include <linux/kvm.h>

#include <cstdint>
#include <expected>
#include <string>

#include "vmm/kvm/guest_memory.hpp"

namespace berth::vmm::kvm {

inline constexpr uint16_t kBootCs = 0x10;
inline constexpr uint16_t kBootDs = 0x18;
inline constexpr uint16_t kBootTss = 0x20;

// GDT descriptors in the packed format the CPU reads: base, limit (20 bits) and the flags word
// (access byte in bits 0-7, G/DB/L/AVL in bits 12-15).
uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit);

std::expected<void, std::string> write_boot_gdt(const GuestMemory& mem);
// PML4 -> one PDPT -> layout::kIdentityMappedGiB page directories of 2 MiB pages, mapping
// [0, kIdentityMappedGiB GiB) virtual to the same physical addresses.
std::expected<void, std::string> write_identity_page_tables(const GuestMemory& mem);

// Takes the vCPU's current sregs (for fields we leave alone: APIC base, ...) and sets CR0/CR3/
// CR4/EFER, the segments and the descriptor tables for long mode.
void set_long_mode_sregs(kvm_sregs& s);

}  // namespace berth::vmm::kvm
