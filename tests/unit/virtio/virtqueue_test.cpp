// The split virtqueue (vmm/kvm/virtio/virtqueue.cpp, descriptor_chain.cpp) against a test-side
// driver laying out rings in 16 MiB of guest memory. The hostile-driver rules, through the
// whole device, are in hostile_guest_test.cpp.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/virtio/test_driver.hpp"
#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio::test {
namespace {

class VirtqueueTest : public ::testing::Test {
 protected:
  Virtqueue make(uint16_t size = 8, bool indirect = false) {
    q_ = std::make_unique<TestQueue>(mem_, size, 0x10000);
    auto vq = Virtqueue::create(mem_, q_->config(), 256, indirect);
    EXPECT_TRUE(vq) << vq.error().message();
    return std::move(*vq);
  }
  GuestMemory mem_ = GuestMemory::create(16 << 20).value();
  std::unique_ptr<TestQueue> q_;
};

TEST_F(VirtqueueTest, EmptyQueuePopsNothing) {
  auto vq = make();
  auto r = vq.pop();
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
}

TEST_F(VirtqueueTest, PopsChainAndPublishesUsed) {
  auto vq = make();
  uint16_t head = q_->add_chain(
      {{0x100000, 12}, {0x100100, 100}, {0x200000, 1500, true}, {0x300000, 10, true}});
  auto r = vq.pop();
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(*r);
  const auto& c = **r;
  EXPECT_EQ(c.head, head);
  ASSERT_EQ(c.readable.size(), 2u);
  ASSERT_EQ(c.writable.size(), 2u);
  EXPECT_EQ(c.readable[1].addr, 0x100100u);
  EXPECT_EQ(c.readable_len, 112u);
  EXPECT_EQ(c.writable_len, 1510u);
  EXPECT_FALSE(*vq.pop());  // nothing more

  EXPECT_EQ(q_->used_idx(), 0);
  ASSERT_TRUE(vq.add_used(c.head, 42));
  EXPECT_EQ(q_->used_idx(), 1);
  EXPECT_EQ(q_->used(0).id, head);
  EXPECT_EQ(q_->used(0).len, 42u);
}

TEST_F(VirtqueueTest, IndicesWrapAround16Bits) {
  auto vq = make(4);
  for (uint32_t i = 0; i < 70000; ++i) {
    uint16_t head = q_->add_chain({{0x100000, 64}});
    auto r = vq.pop();
    ASSERT_TRUE(r && *r) << i;
    ASSERT_EQ((**r).head, head);
    ASSERT_TRUE(vq.add_used(head, 1));
  }
  EXPECT_EQ(q_->used_idx(), static_cast<uint16_t>(70000));
  EXPECT_EQ(vq.next_avail(), static_cast<uint16_t>(70000));
}

TEST_F(VirtqueueTest, SeveralOutstandingChainsComeOutInOrder) {
  auto vq = make(8);
  uint16_t a = q_->add_chain({{0x100000, 10}});
  uint16_t b = q_->add_chain({{0x100000, 20}, {0x100100, 5}});
  uint16_t c = q_->add_chain({{0x100000, 30, true}});
  for (uint16_t want : {a, b, c}) {
    auto r = vq.pop();
    ASSERT_TRUE(r && *r);
    EXPECT_EQ((**r).head, want);
  }
}

TEST_F(VirtqueueTest, NoInterruptFlagSuppressesInterrupts) {
  auto vq = make();
  EXPECT_FALSE(vq.take_interrupt());  // nothing used yet
  uint16_t h = q_->add_chain({{0x100000, 10}});
  ASSERT_TRUE(*vq.pop());
  ASSERT_TRUE(vq.add_used(h, 0));
  EXPECT_TRUE(vq.take_interrupt());
  EXPECT_FALSE(vq.take_interrupt());  // taken
  q_->set_avail_flags(kAvailFNoInterrupt);
  h = q_->add_chain({{0x100000, 10}});
  ASSERT_TRUE(*vq.pop());
  ASSERT_TRUE(vq.add_used(h, 0));
  EXPECT_FALSE(vq.take_interrupt());
}

TEST_F(VirtqueueTest, IndirectTableWhenNegotiated) {
  auto vq = make(8, /*indirect=*/true);
  const uint64_t table = 0x180000;
  q_->write_desc_at(table, 0, {0x100000, 12, kDescFNext, 1});
  q_->write_desc_at(table, 1, {0x100100, 300, kDescFNext, 2});
  q_->write_desc_at(table, 2, {0x200000, 2048, kDescFWrite, 0});
  q_->write_desc(3, {table, 3 * 16, kDescFIndirect, 0});
  q_->publish(3);
  auto r = vq.pop();
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_TRUE(*r);
  EXPECT_EQ((**r).head, 3);
  EXPECT_EQ((**r).readable_len, 312u);
  EXPECT_EQ((**r).writable_len, 2048u);
}

TEST_F(VirtqueueTest, DirectDescriptorsThenIndirectTable) {
  auto vq = make(8, true);
  const uint64_t table = 0x180000;
  q_->write_desc_at(table, 0, {0x200000, 100, kDescFWrite, 0});
  q_->write_desc(0, {0x100000, 12, kDescFNext, 5});
  q_->write_desc(5, {table, 16, kDescFIndirect, 0});
  q_->publish(0);
  auto r = vq.pop();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((**r).readable_len, 12u);
  EXPECT_EQ((**r).writable_len, 100u);
}

TEST_F(VirtqueueTest, CopiesAcrossBufferBoundaries) {
  auto vq = make();
  q_->add_chain({{0x100000, 3}, {0x100010, 5}, {0x200000, 4, true}, {0x200010, 6, true}});
  const uint8_t src[] = {1, 2, 3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(mem_.write(0x100000, std::span(src, 3)));
  ASSERT_TRUE(mem_.write(0x100010, std::span(src + 3, 5)));
  auto r = vq.pop();
  ASSERT_TRUE(r && *r);
  uint8_t out[8] = {};
  EXPECT_EQ(copy_from_chain(mem_, **r, 2, out), 6u);  // only 6 bytes from offset 2
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[5], 8);
  const uint8_t in[] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
  EXPECT_EQ(copy_to_chain(mem_, **r, 1, in), 9u);  // 10 writable bytes, from offset 1
  EXPECT_EQ(mem_.read_obj<uint8_t>(0x200000), 0);
  EXPECT_EQ(mem_.read_obj<uint8_t>(0x200001), 9);
  EXPECT_EQ(mem_.read_obj<uint8_t>(0x200015), 9);
  EXPECT_EQ(mem_.read_obj<uint8_t>(0x200016), 0);  // one past the last writable byte
}

// Queue-level view of the setup rules (the device-level view is in hostile_guest_test.cpp).
TEST_F(VirtqueueTest, CreateChecksSizeAlignmentAndMemory) {
  auto check = [&](QueueConfig c, Violation want) {
    auto vq = Virtqueue::create(mem_, c, 256, false);
    ASSERT_FALSE(vq);
    EXPECT_EQ(vq.error().rule, want) << vq.error().message();
  };
  TestQueue good(mem_, 8, 0x10000);
  QueueConfig c = good.config();
  for (uint32_t size : {0u, 3u, 100u, 512u, 65536u}) {
    c.size = size;
    check(c, Violation::kQueueSize);
  }
  c = good.config();
  c.desc_table += 8;
  check(c, Violation::kRingMisaligned);
  c = good.config();
  c.avail_ring += 1;
  check(c, Violation::kRingMisaligned);
  c = good.config();
  c.used_ring += 2;
  check(c, Violation::kRingMisaligned);
  c = good.config();
  c.desc_table = mem_.end() - 64;  // 8 * 16 bytes do not fit
  check(c, Violation::kRingOutsideMemory);
  c = good.config();
  c.used_ring = 0xfffffffffffffff0ull;
  check(c, Violation::kRingOutsideMemory);
}

}  // namespace
}  // namespace berth::vmm::kvm::virtio::test
