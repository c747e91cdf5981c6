#pragma once
// The "zero page" (struct boot_params) a 64-bit Linux kernel receives in %rsi, and the command
// line it points at. Linux boot protocol 2.15 (Documentation/x86/boot.rst), "64-bit boot
// protocol" and "Details of header fields".
//
// Pure data: make_boot_params() computes the page from what the loaders found; the caller writes
// it into guest memory. That split lets the layout be unit-tested without KVM.
#include <asm/bootparam.h>

#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/kvm/e820.hpp"
#include "vmm/kvm/guest_memory.hpp"

namespace berth::vmm::kvm {

struct BootParamsSpec {
  setup_header hdr{};         // the kernel's own header (bzImage) or a synthesized one (ELF)
  uint64_t cmdline_addr = 0;  // where the NUL-terminated command line was written
  uint64_t cmdline_len = 0;   // without the NUL
  uint64_t initrd_addr = 0;   // 0 when there is no initramfs
  uint64_t initrd_size = 0;
  std::vector<E820Entry> e820;
};

// Fails when the e820 map does not fit the page (128 entries) or an address does not fit the
// 32+32-bit fields.
std::expected<boot_params, std::string> make_boot_params(const BootParamsSpec& spec);

// Writes `cmdline` and a NUL at `addr`. `max_len` is the longest line the kernel accepts
// (setup_header.cmdline_size, protocol 2.06+), without the NUL.
std::expected<void, std::string> write_cmdline(const GuestMemory& mem, uint64_t addr,
                                               std::string_view cmdline, uint64_t max_len);

}  // namespace berth::vmm::kvm
