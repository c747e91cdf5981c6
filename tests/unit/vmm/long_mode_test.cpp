// The boot GDT, identity page tables and long-mode sregs (vmm/kvm/long_mode.cpp), byte for byte.
#include <gtest/gtest.h>

#include "vmm/kvm/long_mode.hpp"
#include "vmm/kvm/memory_map.hpp"

namespace berth::vmm::kvm {
namespace {

TEST(LongMode, GdtEntryEncoding) {
  // The classic flat descriptors: 64-bit code and 32-bit data, base 0, limit 4 GiB.
  EXPECT_EQ(gdt_entry(0xa09b, 0, 0xfffff), 0x00af9b000000ffffull);
  EXPECT_EQ(gdt_entry(0xc093, 0, 0xfffff), 0x00cf93000000ffffull);
  EXPECT_EQ(gdt_entry(0x808b, 0, 0xfffff), 0x008f8b000000ffffull);
  EXPECT_EQ(gdt_entry(0xc093, 0x12345678, 0xabcde), 0x12ca93345678bcdeull);
}

TEST(LongMode, GdtWritten) {
  auto mem = GuestMemory::create(2 << 20);
  ASSERT_TRUE(mem.has_value());
  ASSERT_TRUE(write_boot_gdt(*mem).has_value());
  EXPECT_EQ(mem->read_obj<uint64_t>(layout::kGdt), 0u);
  EXPECT_EQ(mem->read_obj<uint64_t>(layout::kGdt + kBootCs), 0x00af9b000000ffffull);
  EXPECT_EQ(mem->read_obj<uint64_t>(layout::kGdt + kBootDs), 0x00cf93000000ffffull);
  EXPECT_EQ(mem->read_obj<uint64_t>(layout::kIdt), 0u);
}

TEST(LongMode, IdentityMapFirstFourGiB) {
  auto mem = GuestMemory::create(2 << 20);
  ASSERT_TRUE(mem.has_value());
  ASSERT_TRUE(write_identity_page_tables(*mem).has_value());
  EXPECT_EQ(mem->read_obj<uint64_t>(layout::kPml4), layout::kPdpt | 3);
  for (uint64_t g = 0; g < 4; ++g)
    EXPECT_EQ(mem->read_obj<uint64_t>(layout::kPdpt + g * 8), (layout::kPd + g * 0x1000) | 3);
  EXPECT_EQ(mem->read_obj<uint64_t>(layout::kPdpt + 4 * 8), 0u);
  // Walk a few virtual addresses through the tables: each maps to itself.
  for (uint64_t va : {0x0ull, 0x1000000ull, 0x3fe00000ull, 0xbfe00000ull, 0xfee00000ull}) {
    uint64_t pdpte = *mem->read_obj<uint64_t>(layout::kPdpt + ((va >> 30) & 511) * 8);
    uint64_t pde = *mem->read_obj<uint64_t>((pdpte & ~0xfffull) + ((va >> 21) & 511) * 8);
    EXPECT_EQ(pde & 0x83, 0x83u) << "present, writable, 2 MiB page at " << va;
    EXPECT_EQ(pde & ~0x1fffffull, va & ~0x1fffffull) << std::hex << va;
  }
  // The tables stay clear of the command line and the zero page.
  EXPECT_LE(layout::kPd + layout::kIdentityMappedGiB * 0x1000, layout::kCmdline);
  EXPECT_LE(layout::kZeroPage + 0x1000, layout::kBootStack + 0x10);
}

TEST(LongMode, Sregs) {
  kvm_sregs s{};
  s.cr0 = 0x60000010;  // reset value: CD, NW, ET
  set_long_mode_sregs(s);
  EXPECT_EQ(s.cr0 & 0x80000001, 0x80000001u) << "PE and PG";
  EXPECT_EQ(s.cr0 & 0x60000000, 0u) << "caches on";
  EXPECT_TRUE(s.cr4 & (1 << 5)) << "PAE";
  EXPECT_EQ(s.efer & 0x500, 0x500u) << "LME and LMA";
  EXPECT_EQ(s.cr3, layout::kPml4);
  EXPECT_EQ(s.cs.selector, kBootCs);
  EXPECT_EQ(s.cs.l, 1);
  EXPECT_EQ(s.cs.db, 0);
  EXPECT_EQ(s.cs.type, 0xb);
  EXPECT_EQ(s.cs.limit, 0xffffffffu);
  EXPECT_EQ(s.ds.selector, kBootDs);
  EXPECT_EQ(s.ss.selector, kBootDs);
  EXPECT_EQ(s.ds.type, 0x3);
  EXPECT_EQ(s.tr.type, 0xb);
  EXPECT_EQ(s.gdt.base, layout::kGdt);
  EXPECT_EQ(s.gdt.limit, 5 * 8 - 1);
}

}  // namespace
}  // namespace berth::vmm::kvm
