// ELF vmlinux loading (vmm/kvm/elf_loader.cpp) on a synthetic ELF built in the test.
#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>

#include "vmm/kvm/elf_loader.hpp"

namespace berth::vmm::kvm {
namespace {

// One PT_LOAD at paddr 0x1000000: 256 bytes of file, 4096 of memory; entry at its start.
std::vector<uint8_t> fake_vmlinux(uint64_t paddr = 0x1000000, uint64_t entry = 0x1000000) {
  std::vector<uint8_t> f(0x1000 + 256, 0);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = EM_X86_64;
  eh.e_entry = entry;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 1;
  Elf64_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_offset = 0x1000;
  ph.p_vaddr = 0xffffffff81000000;
  ph.p_paddr = paddr;
  ph.p_filesz = 256;
  ph.p_memsz = 4096;
  std::memcpy(f.data(), &eh, sizeof eh);
  std::memcpy(f.data() + sizeof eh, &ph, sizeof ph);
  for (int i = 0; i < 256; ++i) f[0x1000 + i] = static_cast<uint8_t>(i);
  return f;
}

TEST(ElfLoader, LoadsSegmentAtPhysicalAddress) {
  auto mem = GuestMemory::create(64 << 20);
  ASSERT_TRUE(mem.has_value());
  // Dirty the bss first: the loader must zero it.
  ASSERT_TRUE(mem->write_obj<uint32_t>(0x1000000 + 1000, 0xdeadbeef));
  auto img = fake_vmlinux();
  EXPECT_TRUE(looks_like_elf(img));
  auto k = load_elf_kernel(*mem, img, 64 << 20);
  ASSERT_TRUE(k.has_value()) << k.error();
  EXPECT_EQ(k->entry, 0x1000000u);
  EXPECT_EQ(k->load_addr, 0x1000000u);
  EXPECT_EQ(k->end, 0x1000000u + 4096);
  EXPECT_EQ(mem->read_obj<uint8_t>(0x1000000 + 200), 200);
  EXPECT_EQ(mem->read_obj<uint32_t>(0x1000000 + 1000), 0u);
  EXPECT_EQ(k->hdr.header, 0x53726448u);
  EXPECT_EQ(k->hdr.boot_flag, 0xaa55);
}

TEST(ElfLoader, RejectsBadInput) {
  auto mem = GuestMemory::create(64 << 20);
  ASSERT_TRUE(mem.has_value());
  auto img = fake_vmlinux();
  // Truncated: the segment's bytes are past the end.
  std::vector<uint8_t> cut(img.begin(), img.begin() + 0x1000 + 100);
  EXPECT_FALSE(load_elf_kernel(*mem, cut, 64 << 20).has_value());
  // Segment outside guest RAM.
  EXPECT_FALSE(load_elf_kernel(*mem, fake_vmlinux(0x8000000), 64 << 20).has_value());
  // Segment below 1 MiB would overwrite the boot tables.
  EXPECT_FALSE(load_elf_kernel(*mem, fake_vmlinux(0x1000, 0x1000), 64 << 20).has_value());
  // Entry outside every segment (a virtual-entry ELF).
  EXPECT_FALSE(
      load_elf_kernel(*mem, fake_vmlinux(0x1000000, 0xffffffff81000000), 64 << 20).has_value());
  // Wrong machine, 32-bit.
  auto m = fake_vmlinux();
  m[offsetof(Elf64_Ehdr, e_machine)] = EM_386;
  EXPECT_FALSE(load_elf_kernel(*mem, m, 64 << 20).has_value());
  auto c = fake_vmlinux();
  c[EI_CLASS] = ELFCLASS32;
  EXPECT_FALSE(load_elf_kernel(*mem, c, 64 << 20).has_value());
  // Program header table past the end, and an overflowing p_offset.
  auto p = fake_vmlinux();
  Elf64_Ehdr eh;
  std::memcpy(&eh, p.data(), sizeof eh);
  eh.e_phoff = ~0ull - 8;
  std::memcpy(p.data(), &eh, sizeof eh);
  EXPECT_FALSE(load_elf_kernel(*mem, p, 64 << 20).has_value());
  auto o = fake_vmlinux();
  Elf64_Phdr ph;
  std::memcpy(&ph, o.data() + sizeof(Elf64_Ehdr), sizeof ph);
  ph.p_offset = ~0ull - 10;
  std::memcpy(o.data() + sizeof(Elf64_Ehdr), &ph, sizeof ph);
  EXPECT_FALSE(load_elf_kernel(*mem, o, 64 << 20).has_value());
}

}  // namespace
}  // namespace berth::vmm::kvm
