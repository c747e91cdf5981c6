// The MP table (vmm/kvm/mptable.cpp): signatures, checksums, processor entries.
#include <gtest/gtest.h>

#include <cstring>

#include "vmm/kvm/memory_map.hpp"
#include "vmm/kvm/mptable.hpp"

namespace berth::vmm::kvm {
namespace {

uint8_t sum(const GuestMemory& mem, uint64_t addr, size_t len) {
  auto s = mem.slice(addr, len);
  uint8_t total = 0;
  for (uint8_t b : *s) total += b;
  return total;
}

TEST(MpTable, ChecksumsAndCpus) {
  auto mem = GuestMemory::create(16 << 20);
  ASSERT_TRUE(mem.has_value());
  ASSERT_TRUE(write_mptable(*mem, 4).has_value());
  char sig[4];
  mem->read(layout::kMpTable, {reinterpret_cast<uint8_t*>(sig), 4});
  EXPECT_EQ(std::string(sig, 4), "_MP_");
  EXPECT_EQ(sum(*mem, layout::kMpTable, 16), 0) << "floating pointer checksum";
  uint32_t table = *mem->read_obj<uint32_t>(layout::kMpTable + 4);
  mem->read(table, {reinterpret_cast<uint8_t*>(sig), 4});
  EXPECT_EQ(std::string(sig, 4), "PCMP");
  uint16_t len = *mem->read_obj<uint16_t>(table + 4);
  EXPECT_EQ(sum(*mem, table, len), 0) << "configuration table checksum";
  EXPECT_LE(table + len, 0xa0000u) << "inside the reserved last KiB of base memory";
  EXPECT_EQ(*mem->read_obj<uint32_t>(table + 36), layout::kLapic);
  // Entries: 4 processors first, the first one the BSP.
  uint64_t p = table + 44;
  for (uint8_t i = 0; i < 4; ++i, p += 20) {
    EXPECT_EQ(*mem->read_obj<uint8_t>(p), 0);
    EXPECT_EQ(*mem->read_obj<uint8_t>(p + 1), i);
    EXPECT_EQ(*mem->read_obj<uint8_t>(p + 3), i == 0 ? 3 : 1);
  }
}

TEST(MpTable, LimitsCpuCount) {
  auto mem = GuestMemory::create(16 << 20);
  ASSERT_TRUE(mem.has_value());
  EXPECT_FALSE(write_mptable(*mem, 0).has_value());
  EXPECT_TRUE(write_mptable(*mem, kMpTableMaxCpus).has_value());
  EXPECT_FALSE(write_mptable(*mem, kMpTableMaxCpus + 1).has_value());
}

}  // namespace
}  // namespace berth::vmm::kvm
