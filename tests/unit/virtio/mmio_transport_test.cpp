// The virtio-mmio register window (virtio 1.2 §4.2.2): identification, feature negotiation,
// the status state machine, queue setup, reset, configuration space and interrupts. The device
// behind it is virtio-net on a socketpair.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "tests/unit/virtio/test_driver.hpp"
#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio::test {
namespace {

constexpr uint32_t kRunning =
    status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk;
constexpr uint64_t kNetFeatures = feature::bit(feature::kVersion1) |
                                  feature::bit(feature::kNetMac) |
                                  feature::bit(feature::kNetStatus);

class MmioTransportTest : public NetRigTest {
 protected:
  MmioTransport& t() { return *rig_->transport; }
  MmioDriver& drv() { return *rig_->driver; }
  void send_one_tx_frame() {
    rig_->tx.add_chain({{NetRig::kTxBuffers, 72}});
    t().queue_notify(NetDevice::kTxQueue);
  }
};

TEST_F(MmioTransportTest, IdentifiesAsModernNetDevice) {
  EXPECT_EQ(drv().read32(mmio::kMagicValue), 0x74726976u);
  EXPECT_EQ(drv().read32(mmio::kVersionReg), 2u);
  EXPECT_EQ(drv().read32(mmio::kDeviceId), 1u);
  EXPECT_EQ(drv().read32(mmio::kVendorIdReg), mmio::kVendorId);
  EXPECT_EQ(t().num_queues(), 2);
  for (uint32_t q : {0u, 1u}) {
    drv().write32(mmio::kQueueSel, q);
    EXPECT_EQ(drv().read32(mmio::kQueueNumMax), 256u);
    EXPECT_EQ(drv().read32(mmio::kQueueReady), 0u);
  }
  drv().write32(mmio::kQueueSel, 2);
  EXPECT_EQ(drv().read32(mmio::kQueueNumMax), 0u);  // no such queue
  EXPECT_EQ(drv().read32(mmio::kStatus), 0u);
  EXPECT_EQ(drv().read32(mmio::kConfigGeneration), 0u);
  EXPECT_EQ(drv().read32(mmio::kShmLenLow), 0xffffffffu);  // no shared memory regions
}

TEST_F(MmioTransportTest, OffersVersion1MacStatusAndIndirect) {
  EXPECT_EQ(drv().device_features(), kNetFeatures | feature::bit(feature::kIndirectDesc));
  drv().write32(mmio::kDeviceFeaturesSel, 2);
  EXPECT_EQ(drv().read32(mmio::kDeviceFeatures), 0u);
}

TEST_F(MmioTransportTest, FeaturesOkRefusedWithoutVersion1) {
  EXPECT_FALSE(drv().negotiate(feature::bit(feature::kNetMac)));
  EXPECT_EQ(drv().status(), status::kAcknowledge | status::kDriver);
  EXPECT_FALSE(t().failed());  // a refusal, not a device error
}

TEST_F(MmioTransportTest, FeaturesOkRefusedWithBitsNotOffered) {
  for (unsigned bit : {feature::kEventIdx, feature::kNetMrgRxbuf, 0u, 63u}) {
    drv().write32(mmio::kStatus, 0);
    EXPECT_FALSE(drv().negotiate(kNetFeatures | feature::bit(bit))) << "bit " << bit;
  }
}

TEST_F(MmioTransportTest, FeaturesOkAcceptedForASubset) {
  EXPECT_TRUE(drv().negotiate(feature::bit(feature::kVersion1)));
  drv().write32(mmio::kStatus, 0);
  EXPECT_TRUE(drv().negotiate(kNetFeatures));
}

TEST_F(MmioTransportTest, StatusStepsMustComeInOrder) {
  drv().write32(mmio::kStatus, status::kDriverOk);  // nothing before it
  EXPECT_EQ(drv().status(), 0u);
  drv().write32(mmio::kStatus, status::kAcknowledge | status::kDriver | status::kDriverOk);
  EXPECT_EQ(drv().status(), 0u);
  ASSERT_TRUE(drv().negotiate(kNetFeatures));
  // Clearing a bit without a reset is ignored.
  drv().write32(mmio::kStatus, status::kAcknowledge);
  EXPECT_EQ(drv().status(), status::kAcknowledge | status::kDriver | status::kFeaturesOk);
  // The driver cannot set DEVICE_NEEDS_RESET.
  drv().write32(mmio::kStatus, drv().status() | status::kDeviceNeedsReset);
  EXPECT_FALSE(drv().status() & status::kDeviceNeedsReset);
}

TEST_F(MmioTransportTest, DriverGivingUpSetsFailed) {
  drv().write32(mmio::kStatus, status::kAcknowledge);
  drv().write32(mmio::kStatus, status::kAcknowledge | status::kFailed);
  EXPECT_TRUE(drv().status() & status::kFailed);
}

TEST_F(MmioTransportTest, QueueSetupAndReadyReadback) {
  ASSERT_TRUE(drv().negotiate(kNetFeatures));
  drv().setup_queue(0, rig_->rx.config());
  EXPECT_EQ(drv().read32(mmio::kQueueReady), 1u);
  drv().write32(mmio::kQueueSel, 1);
  EXPECT_EQ(drv().read32(mmio::kQueueReady), 0u);
  drv().setup_queue(1, rig_->tx.config());
  EXPECT_EQ(drv().read32(mmio::kQueueReady), 1u);
  // A ready queue's registers are left alone: the garbage below changes nothing.
  drv().write32(mmio::kQueueDescLow, 0xdead0000);
  drv().write32(mmio::kQueueNum, 3);
  drv().driver_ok();
  ASSERT_EQ(drv().status(), kRunning);
  send_one_tx_frame();
  EXPECT_EQ(rig_->tx.used_idx(), 1);
  EXPECT_FALSE(t().failed()) << t().error();
}

TEST_F(MmioTransportTest, QueueReadyBeforeFeaturesOkIsIgnored) {
  drv().write32(mmio::kStatus, status::kAcknowledge | status::kDriver);
  drv().setup_queue(0, rig_->rx.config());
  EXPECT_EQ(drv().read32(mmio::kQueueReady), 0u);
}

TEST_F(MmioTransportTest, WritingZeroToStatusResetsDeviceAndQueues) {
  rig_->bring_up();
  send_one_tx_frame();
  ASSERT_NE(drv().read32(mmio::kInterruptStatus), 0u);
  drv().write32(mmio::kQueueSel, 1);
  drv().write32(mmio::kDeviceFeaturesSel, 1);
  drv().write32(mmio::kStatus, 0);
  EXPECT_EQ(drv().status(), 0u);
  EXPECT_EQ(drv().read32(mmio::kInterruptStatus), 0u);
  uint32_t low = drv().read32(mmio::kDeviceFeatures);  // DeviceFeaturesSel is 0 again
  EXPECT_EQ(low, (kNetFeatures | feature::bit(feature::kIndirectDesc)) & 0xffffffffu);
  for (uint32_t q : {0u, 1u}) {
    drv().write32(mmio::kQueueSel, q);
    EXPECT_EQ(drv().read32(mmio::kQueueReady), 0u);
  }
  // The old queues are gone: a notify does nothing.
  rig_->tx.add_chain({{NetRig::kTxBuffers, 72}});
  t().queue_notify(1);
  EXPECT_EQ(rig_->tx.used_idx(), 1);
  // Features must be negotiated again.
  drv().write32(mmio::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
  EXPECT_FALSE(drv().status() & status::kFeaturesOk);
}

TEST_F(MmioTransportTest, ConfigSpaceHoldsMacAndLinkStatus) {
  for (size_t i = 0; i < 6; ++i) {
    uint8_t b = 0;
    t().read(mmio::kConfig + i, {&b, 1});
    EXPECT_EQ(b, kGuestMac[i]) << i;
  }
  uint32_t word = drv().read32(mmio::kConfig);
  EXPECT_EQ(std::memcmp(&word, kGuestMac.data(), 4), 0);
  uint16_t link = 0;
  t().read(mmio::kConfig + 6, {reinterpret_cast<uint8_t*>(&link), 2});
  EXPECT_EQ(link, 1);                                  // VIRTIO_NET_S_LINK_UP
  EXPECT_EQ(drv().read32(mmio::kConfig + 8), 0u);      // past the config: zeros
  EXPECT_EQ(drv().read32(mmio::kConfig + 0xefc), 0u);  // last word of the window
  drv().write32(mmio::kConfig, 0);                     // read-only: ignored
  EXPECT_EQ(drv().read32(mmio::kConfig), word);
}

TEST_F(MmioTransportTest, UsedBufferRaisesInterruptAndAckClearsIt) {
  rig_->bring_up();
  EXPECT_EQ(rig_->take_irq(), 0u);
  send_one_tx_frame();
  EXPECT_EQ(drv().read32(mmio::kInterruptStatus), mmio::kIntUsedBuffer);
  EXPECT_EQ(rig_->take_irq(), 1u);
  drv().write32(mmio::kInterruptAck, mmio::kIntUsedBuffer);
  EXPECT_EQ(drv().read32(mmio::kInterruptStatus), 0u);
}

TEST_F(MmioTransportTest, NoInterruptWhenDriverSuppressesIt) {
  rig_->bring_up();
  rig_->tx.set_avail_flags(kAvailFNoInterrupt);
  send_one_tx_frame();
  EXPECT_EQ(rig_->tx.used_idx(), 1);
  EXPECT_EQ(rig_->take_irq(), 0u);
}

TEST_F(MmioTransportTest, NotifyRegisterAndNotifyCallAreTheSame) {
  rig_->bring_up();
  rig_->tx.add_chain({{NetRig::kTxBuffers, 72}});
  drv().write32(mmio::kQueueNotify, 1);
  EXPECT_EQ(rig_->tx.used_idx(), 1);
}

TEST_F(MmioTransportTest, NotifyBeforeDriverOkOrOfMissingQueueIsIgnored) {
  ASSERT_TRUE(drv().negotiate(kNetFeatures));
  drv().setup_queue(0, rig_->rx.config());
  drv().setup_queue(1, rig_->tx.config());
  rig_->tx.add_chain({{NetRig::kTxBuffers, 72}});
  t().queue_notify(1);
  EXPECT_EQ(rig_->tx.used_idx(), 0);
  drv().driver_ok();
  t().queue_notify(7);
  t().queue_notify(0xffff);
  EXPECT_FALSE(t().failed());
  t().queue_notify(1);
  EXPECT_EQ(rig_->tx.used_idx(), 1);
}

TEST_F(MmioTransportTest, OddSizedRegisterAccessesAreIgnored) {
  uint8_t b[2] = {0xaa, 0xaa};
  t().read(mmio::kMagicValue, {b, 1});
  EXPECT_EQ(b[0], 0);
  t().read(mmio::kMagicValue + 2, {b, 2});
  EXPECT_EQ(b[0], 0);
  uint8_t one = status::kAcknowledge;
  t().write(mmio::kStatus, {&one, 1});
  EXPECT_EQ(drv().status(), 0u);
  uint32_t v = 0xffffffff;
  t().write(mmio::kStatus + 1, {reinterpret_cast<uint8_t*>(&v), 4});  // misaligned
  EXPECT_EQ(drv().status(), 0u);
  EXPECT_EQ(drv().read32(0x0f0), 0u);   // unknown register
  drv().write32(mmio::kMagicValue, 0);  // read-only
  EXPECT_EQ(drv().read32(mmio::kMagicValue), mmio::kMagic);
}

// vCPU threads read registers while the event loop transmits: the transport's lock keeps them
// apart (run under the ASan/TSan presets to see it).
TEST_F(MmioTransportTest, VcpuAndEventLoopThreadsConcurrently) {
  rig_->bring_up();
  std::atomic<bool> done{false};
  std::thread vcpu([&] {
    while (!done) {
      (void)drv().read32(mmio::kInterruptStatus);
      drv().write32(mmio::kInterruptAck, mmio::kIntUsedBuffer);
      (void)drv().read32(mmio::kConfig);
    }
  });
  char buf[128];
  for (int i = 0; i < 2000; ++i) {
    send_one_tx_frame();
    ASSERT_EQ(recv(peer_.get(), buf, sizeof buf, 0), 72);
  }
  done = true;
  vcpu.join();
  EXPECT_EQ(rig_->tx.used_idx(), 2000);
  EXPECT_FALSE(t().failed());
}

}  // namespace
}  // namespace berth::vmm::kvm::virtio::test
