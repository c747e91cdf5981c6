#pragma once
// The guest side of the virtio tests: a driver-side model of a split virtqueue that lays out
// descriptor tables and rings in GuestMemory the way a guest driver does (virtio-queue's
// mock.rs plays the same part), a driver for the MMIO register window, and a rig that puts a
// virtio-net device behind an MmioTransport and brings it up like Linux's virtio_mmio +
// virtio_net would.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "vmm/kvm/guest_memory.hpp"
#include "vmm/kvm/unique_fd.hpp"
#include "vmm/kvm/virtio/descriptor_chain.hpp"
#include "vmm/kvm/virtio/mmio_transport.hpp"
#include "vmm/kvm/virtio/net_device.hpp"
#include "vmm/kvm/virtio/virtqueue.hpp"

namespace berth::vmm::kvm::virtio::test {

struct Segment {
  uint64_t addr;
  uint32_t len;
  bool writable = false;
};

struct UsedElem {
  uint32_t id;
  uint32_t len;
};

class TestQueue {
 public:
  // Descriptor table at `base`, available ring right after it, used ring at the next 4 KiB.
  TestQueue(const GuestMemory& mem, uint16_t size, uint64_t base);

  QueueConfig config() const { return config_; }
  uint16_t size() const { return size_; }

  void write_desc(uint16_t index, const RawDescriptor& d) const;
  void write_desc_at(uint64_t table, uint16_t index, const RawDescriptor& d) const;
  // Puts `head` in the next available slot and publishes avail idx + 1 (release).
  void publish(uint16_t head);
  void set_avail_idx(uint16_t idx);
  void set_avail_flags(uint16_t flags) const;
  uint16_t avail_idx() const { return avail_idx_; }
  uint16_t used_idx() const;
  UsedElem used(uint16_t slot) const;
  // Writes the segments into the next free descriptors as one NEXT-linked chain, publishes
  // it and returns its head.
  uint16_t add_chain(std::initializer_list<Segment> segs);

 private:
  const GuestMemory* mem_;  // a pointer, so that a test can assign a fresh TestQueue
  uint16_t size_;
  QueueConfig config_;
  uint16_t avail_idx_ = 0;
  uint16_t next_free_ = 0;
};

// Register access to an MmioTransport as a driver on a vCPU would do it.
class MmioDriver {
 public:
  explicit MmioDriver(MmioTransport& t) : t_(t) {}
  uint32_t read32(uint64_t offset) const;
  void write32(uint64_t offset, uint32_t value) const;
  uint64_t device_features() const;
  // ACKNOWLEDGE, DRIVER, DriverFeatures, FEATURES_OK; true when FEATURES_OK reads back set.
  bool negotiate(uint64_t features) const;
  void setup_queue(uint16_t queue, const QueueConfig& c) const;
  void driver_ok() const;
  uint32_t status() const;

 private:
  MmioTransport& t_;
};

inline constexpr MacAddress kGuestMac = {0x02, 0x42, 0xbe, 0x27, 0x00, 0x02};

// virtio-net over `tap` (a TAP or a socketpair end) behind an MmioTransport on 16 MiB of guest
// memory, with an irq eventfd. RX queue rings at 0x10000, TX at 0x20000 (256 entries each);
// RX buffers from 0x100000, TX buffers from 0x400000.
struct NetRig {
  explicit NetRig(UniqueFd tap);
  // Negotiates VERSION_1 | MAC | STATUS (+ INDIRECT_DESC), sets up both queues, DRIVER_OK.
  void bring_up(bool indirect = false);
  // Eventfd counter (0 when the device did not interrupt since the last call).
  uint64_t take_irq() const;
  // The watched fds' handlers, as the monitor's loop would call them when readable.
  void poll_device() const;
  // Whether any watched fd is readable (the loop would call the device).
  bool watched_fd_readable() const;

  GuestMemory mem;
  UniqueFd irq;
  std::shared_ptr<const NetStats> stats;
  std::unique_ptr<MmioTransport> transport;
  std::unique_ptr<MmioDriver> driver;
  TestQueue rx;
  TestQueue tx;
  static constexpr uint64_t kRxBuffers = 0x100000;
  static constexpr uint64_t kTxBuffers = 0x400000;
};

// A NetRig over one end of a SOCK_SEQPACKET socketpair standing in for the TAP (one frame per
// read/write, like a TAP with IFF_VNET_HDR); peer_ is the host's end. Not brought up.
class NetRigTest : public ::testing::Test {
 protected:
  void SetUp() override;

  UniqueFd peer_;
  std::unique_ptr<NetRig> rig_;
};

// Number of open fds of this process.
size_t open_fd_count();

}  // namespace berth::vmm::kvm::virtio::test
