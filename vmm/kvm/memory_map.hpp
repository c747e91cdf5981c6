#pragma once
// Where the monitor puts things in guest-physical memory (x86-64). One place, so that the boot
// structures cannot overlap by accident; boot_layout_test.cpp checks the invariants.
//
//   0x0000_0000  real-mode IVT/BDA (left zero)
//   0x0000_0500  GDT (5 entries: null, null, code 0x10, data 0x18, TSS 0x20), empty IDT at 0x540
//   0x0000_7000  boot_params, the "zero page" (Linux boot protocol 2.15)
//   0x0000_8ff0  initial stack (grows down; only a flat test image uses it)
//   0x0000_9000  PML4, 0xa000 PDPT, 0xb000..0xefff four page directories (2 MiB pages, 4 GiB)
//   0x0002_0000  kernel command line (at most kCmdlineMax bytes, NUL included)
//   0x0009_fc00  MP floating pointer + MP config table (last KiB of base memory), e820-reserved
//   0x000a_0000  .. 0x10_0000: legacy VGA/BIOS hole, not RAM in the e820 map
//   0x0010_0000  kernel (bzImage protected-mode code at pref_address, or ELF segments)
//   ...          initramfs at the top of low RAM
//   0xc000_0000  .. 0x1_0000_0000: MMIO gap (guest_memory.hpp); virtio-mmio at 0xd000_0000,
//                IOAPIC 0xfec0_0000, LAPIC 0xfee0_0000, KVM's TSS and identity map below 4 GiB
#include <cstdint>

namespace berth::vmm::kvm::layout {

inline constexpr uint64_t kGdt = 0x500;
inline constexpr uint64_t kIdt = 0x540;
inline constexpr uint64_t kZeroPage = 0x7000;
inline constexpr uint64_t kBootStack = 0x8ff0;
inline constexpr uint64_t kPml4 = 0x9000;
inline constexpr uint64_t kPdpt = 0xa000;
inline constexpr uint64_t kPd = 0xb000;  // kIdentityMappedGiB consecutive pages
inline constexpr uint64_t kIdentityMappedGiB = 4;
inline constexpr uint64_t kCmdline = 0x20000;
inline constexpr uint64_t kCmdlineMax = 0x10000;
inline constexpr uint64_t kMpTable = 0x9fc00;  // EBDA start; Linux scans the last KiB of 640K
inline constexpr uint64_t kLowRamEnd = 0x9fc00;
inline constexpr uint64_t kHighMem = 0x100000;  // 1 MiB

// KVM's VMX real-mode helpers (unused on SVM, required by the API): the TSS takes three pages, the
// identity map one page just below it. Both lie in the MMIO gap, never in RAM, and clear of the
// IOAPIC/LAPIC windows; these are the addresses QEMU and Firecracker use too.
inline constexpr uint64_t kIdentityMap = 0xfffbc000;
inline constexpr uint64_t kTss = 0xfffbd000;

inline constexpr uint64_t kIoapic = 0xfec00000;
inline constexpr uint64_t kLapic = 0xfee00000;

// virtio-mmio device i: base kVirtioBase + i * kVirtioStride, GSI kVirtioFirstGsi + i.
inline constexpr uint64_t kVirtioBase = 0xd0000000;
inline constexpr uint64_t kVirtioStride = 0x1000;
inline constexpr uint32_t kVirtioFirstGsi = 5;
// GSIs the in-kernel IOAPIC has (0..23); the serial port owns 4.
inline constexpr uint32_t kMaxGsi = 23;
inline constexpr uint32_t kSerialGsi = 4;

}  // namespace berth::vmm::kvm::layout
