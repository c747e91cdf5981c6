#include "tests/unit/virtio/test_driver.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio::test {

TestQueue::TestQueue(const GuestMemory& mem, uint16_t size, uint64_t base)
    : mem_(&mem), size_(size) {
  config_.size = size;
  config_.desc_table = base;
  config_.avail_ring = base + desc_table_bytes(size);
  config_.used_ring = (config_.avail_ring + avail_ring_bytes(size) + 0xfff) & ~0xfffull;
}

void TestQueue::write_desc(uint16_t index, const RawDescriptor& d) const {
  write_desc_at(config_.desc_table, index, d);
}

void TestQueue::write_desc_at(uint64_t table, uint16_t index, const RawDescriptor& d) const {
  ASSERT_TRUE(mem_->write_obj(table + 16ull * index, d));
}

void TestQueue::publish(uint16_t head) {
  ASSERT_TRUE(
      mem_->write_obj<uint16_t>(config_.avail_ring + 4 + 2ull * (avail_idx_ % size_), head));
  set_avail_idx(static_cast<uint16_t>(avail_idx_ + 1));
}

void TestQueue::set_avail_idx(uint16_t idx) {
  avail_idx_ = idx;
  auto s = mem_->slice(config_.avail_ring + 2, 2);
  ASSERT_TRUE(s);
  __atomic_store_n(reinterpret_cast<uint16_t*>(s->data()), idx, __ATOMIC_RELEASE);
}

void TestQueue::set_avail_flags(uint16_t flags) const {
  ASSERT_TRUE(mem_->write_obj(config_.avail_ring, flags));
}

uint16_t TestQueue::used_idx() const {
  auto s = mem_->slice(config_.used_ring + 2, 2);
  return s ? __atomic_load_n(reinterpret_cast<uint16_t*>(s->data()), __ATOMIC_ACQUIRE) : 0xffff;
}

UsedElem TestQueue::used(uint16_t slot) const {
  return mem_->read_obj<UsedElem>(config_.used_ring + 4 + 8ull * (slot % size_))
      .value_or(UsedElem{~0u, ~0u});
}

uint16_t TestQueue::add_chain(std::initializer_list<Segment> segs) {
  uint16_t head = next_free_;
  size_t i = 0;
  for (const auto& s : segs) {
    uint16_t index = next_free_;
    next_free_ = static_cast<uint16_t>((next_free_ + 1) % size_);
    bool last = ++i == segs.size();
    uint16_t flags =
        static_cast<uint16_t>((s.writable ? kDescFWrite : 0) | (last ? 0 : kDescFNext));
    write_desc(index, {s.addr, s.len, flags, last ? uint16_t{0} : next_free_});
  }
  publish(head);
  return head;
}

uint32_t MmioDriver::read32(uint64_t offset) const {
  uint32_t v = 0;
  t_.read(offset, {reinterpret_cast<uint8_t*>(&v), 4});
  return v;
}

void MmioDriver::write32(uint64_t offset, uint32_t value) const {
  t_.write(offset, {reinterpret_cast<const uint8_t*>(&value), 4});
}

uint64_t MmioDriver::device_features() const {
  write32(mmio::kDeviceFeaturesSel, 0);
  uint64_t lo = read32(mmio::kDeviceFeatures);
  write32(mmio::kDeviceFeaturesSel, 1);
  uint64_t hi = read32(mmio::kDeviceFeatures);
  return lo | hi << 32;
}

bool MmioDriver::negotiate(uint64_t features) const {
  write32(mmio::kStatus, status::kAcknowledge);
  write32(mmio::kStatus, status::kAcknowledge | status::kDriver);
  write32(mmio::kDriverFeaturesSel, 0);
  write32(mmio::kDriverFeatures, static_cast<uint32_t>(features));
  write32(mmio::kDriverFeaturesSel, 1);
  write32(mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
  write32(mmio::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
  return status() & status::kFeaturesOk;
}

void MmioDriver::setup_queue(uint16_t queue, const QueueConfig& c) const {
  write32(mmio::kQueueSel, queue);
  write32(mmio::kQueueNum, c.size);
  write32(mmio::kQueueDescLow, static_cast<uint32_t>(c.desc_table));
  write32(mmio::kQueueDescHigh, static_cast<uint32_t>(c.desc_table >> 32));
  write32(mmio::kQueueDriverLow, static_cast<uint32_t>(c.avail_ring));
  write32(mmio::kQueueDriverHigh, static_cast<uint32_t>(c.avail_ring >> 32));
  write32(mmio::kQueueDeviceLow, static_cast<uint32_t>(c.used_ring));
  write32(mmio::kQueueDeviceHigh, static_cast<uint32_t>(c.used_ring >> 32));
  write32(mmio::kQueueReady, 1);
}

void MmioDriver::driver_ok() const {
  write32(mmio::kStatus, status() | status::kDriverOk);
}

uint32_t MmioDriver::status() const {
  return read32(mmio::kStatus);
}

NetRig::NetRig(UniqueFd tap)
    : mem(GuestMemory::create(16 << 20).value()),
      irq(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      rx(mem, NetDevice::kQueueSize, 0x10000),
      tx(mem, NetDevice::kQueueSize, 0x20000) {
  auto dev = NetDevice::create(std::move(tap), kGuestMac);
  EXPECT_TRUE(dev) << dev.error();
  if (!dev) return;
  stats = (*dev)->stats();
  transport = std::make_unique<MmioTransport>(mem, std::move(*dev), irq.get());
  driver = std::make_unique<MmioDriver>(*transport);
}

void NetRig::bring_up(bool indirect) {
  ASSERT_TRUE(transport);
  uint64_t f = feature::bit(feature::kVersion1) | feature::bit(feature::kNetMac) |
               feature::bit(feature::kNetStatus);
  if (indirect) f |= feature::bit(feature::kIndirectDesc);
  ASSERT_TRUE(driver->negotiate(f));
  driver->setup_queue(NetDevice::kRxQueue, rx.config());
  driver->setup_queue(NetDevice::kTxQueue, tx.config());
  driver->driver_ok();
  ASSERT_EQ(driver->status(),
            status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk)
      << transport->error();
}

uint64_t NetRig::take_irq() const {
  uint64_t v = 0;
  if (::read(irq.get(), &v, sizeof v) != sizeof v) return 0;
  return v;
}

void NetRig::poll_device() const {
  for (auto& w : transport->watched_fds()) w.on_readable();
}

bool NetRig::watched_fd_readable() const {
  std::vector<pollfd> p;
  for (auto& w : transport->watched_fds()) p.push_back({w.fd, POLLIN, 0});
  if (::poll(p.data(), p.size(), 0) <= 0) return false;
  return std::any_of(p.begin(), p.end(), [](const pollfd& x) { return x.revents & POLLIN; });
}

void NetRigTest::SetUp() {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  peer_.reset(sv[1]);
  rig_ = std::make_unique<NetRig>(UniqueFd(sv[0]));
  ASSERT_TRUE(rig_->transport);
}

size_t open_fd_count() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

}  // namespace berth::vmm::kvm::virtio::test
