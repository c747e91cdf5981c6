#pragma once
// What a kernel loader (bzimage.cpp, elf_loader.cpp) leaves behind for the rest of the boot:
// where to jump, what it occupies, and the header fields boot_params needs.
#include <asm/bootparam.h>

#include <cstdint>

namespace berth::vmm::kvm {

struct LoadedKernel {
  uint64_t entry = 0;            // guest-physical 64-bit entry point
  uint64_t load_addr = 0;        // lowest byte the kernel occupies
  uint64_t end = 0;              // one past the highest byte it may use while booting (init_size)
  setup_header hdr{};            // copied into boot_params.hdr
  uint64_t initrd_addr_max = 0;  // highest address the initramfs may end at (inclusive)
  uint64_t cmdline_max = 0;      // longest command line, NUL excluded
};

}  // namespace berth::vmm::kvm
