#pragma once
// A synthetic bzImage: a boot sector and setup header as Linux's arch/x86/boot/header.S lays
// them out (boot protocol 2.15), setup sectors, then `payload` bytes of "protected-mode kernel".
#include <asm/bootparam.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace berth::vmm::kvm::testing {

struct FakeBzImage {
  uint8_t setup_sects = 4;
  uint16_t version = 0x020f;
  uint8_t loadflags = LOADED_HIGH;
  uint16_t xloadflags = XLF_KERNEL_64;
  uint64_t pref_address = 0x1000000;
  uint32_t kernel_alignment = 0x200000;
  uint8_t relocatable = 1;
  uint32_t init_size = 0x800000;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t cmdline_size = 2047;
  size_t payload = 4096;

  std::vector<uint8_t> build() const {
    size_t setup = (setup_sects + 1) * 512;
    std::vector<uint8_t> img(setup + payload, 0);
    setup_header h{};
    h.setup_sects = setup_sects;
    h.syssize = static_cast<uint32_t>(payload / 16);
    h.boot_flag = 0xaa55;
    h.jump = 0x66eb;  // "jmp 0x268": header ends at 0x202 + 0x66
    h.header = 0x53726448;
    h.version = version;
    h.loadflags = loadflags;
    h.xloadflags = xloadflags;
    h.pref_address = pref_address;
    h.kernel_alignment = kernel_alignment;
    h.relocatable_kernel = relocatable;
    h.init_size = init_size;
    h.initrd_addr_max = initrd_addr_max;
    h.cmdline_size = cmdline_size;
    std::memcpy(img.data() + 0x1f1, &h, sizeof h);
    for (size_t i = 0; i < payload; ++i) img[setup + i] = static_cast<uint8_t>(i * 7 + 1);
    return img;
  }
};

}  // namespace berth::vmm::kvm::testing
