// Every rule a hostile driver can break, played against the whole device (virtio-net behind the
// MMIO transport, a socketpair standing in for the TAP). Each must end in a logged device error:
// failed(), DEVICE_NEEDS_RESET in Status, a configuration change interrupt when the driver was
// running, an error naming the rule, the queue no longer processed, and no byte of guest memory
// written (the whole 16 MiB is compared with a snapshot: every byte is a canary).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "tests/unit/virtio/test_driver.hpp"
#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio::test {
namespace {

constexpr uint16_t kRx = NetDevice::kRxQueue;
constexpr uint16_t kTx = NetDevice::kTxQueue;

class HostileGuestTest : public NetRigTest {
 protected:
  void bring_up(bool indirect = false) { rig_->bring_up(indirect); }
  MmioTransport& t() { return *rig_->transport; }
  MmioDriver& drv() { return *rig_->driver; }
  TestQueue& rx() { return rig_->rx; }
  TestQueue& tx() { return rig_->tx; }
  const GuestMemory& mem() { return rig_->mem; }

  // The state of guest memory just before the hostile step.
  void snapshot() {
    snap_.clear();
    for (const auto& r : mem().regions()) snap_.insert(snap_.end(), r.host, r.host + r.size);
  }
  bool memory_unchanged() {
    size_t off = 0;
    for (const auto& r : mem().regions()) {
      if (std::memcmp(snap_.data() + off, r.host, r.size) != 0) return false;
      off += r.size;
    }
    return true;
  }

  // The driver has written everything; the device runs next and must write nothing.
  void notify(uint16_t queue) {
    snapshot();
    t().queue_notify(queue);
  }

  // A frame the device would send if it were still processing TX.
  uint16_t add_valid_tx() { return tx().add_chain({{NetRig::kTxBuffers, 12 + 60}}); }

  void expect_device_error(Violation rule, bool driver_running = true) {
    SCOPED_TRACE(std::string(rule_name(rule)));
    EXPECT_TRUE(t().failed());
    EXPECT_NE(t().error().find(rule_name(rule)), std::string::npos) << t().error();
    EXPECT_TRUE(drv().status() & status::kDeviceNeedsReset);
    if (driver_running) {
      EXPECT_TRUE(drv().read32(mmio::kInterruptStatus) & mmio::kIntConfigChange);
      EXPECT_GE(rig_->take_irq(), 1u);
    }
    EXPECT_TRUE(memory_unchanged()) << "the device wrote guest memory";
    // The queues are no longer processed: a valid frame stays where it is.
    uint16_t used_before = tx().used_idx();
    add_valid_tx();
    t().queue_notify(kTx);
    drv().write32(mmio::kQueueNotify, kRx);
    rig_->poll_device();
    EXPECT_EQ(tx().used_idx(), used_before);
    char buf[64];
    EXPECT_LT(recv(peer_.get(), buf, sizeof buf, MSG_DONTWAIT), 0) << "a frame left the device";
    // Only a reset clears the state.
    drv().write32(mmio::kStatus, status::kAcknowledge | status::kDriver);
    EXPECT_TRUE(drv().status() & status::kDeviceNeedsReset);
    drv().write32(mmio::kStatus, 0);
    EXPECT_EQ(drv().status(), 0u);
    EXPECT_FALSE(t().failed());
    EXPECT_NE(t().error().find(rule_name(rule)), std::string::npos);
  }

  std::vector<uint8_t> snap_;
};

// --- descriptor indices and loops ---

TEST_F(HostileGuestTest, HeadIndexPastQueueSize) {
  bring_up();
  tx().publish(NetDevice::kQueueSize);  // head 256 in a 256-entry table
  notify(kTx);
  expect_device_error(Violation::kDescIndexOutOfRange);
}

TEST_F(HostileGuestTest, NextIndexPastQueueSize) {
  bring_up();
  tx().write_desc(0, {NetRig::kTxBuffers, 12, kDescFNext, 300});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kDescIndexOutOfRange);
}

TEST_F(HostileGuestTest, LoopingChain) {
  bring_up();
  tx().write_desc(0, {NetRig::kTxBuffers, 12, kDescFNext, 1});
  tx().write_desc(1, {NetRig::kTxBuffers, 60, kDescFNext, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kChainTooLong);
}

TEST_F(HostileGuestTest, SelfLoopingDescriptor) {
  bring_up();
  tx().write_desc(7, {NetRig::kTxBuffers, 100, kDescFNext, 7});
  tx().publish(7);
  notify(kTx);
  expect_device_error(Violation::kChainTooLong);
}

TEST_F(HostileGuestTest, LoopInRxChain) {
  bring_up();
  rx().write_desc(0, {NetRig::kRxBuffers, 2048, kDescFWrite | kDescFNext, 1});
  rx().write_desc(1, {NetRig::kRxBuffers, 2048, kDescFWrite | kDescFNext, 0});
  rx().publish(0);
  notify(kRx);
  expect_device_error(Violation::kChainTooLong);
}

// --- buffers outside guest memory ---

TEST_F(HostileGuestTest, BufferPastTheEndOfMemory) {
  bring_up();
  tx().add_chain({{mem().end() - 8, 72}});
  notify(kTx);
  expect_device_error(Violation::kBufferOutsideMemory);
}

TEST_F(HostileGuestTest, BufferAddressPlusLengthOverflows) {
  bring_up();
  tx().add_chain({{0xffffffffffffffc0ull, 0x100}});
  notify(kTx);
  expect_device_error(Violation::kBufferOutsideMemory);
}

TEST_F(HostileGuestTest, RxBufferInTheMmioWindow) {
  bring_up();
  rx().add_chain({{0xd0000000, 2048, true}});  // our own device window: not RAM
  notify(kRx);
  expect_device_error(Violation::kBufferOutsideMemory);
}

TEST_F(HostileGuestTest, RxBufferStraddlingTheEnd) {
  bring_up();
  rx().add_chain({{NetRig::kRxBuffers, 12, true}, {mem().end() - 100, 2048, true}});
  notify(kRx);
  expect_device_error(Violation::kBufferOutsideMemory);
}

TEST_F(HostileGuestTest, ChainOfMoreThan4GiB) {
  bring_up();
  // 256 descriptors each naming all 16 MiB: 4 GiB in total, more than used.len can say.
  for (uint16_t i = 0; i < 256; ++i)
    tx().write_desc(i, {0, 16 << 20, static_cast<uint16_t>(i < 255 ? kDescFNext : 0),
                        static_cast<uint16_t>(i + 1)});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kChainTooLarge);
}

// --- available index ---

TEST_F(HostileGuestTest, AvailableIndexJumpsPastQueueSize) {
  bring_up();
  tx().set_avail_idx(NetDevice::kQueueSize + 1);
  notify(kTx);
  expect_device_error(Violation::kAvailIdxJump);
}

TEST_F(HostileGuestTest, AvailableIndexGoesBackwards) {
  bring_up();
  add_valid_tx();
  t().queue_notify(kTx);
  ASSERT_EQ(tx().used_idx(), 1);
  char buf[128];
  ASSERT_GT(recv(peer_.get(), buf, sizeof buf, 0), 0);
  tx().set_avail_idx(0);  // 0 - 1 = 65535 chains "available"
  notify(kTx);
  expect_device_error(Violation::kAvailIdxJump);
}

// --- queue setup ---

class HostileQueueSetupTest : public HostileGuestTest {
 protected:
  void setup_with(QueueConfig c, Violation rule) {
    ASSERT_TRUE(drv().negotiate(feature::bit(feature::kVersion1)));
    snapshot();
    drv().setup_queue(kTx, c);
    EXPECT_EQ(drv().read32(mmio::kQueueReady), 0u);
    drv().driver_ok();
    EXPECT_FALSE(drv().status() & status::kDriverOk);
    expect_device_error(rule, /*driver_running=*/false);
  }
};

TEST_F(HostileQueueSetupTest, SizeNotAPowerOfTwo) {
  auto c = tx().config();
  c.size = 100;
  setup_with(c, Violation::kQueueSize);
}

TEST_F(HostileQueueSetupTest, SizeAboveQueueNumMax) {
  auto c = tx().config();
  c.size = 512;
  setup_with(c, Violation::kQueueSize);
}

TEST_F(HostileQueueSetupTest, SizeZero) {
  auto c = tx().config();
  c.size = 0;
  setup_with(c, Violation::kQueueSize);
}

TEST_F(HostileQueueSetupTest, DescriptorTableOutsideMemory) {
  auto c = tx().config();
  c.desc_table = mem().end() - 0x800;  // 4 KiB table, half of it past the end
  setup_with(c, Violation::kRingOutsideMemory);
}

TEST_F(HostileQueueSetupTest, UsedRingAboveFourGiB) {
  auto c = tx().config();
  c.used_ring = 0x1'2345'6000ull;
  setup_with(c, Violation::kRingOutsideMemory);
}

TEST_F(HostileQueueSetupTest, MisalignedDescriptorTable) {
  auto c = tx().config();
  c.desc_table += 8;
  setup_with(c, Violation::kRingMisaligned);
}

TEST_F(HostileQueueSetupTest, MisalignedUsedRing) {
  auto c = tx().config();
  c.used_ring += 2;
  setup_with(c, Violation::kRingMisaligned);
}

TEST_F(HostileQueueSetupTest, MisalignedAvailableRing) {
  auto c = tx().config();
  c.avail_ring += 1;
  setup_with(c, Violation::kRingMisaligned);
}

// --- descriptor direction ---

TEST_F(HostileGuestTest, WritableDescriptorOnTx) {
  bring_up();
  tx().add_chain({{NetRig::kTxBuffers, 12}, {NetRig::kTxBuffers + 0x1000, 60, true}});
  notify(kTx);
  expect_device_error(Violation::kWritableWhereReadable);
}

TEST_F(HostileGuestTest, ReadableDescriptorOnRx) {
  bring_up();
  rx().add_chain({{NetRig::kRxBuffers, 2048}});
  notify(kRx);
  expect_device_error(Violation::kReadableWhereWritable);
}

TEST_F(HostileGuestTest, ReadableAfterWritable) {
  bring_up();
  rx().add_chain({{NetRig::kRxBuffers, 1024, true}, {NetRig::kRxBuffers + 0x1000, 1024}});
  notify(kRx);
  expect_device_error(Violation::kReadableAfterWritable);
}

// --- lengths ---

TEST_F(HostileGuestTest, ZeroLengthChain) {
  bring_up();
  tx().add_chain({{NetRig::kTxBuffers, 0}, {NetRig::kTxBuffers, 0}});
  notify(kTx);
  expect_device_error(Violation::kZeroLengthChain);
}

TEST_F(HostileGuestTest, ZeroLengthRxChain) {
  bring_up();
  rx().add_chain({{NetRig::kRxBuffers, 0, true}});
  notify(kRx);
  expect_device_error(Violation::kZeroLengthChain);
}

TEST_F(HostileGuestTest, TxChainShorterThanNetHeader) {
  bring_up();
  tx().add_chain({{NetRig::kTxBuffers, 6}});
  notify(kTx);
  expect_device_error(Violation::kChainTooShort);
}

TEST_F(HostileGuestTest, RxChainShorterThanNetHeader) {
  bring_up();
  rx().add_chain({{NetRig::kRxBuffers, 8, true}});
  notify(kRx);
  expect_device_error(Violation::kChainTooShort);
}

// --- indirect descriptors ---

TEST_F(HostileGuestTest, IndirectWithoutNegotiation) {
  bring_up(/*indirect=*/false);
  const uint64_t table = 0x300000;
  tx().write_desc_at(table, 0, {NetRig::kTxBuffers, 72, 0, 0});
  tx().write_desc(0, {table, 16, kDescFIndirect, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kIndirectNotNegotiated);
}

TEST_F(HostileGuestTest, NestedIndirectTable) {
  bring_up(/*indirect=*/true);
  const uint64_t table = 0x300000;
  tx().write_desc_at(table, 0, {table, 16, kDescFIndirect, 0});  // points at itself
  tx().write_desc(0, {table, 16, kDescFIndirect, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kBadIndirectTable);
}

TEST_F(HostileGuestTest, IndirectWithNextFlag) {
  bring_up(true);
  const uint64_t table = 0x300000;
  tx().write_desc_at(table, 0, {NetRig::kTxBuffers, 72, 0, 0});
  tx().write_desc(0, {table, 16, kDescFIndirect | kDescFNext, 1});
  tx().write_desc(1, {NetRig::kTxBuffers, 72, 0, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kBadIndirectTable);
}

TEST_F(HostileGuestTest, IndirectLengthNotAMultipleOf16) {
  bring_up(true);
  const uint64_t table = 0x300000;
  tx().write_desc_at(table, 0, {NetRig::kTxBuffers, 72, 0, 0});
  tx().write_desc(0, {table, 24, kDescFIndirect, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kBadIndirectTable);
}

TEST_F(HostileGuestTest, IndirectTableLongerThanQueue) {
  bring_up(true);
  tx().write_desc(0, {0x300000, 16 * 257, kDescFIndirect, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kBadIndirectTable);
}

TEST_F(HostileGuestTest, IndirectTableOutsideMemory) {
  bring_up(true);
  tx().write_desc(0, {mem().end() - 16, 32, kDescFIndirect, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kBufferOutsideMemory);
}

TEST_F(HostileGuestTest, LoopInsideIndirectTable) {
  bring_up(true);
  const uint64_t table = 0x300000;
  tx().write_desc_at(table, 0, {NetRig::kTxBuffers, 12, kDescFNext, 1});
  tx().write_desc_at(table, 1, {NetRig::kTxBuffers, 60, kDescFNext, 0});
  tx().write_desc(0, {table, 32, kDescFIndirect, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kChainTooLong);
}

TEST_F(HostileGuestTest, IndirectNextPastTable) {
  bring_up(true);
  const uint64_t table = 0x300000;
  tx().write_desc_at(table, 0, {NetRig::kTxBuffers, 12, kDescFNext, 2});  // table has 2
  tx().write_desc(0, {table, 32, kDescFIndirect, 0});
  tx().publish(0);
  notify(kTx);
  expect_device_error(Violation::kDescIndexOutOfRange);
}

// --- recovery ---

TEST_F(HostileGuestTest, ResetAfterAnErrorBringsTheDeviceBack) {
  bring_up();
  tx().publish(999);
  t().queue_notify(kTx);
  ASSERT_TRUE(t().failed());
  drv().write32(mmio::kStatus, 0);
  ASSERT_FALSE(t().failed());
  // The driver lays its rings out afresh, as after any reset.
  for (auto* q : {&rig_->rx, &rig_->tx}) {
    auto c = q->config();
    std::vector<uint8_t> zero(c.used_ring + used_ring_bytes(c.size) - c.desc_table);
    ASSERT_TRUE(mem().write(c.desc_table, zero));
    *q = TestQueue(mem(), c.size, c.desc_table);
  }
  bring_up();
  add_valid_tx();
  t().queue_notify(kTx);
  EXPECT_EQ(tx().used_idx(), 1);
  char buf[128];
  EXPECT_EQ(recv(peer_.get(), buf, sizeof buf, 0), 72);
  EXPECT_FALSE(t().failed());
}

}  // namespace
}  // namespace berth::vmm::kvm::virtio::test
