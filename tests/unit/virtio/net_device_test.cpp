// virtio-net's data path (vmm/kvm/virtio/net_device.cpp) with a SOCK_SEQPACKET socketpair in
// place of the TAP (one frame per read/write, like a TAP with IFF_VNET_HDR): the header the
// TAP and the guest see, scatter/gather, drops, and RX flow control without busy looping. The
// real TAP is in tap_net_test.cpp.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "tests/unit/virtio/test_driver.hpp"
#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio::test {
namespace {

constexpr uint16_t kRx = NetDevice::kRxQueue;
constexpr uint16_t kTx = NetDevice::kTxQueue;
constexpr size_t kHdr = NetDevice::kHeaderSize;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

class NetDeviceTest : public NetRigTest {
 protected:
  void SetUp() override {
    NetRigTest::SetUp();
    if (HasFatalFailure()) return;
    rig_->bring_up();
  }
  MmioTransport& t() { return *rig_->transport; }
  const GuestMemory& mem() { return rig_->mem; }
  const NetStats& stats() { return *rig_->stats; }

  // The host side sends a frame (with a header the device must not pass on as it is).
  void host_sends(const std::vector<uint8_t>& frame) {
    std::vector<uint8_t> pkt(kHdr + frame.size(), 0xee);
    std::copy(frame.begin(), frame.end(), pkt.begin() + kHdr);
    ASSERT_EQ(send(peer_.get(), pkt.data(), pkt.size(), 0), static_cast<ssize_t>(pkt.size()));
  }
  std::vector<uint8_t> host_receives() {
    std::vector<uint8_t> buf(70000);
    ssize_t n = recv(peer_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    buf.resize(n < 0 ? 0 : n);
    return buf;
  }
  // One RX buffer of `len` writable bytes at `addr`; notifies the RX queue.
  uint16_t give_rx_buffer(uint64_t addr, uint32_t len) {
    uint16_t head = rig_->rx.add_chain({{addr, len, true}});
    t().queue_notify(kRx);
    return head;
  }
};

TEST_F(NetDeviceTest, TxFrameReachesTheTapWithAZeroHeader) {
  auto frame = pattern(60, 1);
  std::vector<uint8_t> hdr(kHdr, 0xff);  // garbage flags/gso: we negotiated no offloads
  ASSERT_TRUE(mem().write(NetRig::kTxBuffers, hdr));
  ASSERT_TRUE(mem().write(NetRig::kTxBuffers + 0x1000, frame));
  uint16_t head =
      rig_->tx.add_chain({{NetRig::kTxBuffers, kHdr}, {NetRig::kTxBuffers + 0x1000, 60}});
  t().queue_notify(kTx);

  auto got = host_receives();
  ASSERT_EQ(got.size(), kHdr + 60);
  EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.begin() + kHdr), std::vector<uint8_t>(kHdr, 0));
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()), frame);
  EXPECT_EQ(rig_->tx.used_idx(), 1);
  EXPECT_EQ(rig_->tx.used(0).id, head);
  EXPECT_EQ(rig_->tx.used(0).len, 0u);  // the device wrote nothing into the chain
  EXPECT_EQ(stats().tx_frames, 1u);
  EXPECT_EQ(rig_->take_irq(), 1u);
}

TEST_F(NetDeviceTest, TxGathersAFrameFromManyPieces) {
  // Header split 5 + 7 with frame bytes in the second piece, as any layout is allowed (§2.6.4).
  std::vector<uint8_t> chain(kHdr, 0);
  auto frame = pattern(1500, 3);
  chain.insert(chain.end(), frame.begin(), frame.end());
  const uint32_t cuts[] = {5, 10, 700, 1, 796};  // sums to 1512
  uint64_t addr = NetRig::kTxBuffers;
  size_t pos = 0;
  std::vector<Segment> segs;
  for (uint32_t c : cuts) {
    ASSERT_TRUE(mem().write(addr, std::span(chain).subspan(pos, c)));
    segs.push_back({addr, c});
    addr += 0x1000;
    pos += c;
  }
  ASSERT_EQ(pos, chain.size());
  rig_->tx.add_chain({segs[0], segs[1], segs[2], segs[3], segs[4]});
  t().queue_notify(kTx);
  auto got = host_receives();
  ASSERT_EQ(got.size(), chain.size());
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()), frame);
}

TEST_F(NetDeviceTest, TxThroughAnIndirectTable) {
  rig_->driver->write32(mmio::kStatus, 0);
  rig_->bring_up(/*indirect=*/true);
  auto frame = pattern(100, 9);
  ASSERT_TRUE(mem().write(NetRig::kTxBuffers + kHdr, frame));
  const uint64_t table = 0x300000;
  rig_->tx.write_desc_at(table, 0, {NetRig::kTxBuffers, kHdr, kDescFNext, 1});
  rig_->tx.write_desc_at(table, 1, {NetRig::kTxBuffers + kHdr, 100, 0, 0});
  rig_->tx.write_desc(0, {table, 32, kDescFIndirect, 0});
  rig_->tx.publish(0);
  t().queue_notify(kTx);
  auto got = host_receives();
  ASSERT_EQ(got.size(), kHdr + 100);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()), frame);
  EXPECT_FALSE(t().failed()) << t().error();
}

TEST_F(NetDeviceTest, RxFrameLandsInTheBufferWithAHeader) {
  auto frame = pattern(100, 5);
  uint16_t head = give_rx_buffer(NetRig::kRxBuffers, 1526);
  EXPECT_EQ(rig_->take_irq(), 0u);  // nothing received yet
  host_sends(frame);
  ASSERT_TRUE(rig_->watched_fd_readable());
  rig_->poll_device();

  ASSERT_EQ(rig_->rx.used_idx(), 1);
  EXPECT_EQ(rig_->rx.used(0).id, head);
  EXPECT_EQ(rig_->rx.used(0).len, kHdr + 100);
  std::vector<uint8_t> got(kHdr + 100);
  ASSERT_TRUE(mem().read(NetRig::kRxBuffers, got));
  // flags, gso_type, hdr_len, gso_size, csum_start, csum_offset all 0; num_buffers 1.
  const uint8_t want_hdr[kHdr] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  EXPECT_EQ(std::memcmp(got.data(), want_hdr, kHdr), 0);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()), frame);
  EXPECT_EQ(rig_->driver->read32(mmio::kInterruptStatus), mmio::kIntUsedBuffer);
  EXPECT_EQ(rig_->take_irq(), 1u);
  EXPECT_EQ(stats().rx_frames, 1u);
}

TEST_F(NetDeviceTest, RxScattersAcrossDescriptors) {
  rig_->rx.add_chain({{NetRig::kRxBuffers, 12, true},
                      {NetRig::kRxBuffers + 0x1000, 50, true},
                      {NetRig::kRxBuffers + 0x2000, 2000, true}});
  t().queue_notify(kRx);
  auto frame = pattern(1000, 11);
  host_sends(frame);
  rig_->poll_device();
  ASSERT_EQ(rig_->rx.used_idx(), 1);
  EXPECT_EQ(rig_->rx.used(0).len, kHdr + 1000);
  std::vector<uint8_t> a(50), b(950);
  ASSERT_TRUE(mem().read(NetRig::kRxBuffers + 0x1000, a));
  ASSERT_TRUE(mem().read(NetRig::kRxBuffers + 0x2000, b));
  a.insert(a.end(), b.begin(), b.end());
  EXPECT_EQ(a, frame);
  EXPECT_EQ(mem().read_obj<uint8_t>(NetRig::kRxBuffers + 0x2000 + 950), 0);  // nothing past it
}

TEST_F(NetDeviceTest, RxFrameLargerThanTheBufferIsDroppedAndCounted) {
  give_rx_buffer(NetRig::kRxBuffers, kHdr + 64);
  host_sends(pattern(100, 1));  // does not fit
  host_sends(pattern(64, 2));   // fits exactly
  rig_->poll_device();
  EXPECT_FALSE(t().failed()) << t().error();
  EXPECT_EQ(stats().rx_dropped, 1u);
  ASSERT_EQ(rig_->rx.used_idx(), 1);  // the same buffer took the second frame
  EXPECT_EQ(rig_->rx.used(0).len, kHdr + 64);
  EXPECT_EQ(mem().read_obj<uint8_t>(NetRig::kRxBuffers + kHdr + 64), 0);
}

TEST_F(NetDeviceTest, NoRxBufferMeansTheWatchedFdGoesQuiet) {
  host_sends(pattern(60, 1));
  // Frames wait in the TAP, but the driver has given no buffer: nothing to poll for.
  EXPECT_FALSE(rig_->watched_fd_readable());
  rig_->poll_device();  // a spurious call does nothing
  EXPECT_EQ(rig_->rx.used_idx(), 0);

  // A buffer arrives: the waiting frame is delivered at once.
  give_rx_buffer(NetRig::kRxBuffers, 2048);
  EXPECT_EQ(rig_->rx.used_idx(), 1);
  EXPECT_EQ(rig_->take_irq(), 1u);
  // No buffer left: a new frame does not wake the loop...
  host_sends(pattern(60, 2));
  EXPECT_FALSE(rig_->watched_fd_readable());
  // ...until the driver gives one.
  give_rx_buffer(NetRig::kRxBuffers + 0x1000, 2048);
  EXPECT_EQ(rig_->rx.used_idx(), 2);
  EXPECT_FALSE(rig_->watched_fd_readable());  // drained, and no buffer left again
}

TEST_F(NetDeviceTest, BuffersWaitingForFramesArmTheWatchedFd) {
  give_rx_buffer(NetRig::kRxBuffers, 2048);
  give_rx_buffer(NetRig::kRxBuffers + 0x1000, 2048);
  EXPECT_FALSE(rig_->watched_fd_readable());  // nothing to read yet
  for (uint8_t i = 0; i < 3; ++i) host_sends(pattern(60, i));
  ASSERT_TRUE(rig_->watched_fd_readable());
  rig_->poll_device();
  EXPECT_EQ(rig_->rx.used_idx(), 2);  // two buffers, two frames; the third waits
  EXPECT_FALSE(rig_->watched_fd_readable());
  give_rx_buffer(NetRig::kRxBuffers + 0x2000, 2048);
  EXPECT_EQ(rig_->rx.used_idx(), 3);
  EXPECT_EQ(stats().rx_frames, 3u);
  EXPECT_EQ(stats().rx_dropped, 0u);
}

TEST_F(NetDeviceTest, FullTapDropsTxFramesWithoutBlocking) {
  // The host never reads: the socket fills up and the device must drop, not wait.
  const int kFrames = 1000;
  for (int i = 0; i < kFrames; ++i) {
    rig_->tx.add_chain({{NetRig::kTxBuffers, kHdr + 1500}});
    t().queue_notify(kTx);
  }
  EXPECT_EQ(rig_->tx.used_idx(), kFrames);
  EXPECT_GT(stats().tx_dropped, 0u);
  EXPECT_EQ(stats().tx_frames + stats().tx_dropped, static_cast<uint64_t>(kFrames));
  EXPECT_FALSE(t().failed());
}

TEST_F(NetDeviceTest, OversizedTxChainIsDroppedAndTheQueueGoesOn) {
  // One byte over Firecracker's MAX_BUFFER_SIZE (header included), in one descriptor and then
  // spread over two, followed by an ordinary frame and one of exactly the maximum.
  constexpr uint32_t kMax = NetDevice::kMaxFrame;
  static_assert(kMax == 65562);
  uint16_t big = rig_->tx.add_chain({{NetRig::kTxBuffers, kMax + 1}});
  rig_->tx.add_chain({{NetRig::kTxBuffers, kHdr}, {NetRig::kTxBuffers + 0x20000, kMax - kHdr + 1}});
  t().queue_notify(kTx);
  EXPECT_FALSE(t().failed()) << t().error();
  EXPECT_TRUE(host_receives().empty()) << "an oversized chain reached the TAP";
  EXPECT_EQ(stats().tx_oversized, 2u);
  EXPECT_EQ(stats().tx_dropped, 2u);
  EXPECT_EQ(stats().tx_frames, 0u);
  ASSERT_EQ(rig_->tx.used_idx(), 2) << "dropped chains are still returned to the driver";
  EXPECT_EQ(rig_->tx.used(0).id, big);
  EXPECT_EQ(rig_->tx.used(0).len, 0u);

  auto frame = pattern(60, 4);
  ASSERT_TRUE(mem().write(NetRig::kTxBuffers + 0x40000 + kHdr, frame));
  rig_->tx.add_chain({{NetRig::kTxBuffers + 0x40000, kHdr + 60}});
  rig_->tx.add_chain({{NetRig::kTxBuffers, kMax}});
  t().queue_notify(kTx);
  auto got = host_receives();
  ASSERT_EQ(got.size(), kHdr + 60);
  EXPECT_EQ(std::vector<uint8_t>(got.begin() + kHdr, got.end()), frame);
  EXPECT_EQ(host_receives().size(), kMax) << "a chain of exactly the maximum is sent";
  EXPECT_EQ(rig_->tx.used_idx(), 4);
  EXPECT_EQ(stats().tx_frames, 2u);
  EXPECT_EQ(stats().tx_oversized, 2u);
  EXPECT_FALSE(t().failed()) << t().error();
}

TEST_F(NetDeviceTest, BatchOfTxChainsInOneNotify) {
  for (int i = 0; i < 10; ++i) rig_->tx.add_chain({{NetRig::kTxBuffers, kHdr + 60}});
  t().queue_notify(kTx);
  EXPECT_EQ(rig_->tx.used_idx(), 10);
  EXPECT_EQ(rig_->take_irq(), 1u);  // one interrupt for the batch
  for (int i = 0; i < 10; ++i) EXPECT_EQ(host_receives().size(), kHdr + 60);
}

TEST_F(NetDeviceTest, TxYieldsToTheLoopAfterItsBudget) {
  // A ring fuller than one budget: the device sends a budget's worth, then asks the loop to
  // call it again (its watched fd turns readable) instead of holding the loop's thread.
  const uint16_t kChains = 3 * NetDevice::kTxBudget + 8;
  for (int i = 0; i < kChains; ++i) rig_->tx.add_chain({{NetRig::kTxBuffers, kHdr + 60}});
  t().queue_notify(kTx);
  EXPECT_EQ(rig_->tx.used_idx(), NetDevice::kTxBudget);
  EXPECT_EQ(rig_->take_irq(), 1u) << "the sent part is reported at once";
  int rounds = 1;
  while (rig_->watched_fd_readable() && rounds < 10) {
    rig_->poll_device();
    ++rounds;
    EXPECT_LE(rig_->tx.used_idx(), rounds * NetDevice::kTxBudget);
  }
  EXPECT_EQ(rounds, 4);
  EXPECT_EQ(rig_->tx.used_idx(), kChains);
  EXPECT_EQ(stats().tx_frames + stats().tx_dropped, kChains);
  EXPECT_FALSE(rig_->watched_fd_readable()) << "nothing left: the loop must not spin";
  EXPECT_FALSE(t().failed()) << t().error();
}

TEST_F(NetDeviceTest, ResetQuietsAPendingTxKick) {
  for (unsigned i = 0; i < NetDevice::kTxBudget + 1; ++i)
    rig_->tx.add_chain({{NetRig::kTxBuffers, kHdr + 60}});
  t().queue_notify(kTx);
  ASSERT_TRUE(rig_->watched_fd_readable());
  rig_->driver->write32(mmio::kStatus, 0);
  EXPECT_FALSE(rig_->watched_fd_readable());
  rig_->poll_device();  // a late call from the loop must not touch the forgotten queues
  EXPECT_EQ(rig_->tx.used_idx(), NetDevice::kTxBudget);
}

TEST_F(NetDeviceTest, TapHangupIsADeviceErrorNotASpin) {
  give_rx_buffer(NetRig::kRxBuffers, 2048);
  peer_.reset();
  ASSERT_TRUE(rig_->watched_fd_readable());
  rig_->poll_device();
  EXPECT_TRUE(t().failed());
  EXPECT_NE(t().error().find("hung up"), std::string::npos) << t().error();
  EXPECT_FALSE(rig_->watched_fd_readable());
}

TEST_F(NetDeviceTest, NothingIsReceivedBeforeDriverOkOrAfterReset) {
  rig_->driver->write32(mmio::kStatus, 0);
  host_sends(pattern(60, 1));
  EXPECT_FALSE(rig_->watched_fd_readable());
  rig_->poll_device();
  EXPECT_EQ(rig_->rx.used_idx(), 0);
}

}  // namespace
}  // namespace berth::vmm::kvm::virtio::test
