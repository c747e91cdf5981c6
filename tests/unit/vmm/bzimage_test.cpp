// bzImage setup header validation (vmm/kvm/bzimage.cpp), on synthetic images and, where the
// guest kernel was built (/var/cache/berth/kernel/*/bzImage), on the real one.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/unit/vmm/fake_kernel.hpp"
#include "vmm/kvm/bzimage.hpp"
#include "vmm/kvm/linux_boot.hpp"

namespace berth::vmm::kvm {
namespace {

using testing::FakeBzImage;

TEST(BzImage, AcceptsAGoodHeader) {
  auto info = parse_bzimage(FakeBzImage{}.build());
  ASSERT_TRUE(info.has_value()) << info.error();
  EXPECT_EQ(info->setup_size, 5u * 512);
  EXPECT_EQ(info->payload_size, 4096u);
  EXPECT_EQ(info->load_addr, 0x1000000u);
  EXPECT_EQ(info->end, 0x1000000u + 0x800000);
}

TEST(BzImage, ZeroSetupSectsMeansFour) {
  auto img = FakeBzImage{}.build();  // laid out with 4 setup sectors
  img[0x1f1] = 0;                    // "if this field is 0, the real value is 4"
  auto info = parse_bzimage(img);
  ASSERT_TRUE(info.has_value()) << info.error();
  EXPECT_EQ(info->setup_size, 5u * 512);
}

TEST(BzImage, RejectsBadMagic) {
  auto img = FakeBzImage{}.build();
  img[0x202] = 'X';
  auto r = parse_bzimage(img);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("HdrS"), std::string::npos) << r.error();
  img = FakeBzImage{}.build();
  img[0x1fe] = 0;
  EXPECT_FALSE(parse_bzimage(img).has_value());
}

TEST(BzImage, RejectsOldProtocol) {
  FakeBzImage f;
  f.version = 0x020b;
  auto r = parse_bzimage(f.build());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("2.12"), std::string::npos) << r.error();
}

TEST(BzImage, RejectsNon64Bit) {
  FakeBzImage f;
  f.xloadflags = 0;
  auto r = parse_bzimage(f.build());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("XLF_KERNEL_64"), std::string::npos) << r.error();
  f = FakeBzImage{};
  f.loadflags = 0;
  EXPECT_FALSE(parse_bzimage(f.build()).has_value());
}

TEST(BzImage, RejectsTruncated) {
  auto img = FakeBzImage{}.build();
  for (size_t len : {size_t{0}, size_t{0x200}, size_t{0x260}, size_t{5 * 512}, img.size() - 16}) {
    std::vector<uint8_t> cut(img.begin(), img.begin() + static_cast<long>(len));
    EXPECT_FALSE(parse_bzimage(cut).has_value()) << "length " << len;
  }
}

TEST(BzImage, NonRelocatableBelowOneMiBRejected) {
  FakeBzImage f;
  f.pref_address = 0x10000;
  f.relocatable = 0;
  EXPECT_FALSE(parse_bzimage(f.build()).has_value());
  f.relocatable = 1;
  auto info = parse_bzimage(f.build());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->load_addr, 0x200000u);  // 1 MiB rounded up to kernel_alignment
}

// Found by tests/fuzz/linux_boot_fuzz.cpp (corpus/linux_boot/regress-end-wraps): load address +
// init_size wrapped past 2^64 into a small "end" that looked like it fit in guest RAM.
TEST(BzImage, LoadAddressPlusSizeMustNotOverflow) {
  FakeBzImage f;
  f.pref_address = 0xfffffffffffff000;
  f.init_size = 0x800000;
  auto r = parse_bzimage(f.build());
  ASSERT_FALSE(r.has_value()) << "end " << r->end << " below load address " << r->load_addr;
  EXPECT_NE(r.error().find("overflows"), std::string::npos) << r.error();
  f.pref_address = 0xffffffff00000000;  // high, but the sum fits: parsed, then refused to load
  auto high = parse_bzimage(f.build());
  ASSERT_TRUE(high.has_value()) << high.error();
  EXPECT_EQ(high->end, 0xffffffff00800000u);
  auto mem = GuestMemory::create(64 << 20);
  ASSERT_TRUE(mem.has_value());
  EXPECT_FALSE(load_bzimage(*mem, f.build(), 64 << 20).has_value());
}

// Found by tests/fuzz/linux_boot_fuzz.cpp (corpus/linux_boot/regress-entry-past-kernel): a
// 16-byte kernel was loaded and its entry, 0x200 past its start, lay beyond it.
TEST(BzImage, KernelMustReachThe64BitEntry) {
  FakeBzImage f;
  f.payload = 0x200;
  auto r = parse_bzimage(f.build());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("64-bit entry"), std::string::npos) << r.error();
  f.payload = 0x210;
  EXPECT_TRUE(parse_bzimage(f.build()).has_value());
}

TEST(BzImage, RealGuestKernelIfBuilt) {
  std::filesystem::path found;
  std::error_code ec;
  for (auto& d : std::filesystem::directory_iterator("/var/cache/berth/kernel", ec))
    if (std::filesystem::exists(d.path() / "bzImage")) found = d.path() / "bzImage";
  if (found.empty())
    GTEST_SKIP() << "no /var/cache/berth/kernel/*/bzImage (images/kernel/build.sh)";
  auto img = read_file(found, 64 << 20);
  ASSERT_TRUE(img.has_value()) << img.error();
  auto info = parse_bzimage(*img);
  ASSERT_TRUE(info.has_value()) << info.error();
  EXPECT_GE(info->hdr.version, 0x020f);
  auto mem = GuestMemory::create(256 << 20);
  ASSERT_TRUE(mem.has_value());
  auto boot = setup_linux_boot(*mem, *img, {}, "console=ttyS0", 1);
  ASSERT_TRUE(boot.has_value()) << boot.error();
  EXPECT_EQ(boot->entry, info->load_addr + 0x200);
}

}  // namespace
}  // namespace berth::vmm::kvm
