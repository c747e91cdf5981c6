#include "tests/fuzz/guest_side.hpp"

#include <sys/mman.h>

#include "tests/fuzz/fuzz_support.hpp"
#include "vmm/kvm/virtio/spec.hpp"

namespace berth::fuzz {

uint64_t memory_size(uint8_t choice) {
  return choice & 1 ? kvm::kMmioGapStart + (1u << 20) : 1u << 20;
}

FuzzMemory::FuzzMemory(uint64_t size) {
  auto m = kvm::GuestMemory::create(size);
  FUZZ_CHECK(m.has_value());  // an mmap failure is the host's problem, not a finding
  mem_ = std::move(*m);
  constexpr uint64_t kPage = 4096;
  for (const auto& r : mem_.regions()) {
    madvise(r.host, r.size, MADV_NOHUGEPAGE);
    auto host = reinterpret_cast<uintptr_t>(r.host);
    for (uintptr_t addr : {host - kPage, host + r.size}) {
      // MAP_FIXED_NOREPLACE: never over an existing mapping; where one is there, no guard.
      void* at = reinterpret_cast<void*>(addr);
      void* g =
          mmap(at, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      if (g == MAP_FAILED) continue;
      if (g != at) {  // a kernel older than 4.17 takes the flag as a hint only
        munmap(g, kPage);
        continue;
      }
      guards_.push_back(g);
    }
  }
}

FuzzMemory::~FuzzMemory() {
  for (void* g : guards_) munmap(g, 4096);
}

virtio::QueueConfig DriverQueue::layout(uint16_t size, uint64_t base) {
  virtio::QueueConfig c;
  c.size = size;
  c.desc_table = base;
  c.avail_ring = base + virtio::desc_table_bytes(size);
  c.used_ring = (c.avail_ring + virtio::avail_ring_bytes(size) + 0xfff) & ~0xfffull;
  return c;
}

void DriverQueue::write_desc(uint32_t index, const virtio::RawDescriptor& d) const {
  mem_->write_obj(config_.desc_table + virtio::kDescSize * index, d);
}

void DriverQueue::publish(uint16_t head) {
  uint32_t size = config_.size == 0 ? 1 : config_.size;
  mem_->write_obj<uint16_t>(config_.avail_ring + 4 + 2ull * (avail_idx_ % size), head);
  ++avail_idx_;
  if (auto s = mem_->slice(config_.avail_ring + 2, 2); s && config_.avail_ring % 2 == 0)
    __atomic_store_n(reinterpret_cast<uint16_t*>(s->data()), avail_idx_, __ATOMIC_RELEASE);
}

uint16_t DriverQueue::used_idx() const {
  auto s = mem_->slice(config_.used_ring + 2, 2);
  if (!s || config_.used_ring % 2 != 0) return 0xffff;
  return __atomic_load_n(reinterpret_cast<uint16_t*>(s->data()), __ATOMIC_ACQUIRE);
}

uint32_t read32(virtio::MmioTransport& t, uint64_t offset) {
  uint32_t v = 0;
  t.read(offset, {reinterpret_cast<uint8_t*>(&v), sizeof v});
  return v;
}

void write32(virtio::MmioTransport& t, uint64_t offset, uint32_t value) {
  t.write(offset, {reinterpret_cast<const uint8_t*>(&value), sizeof value});
}

void bring_up(virtio::MmioTransport& t, uint64_t features,
              std::span<const virtio::QueueConfig> queues) {
  namespace mmio = virtio::mmio;
  namespace st = virtio::status;
  write32(t, mmio::kStatus, 0);
  write32(t, mmio::kStatus, st::kAcknowledge);
  write32(t, mmio::kStatus, st::kAcknowledge | st::kDriver);
  write32(t, mmio::kDriverFeaturesSel, 0);
  write32(t, mmio::kDriverFeatures, static_cast<uint32_t>(features));
  write32(t, mmio::kDriverFeaturesSel, 1);
  write32(t, mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
  write32(t, mmio::kStatus, st::kAcknowledge | st::kDriver | st::kFeaturesOk);
  for (size_t q = 0; q < queues.size(); ++q) {
    const auto& c = queues[q];
    write32(t, mmio::kQueueSel, static_cast<uint32_t>(q));
    write32(t, mmio::kQueueNum, c.size);
    write32(t, mmio::kQueueDescLow, static_cast<uint32_t>(c.desc_table));
    write32(t, mmio::kQueueDescHigh, static_cast<uint32_t>(c.desc_table >> 32));
    write32(t, mmio::kQueueDriverLow, static_cast<uint32_t>(c.avail_ring));
    write32(t, mmio::kQueueDriverHigh, static_cast<uint32_t>(c.avail_ring >> 32));
    write32(t, mmio::kQueueDeviceLow, static_cast<uint32_t>(c.used_ring));
    write32(t, mmio::kQueueDeviceHigh, static_cast<uint32_t>(c.used_ring >> 32));
    write32(t, mmio::kQueueReady, 1);
  }
  write32(t, mmio::kStatus, read32(t, mmio::kStatus) | st::kDriverOk);
}

}  // namespace berth::fuzz
