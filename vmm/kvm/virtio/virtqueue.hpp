#pragma once
// The device side of one split virtqueue (virtio 1.2 §2.7): the descriptor table, available
// ring and used ring at the guest addresses the driver programmed.
//
// The driver runs concurrently on another CPU. The two indices that hand buffers across are
// the only synchronisation: the available idx is loaded with acquire semantics before the ring
// entries and descriptors it covers are read (§2.7.13.2 pairs it with the driver's write
// barrier), and the used idx is stored with release semantics after the used elements it
// publishes (§2.7.8.2). Both are atomic accesses on the mapped guest memory (__atomic builtins
// on naturally aligned 16-bit words: the rings' alignment was checked at create()).
//
// A Virtqueue is not thread-safe; its owner (MmioTransport) serialises access.
#include <cstdint>
#include <expected>
#include <optional>

#include "vmm/kvm/guest_memory.hpp"
#include "vmm/kvm/virtio/descriptor_chain.hpp"
#include "vmm/kvm/virtio/queue_error.hpp"

namespace berth::vmm::kvm::virtio {

// What the driver wrote to QueueNum and QueueDesc/Driver/Device (§4.2.2).
struct QueueConfig {
  uint32_t size = 0;
  uint64_t desc_table = 0;
  uint64_t avail_ring = 0;  // "driver area"
  uint64_t used_ring = 0;   // "device area"
};

class Virtqueue {
 public:
  // Checks the driver's setup: size a power of two in [1, max_size], each part aligned as §2.7
  // requires and wholly inside guest RAM. `indirect`: VIRTIO_F_INDIRECT_DESC was negotiated.
  static std::expected<Virtqueue, QueueError> create(const GuestMemory& mem,
                                                     const QueueConfig& config, uint16_t max_size,
                                                     bool indirect);

  uint16_t size() const { return size_; }
  const GuestMemory& memory() const { return *mem_; }
  const QueueConfig& config() const { return config_; }

  // The next chain the driver made available, nullopt when there is none. An error means the
  // driver broke a rule; the queue must not be used afterwards.
  std::expected<std::optional<DescriptorChain>, QueueError> pop();

  // Returns chain `head` to the driver with `len` bytes written into its writable buffers, and
  // publishes the new used idx.
  std::expected<void, QueueError> add_used(uint16_t head, uint32_t len);

  // Whether the driver should be interrupted now: true when add_used() ran since the last call
  // and the driver has not set VIRTQ_AVAIL_F_NO_INTERRUPT (§2.7.7; no VIRTIO_F_EVENT_IDX).
  bool take_interrupt();

  // Indices, for tests and logs.
  uint16_t next_avail() const { return next_avail_; }
  uint16_t next_used() const { return next_used_; }

 private:
  Virtqueue(const GuestMemory& mem, const QueueConfig& config, bool indirect)
      : mem_(&mem),
        config_(config),
        size_(static_cast<uint16_t>(config.size)),
        indirect_(indirect) {}

  const GuestMemory* mem_;
  QueueConfig config_;
  uint16_t size_;
  bool indirect_;
  uint16_t next_avail_ = 0;  // the device's last_avail_idx
  uint16_t next_used_ = 0;   // the used idx the device published last
  bool used_since_interrupt_ = false;
};

}  // namespace berth::vmm::kvm::virtio
