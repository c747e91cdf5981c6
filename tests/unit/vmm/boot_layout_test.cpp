// boot_params, e820, command line and initramfs placement for given memory sizes
// (vmm/kvm/e820.cpp, boot_params.cpp, initrd.cpp, linux_boot.cpp).
#include <gtest/gtest.h>

#include "tests/unit/vmm/fake_kernel.hpp"
#include "vmm/kvm/boot_params.hpp"
#include "vmm/kvm/e820.hpp"
#include "vmm/kvm/initrd.hpp"
#include "vmm/kvm/linux_boot.hpp"
#include "vmm/kvm/memory_map.hpp"

namespace berth::vmm::kvm {
namespace {

GuestMemory mem_of(uint64_t mib) {
  auto m = GuestMemory::create(mib << 20);
  EXPECT_TRUE(m.has_value());
  return std::move(*m);
}

TEST(E820, SmallGuest) {
  auto mem = mem_of(256);
  auto map = build_e820(mem);
  ASSERT_EQ(map.size(), 3u);
  EXPECT_EQ(map[0], (E820Entry{0, layout::kLowRamEnd, kE820Ram}));
  EXPECT_EQ(map[1], (E820Entry{layout::kLowRamEnd, 0xa0000 - layout::kLowRamEnd, kE820Reserved}));
  EXPECT_EQ(map[2], (E820Entry{0x100000, (256ull << 20) - 0x100000, kE820Ram}));
}

TEST(E820, LargeGuestSkipsTheGap) {
  auto mem = mem_of(4096);  // 3 GiB below the gap, 1 GiB above 4 GiB
  auto map = build_e820(mem);
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[2], (E820Entry{0x100000, kMmioGapStart - 0x100000, kE820Ram}));
  EXPECT_EQ(map[3], (E820Entry{kMmioGapEnd, 1ull << 30, kE820Ram}));
  for (const auto& e : map)
    EXPECT_FALSE(e.addr < kMmioGapEnd && e.addr + e.size > kMmioGapStart) << "RAM in the gap";
}

TEST(GuestMemoryLayout, RegionsAreHugePageAlignedOnTheHost) {
  // KVM backs guest RAM with 2 MiB nested pages only where host and guest addresses agree
  // modulo 2 MiB (guest_memory.cpp); both regions' guest addresses are 2 MiB multiples.
  auto mem = mem_of(4096);
  ASSERT_EQ(mem.regions().size(), 2u);
  for (const auto& r : mem.regions()) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(r.host) % (2u << 20), 0u) << "region at " << r.guest_addr;
    EXPECT_EQ(r.guest_addr % (2u << 20), 0u);
  }
  // The memory is usable to its last byte and nothing past the region is ours to touch.
  const auto& last = mem.regions().back();
  last.host[last.size - 1] = 0x5a;
  EXPECT_EQ(last.host[last.size - 1], 0x5a);
}

TEST(BootParams, FieldsForCommandLineInitrdAndE820) {
  BootParamsSpec spec;
  spec.hdr.header = 0x53726448;
  spec.cmdline_addr = layout::kCmdline;
  spec.cmdline_len = 10;
  spec.initrd_addr = 0x5'0000'0000;  // above 4 GiB: the high half goes to ext_ramdisk_image
  spec.initrd_size = 0x1'0000'1000;
  auto mem = mem_of(64);
  spec.e820 = build_e820(mem);
  auto bp = make_boot_params(spec);
  ASSERT_TRUE(bp.has_value()) << bp.error();
  EXPECT_EQ(bp->hdr.type_of_loader, 0xff);
  EXPECT_EQ(bp->hdr.cmd_line_ptr, layout::kCmdline);
  EXPECT_EQ(bp->ext_cmd_line_ptr, 0u);
  EXPECT_EQ(bp->hdr.ramdisk_image, 0u);
  EXPECT_EQ(bp->ext_ramdisk_image, 5u);
  EXPECT_EQ(bp->hdr.ramdisk_size, 0x1000u);
  EXPECT_EQ(bp->ext_ramdisk_size, 1u);
  EXPECT_EQ(bp->e820_entries, spec.e820.size());
  EXPECT_EQ(bp->e820_table[2].addr, 0x100000u);
}

TEST(BootParams, TooManyE820Entries) {
  BootParamsSpec spec;
  spec.e820.resize(200);
  EXPECT_FALSE(make_boot_params(spec).has_value());
}

TEST(Cmdline, WrittenWithNulAndBounded) {
  auto mem = mem_of(16);
  ASSERT_TRUE(write_cmdline(mem, layout::kCmdline, "console=ttyS0", 100).has_value());
  char buf[14];
  ASSERT_TRUE(mem.read(layout::kCmdline, {reinterpret_cast<uint8_t*>(buf), sizeof buf}));
  EXPECT_STREQ(buf, "console=ttyS0");
  EXPECT_FALSE(write_cmdline(mem, layout::kCmdline, std::string(101, 'x'), 100).has_value());
  EXPECT_FALSE(write_cmdline(mem, layout::kCmdline, std::string("a\0b", 3), 100).has_value());
}

TEST(Initrd, TopOfLowMemoryPageAligned) {
  auto at = place_initrd(10'000, 256ull << 20, 32ull << 20, 0x7fffffff);
  ASSERT_TRUE(at.has_value()) << at.error();
  EXPECT_EQ(*at % 4096, 0u);
  EXPECT_LE(*at + 10'000, 256ull << 20);
  EXPECT_GT(*at + 10'000 + 4096, 256ull << 20);
}

TEST(Initrd, RespectsInitrdAddrMax) {
  auto at = place_initrd(1 << 20, 3ull << 30, 32ull << 20, 0x37ffffff);
  ASSERT_TRUE(at.has_value());
  EXPECT_LE(*at + (1 << 20), 0x38000000u);
}

TEST(Initrd, TooBigOrOverlappingKernelIsAnError) {
  EXPECT_FALSE(place_initrd(300ull << 20, 256ull << 20, 32ull << 20, 0x7fffffff).has_value());
  EXPECT_FALSE(place_initrd(230ull << 20, 256ull << 20, 32ull << 20, 0x7fffffff).has_value());
  EXPECT_FALSE(place_initrd(0, 256ull << 20, 32ull << 20, 0x7fffffff).has_value());
}

TEST(LinuxBoot, FakeBzImageWithInitrdAndCmdline) {
  auto mem = mem_of(128);
  auto kernel = testing::FakeBzImage{}.build();
  std::vector<uint8_t> initrd(5000, 0xab);
  auto boot = setup_linux_boot(mem, kernel, initrd, "console=ttyS0 reboot=k", 1);
  ASSERT_TRUE(boot.has_value()) << boot.error();
  EXPECT_EQ(boot->entry, 0x1000000u + 0x200);
  EXPECT_EQ(boot->boot_params, layout::kZeroPage);
  auto bp = mem.read_obj<boot_params>(layout::kZeroPage);
  ASSERT_TRUE(bp);
  EXPECT_EQ(bp->hdr.ramdisk_image, boot->initrd_addr);
  EXPECT_EQ(bp->hdr.ramdisk_size, 5000u);
  EXPECT_EQ(bp->hdr.cmd_line_ptr, layout::kCmdline);
  EXPECT_EQ(bp->hdr.code32_start, 0x1000000u);
  EXPECT_EQ(bp->hdr.type_of_loader, 0xff);
  EXPECT_GE(boot->initrd_addr, boot->kernel_end);
  // The payload is at the load address, the initrd at its place.
  auto k0 = mem.read_obj<uint8_t>(0x1000000 + 5);
  EXPECT_EQ(k0, kernel[5 * 512 + 5]);
  EXPECT_EQ(mem.read_obj<uint8_t>(boot->initrd_addr + 4999), 0xab);
}

TEST(LinuxBoot, KernelTooBigForMemory) {
  auto mem = mem_of(16);  // pref_address 16 MiB + init_size 8 MiB does not fit
  auto boot = setup_linux_boot(mem, testing::FakeBzImage{}.build(), {}, "", 1);
  ASSERT_FALSE(boot.has_value());
  EXPECT_NE(boot.error().find("more memory"), std::string::npos) << boot.error();
}

TEST(LinuxBoot, InitrdTooBig) {
  auto mem = mem_of(32);
  std::vector<uint8_t> initrd(20 << 20);
  auto boot = setup_linux_boot(mem, testing::FakeBzImage{}.build(), initrd, "", 1);
  ASSERT_FALSE(boot.has_value());
  EXPECT_NE(boot.error().find("initramfs"), std::string::npos) << boot.error();
}

TEST(LinuxBoot, CmdlineLongerThanKernelAccepts) {
  auto mem = mem_of(64);
  testing::FakeBzImage f;
  f.cmdline_size = 10;
  EXPECT_FALSE(setup_linux_boot(mem, f.build(), {}, "console=ttyS0", 1).has_value());
}

TEST(LinuxBoot, GarbageIsNotAKernel) {
  auto mem = mem_of(64);
  std::vector<uint8_t> junk(100000, 0x5a);
  auto boot = setup_linux_boot(mem, junk, {}, "", 1);
  ASSERT_FALSE(boot.has_value());
  EXPECT_NE(boot.error().find("not a bzImage"), std::string::npos) << boot.error();
}

}  // namespace
}  // namespace berth::vmm::kvm
