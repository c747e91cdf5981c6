// Bus dispatch, overlap rejection and unknown accesses (vmm/kvm/io_bus.cpp).
#include <gtest/gtest.h>

#include "vmm/kvm/io_bus.hpp"

namespace berth::vmm::kvm {
namespace {

struct Recorder : BusDevice {
  uint64_t last_read = ~0ull, last_write = ~0ull;
  uint8_t value = 0;
  void read(uint64_t off, std::span<uint8_t> d) override {
    last_read = off;
    for (auto& b : d) b = 0x42;
  }
  void write(uint64_t off, std::span<const uint8_t> d) override {
    last_write = off;
    value = d[0];
  }
};

TEST(IoBus, DispatchesWithOffsets) {
  IoBus bus("port");
  auto a = std::make_shared<Recorder>(), b = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.add(0x3f8, 8, a).has_value());
  ASSERT_TRUE(bus.add(0x60, 1, b).has_value());
  uint8_t v = 7;
  EXPECT_TRUE(bus.write(0x3fd, {&v, 1}));
  EXPECT_EQ(a->last_write, 5u);
  EXPECT_EQ(a->value, 7);
  EXPECT_TRUE(bus.read(0x60, {&v, 1}));
  EXPECT_EQ(b->last_read, 0u);
  EXPECT_EQ(v, 0x42);
}

TEST(IoBus, RejectsOverlapsAndEmptyRanges) {
  IoBus bus("mmio");
  auto d = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.add(0x1000, 0x100, d).has_value());
  EXPECT_FALSE(bus.add(0x10ff, 1, d).has_value()) << "last byte";
  EXPECT_FALSE(bus.add(0xf00, 0x101, d).has_value()) << "first byte";
  EXPECT_FALSE(bus.add(0x800, 0x1000, d).has_value()) << "covering";
  EXPECT_FALSE(bus.add(0x1010, 0x10, d).has_value()) << "inside";
  EXPECT_FALSE(bus.add(0x2000, 0, d).has_value()) << "empty";
  EXPECT_FALSE(bus.add(~0ull - 4, 16, d).has_value()) << "wraps";
  EXPECT_FALSE(bus.add(0x3000, 16, nullptr).has_value());
  EXPECT_TRUE(bus.add(0x1100, 0x100, d).has_value()) << "adjacent is fine";
  EXPECT_TRUE(bus.add(0xf00, 0x100, d).has_value()) << "adjacent below is fine";
}

TEST(IoBus, UnknownReadsAllOnesWritesDropped) {
  IoBus bus("port");
  auto d = std::make_shared<Recorder>();
  ASSERT_TRUE(bus.add(0x3f8, 8, d).has_value());
  uint8_t four[4] = {0, 0, 0, 0};
  EXPECT_FALSE(bus.read(0x1234, four));
  for (uint8_t b : four) EXPECT_EQ(b, 0xff);
  EXPECT_FALSE(bus.write(0x80, four));
  // An access straddling the end of a device is not the device's.
  EXPECT_FALSE(bus.read(0x3fe, four));
  EXPECT_EQ(d->last_read, ~0ull);
  EXPECT_EQ(bus.unhandled_count(), 3u);
  // A flood of unknown accesses is only counted (and logged at a bounded rate).
  for (int i = 0; i < 100000; ++i) bus.write(0x10000 + static_cast<uint64_t>(i), four);
  EXPECT_GE(bus.unhandled_count(), 100000u);
}

}  // namespace
}  // namespace berth::vmm::kvm
