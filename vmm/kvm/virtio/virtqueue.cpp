#include "vmm/kvm/virtio/virtqueue.hpp"

#include <bit>
#include <string>

#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio {

namespace {

std::unexpected<QueueError> fail(Violation rule, std::string detail) {
  return std::unexpected(QueueError{rule, std::move(detail)});
}

// Host pointer to the aligned 16-bit word at `gpa`, or nullptr when it is not in guest RAM.
// create() checked the rings, so nullptr only happens if a caller passes a wrong address.
uint16_t* word(const GuestMemory& mem, uint64_t gpa) {
  auto s = mem.slice(gpa, sizeof(uint16_t));
  return s ? reinterpret_cast<uint16_t*>(s->data()) : nullptr;
}

}  // namespace

std::expected<Virtqueue, QueueError> Virtqueue::create(const GuestMemory& mem, const QueueConfig& c,
                                                       uint16_t max_size, bool indirect) {
  if (c.size == 0 || !std::has_single_bit(c.size) || c.size > max_size || c.size > kMaxQueueSize)
    return fail(Violation::kQueueSize, "queue size " + std::to_string(c.size) +
                                           " is not a power of two in [1, " +
                                           std::to_string(max_size) + "]");
  struct Part {
    const char* name;
    uint64_t addr, align, bytes;
  };
  const Part parts[] = {
      {"descriptor table", c.desc_table, kDescAlign, desc_table_bytes(c.size)},
      {"available ring", c.avail_ring, kAvailAlign, avail_ring_bytes(c.size)},
      {"used ring", c.used_ring, kUsedAlign, used_ring_bytes(c.size)},
  };
  for (const auto& p : parts) {
    if (p.addr % p.align != 0)
      return fail(Violation::kRingMisaligned, std::string(p.name) + " at " + hex(p.addr) +
                                                  " is not " + std::to_string(p.align) +
                                                  "-byte aligned");
    if (!mem.slice(p.addr, p.bytes))
      return fail(Violation::kRingOutsideMemory, std::string(p.name) + " [" + hex(p.addr) + ", +" +
                                                     std::to_string(p.bytes) +
                                                     ") is not in guest memory");
  }
  return Virtqueue(mem, c, indirect);
}

std::expected<std::optional<DescriptorChain>, QueueError> Virtqueue::pop() {
  uint16_t* avail_idx = word(*mem_, config_.avail_ring + 2);
  if (!avail_idx) return fail(Violation::kRingOutsideMemory, "available idx unreadable");
  // Acquire: the ring entry and descriptors below were written before the driver published idx.
  uint16_t idx = __atomic_load_n(avail_idx, __ATOMIC_ACQUIRE);
  uint16_t pending = static_cast<uint16_t>(idx - next_avail_);
  if (pending == 0) return std::nullopt;
  // Firecracker's InvalidAvailIdx: the driver cannot have more chains outstanding than entries.
  if (pending > size_)
    return fail(Violation::kAvailIdxJump, "available idx " + std::to_string(idx) + " is " +
                                              std::to_string(pending) + " ahead of " +
                                              std::to_string(next_avail_) + ", queue size " +
                                              std::to_string(size_));
  auto head = mem_->read_obj<uint16_t>(config_.avail_ring + 4 + 2ull * (next_avail_ % size_));
  if (!head) return fail(Violation::kRingOutsideMemory, "available ring entry unreadable");
  auto chain = read_chain(*mem_, config_.desc_table, size_, *head, indirect_);
  if (!chain) return std::unexpected(chain.error());
  ++next_avail_;
  return std::optional<DescriptorChain>(std::move(*chain));
}

std::expected<void, QueueError> Virtqueue::add_used(uint16_t head, uint32_t len) {
  if (head >= size_)
    return fail(Violation::kDescIndexOutOfRange, "used head " + std::to_string(head));
  struct UsedElem {
    uint32_t id;
    uint32_t len;
  } elem{head, len};
  uint64_t slot = config_.used_ring + 4 + 8ull * (next_used_ % size_);
  if (!mem_->write_obj(slot, elem))
    return fail(Violation::kUsedRingWrite, "used element at " + hex(slot));
  uint16_t* used_idx = word(*mem_, config_.used_ring + 2);
  if (!used_idx) return fail(Violation::kUsedRingWrite, "used idx at " + hex(config_.used_ring));
  ++next_used_;
  // Release: the element above is visible before the driver can see the new idx.
  __atomic_store_n(used_idx, next_used_, __ATOMIC_RELEASE);
  used_since_interrupt_ = true;
  return {};
}

bool Virtqueue::take_interrupt() {
  if (!used_since_interrupt_) return false;
  used_since_interrupt_ = false;
  // Full barrier between publishing used idx and reading the driver's flags, so that a driver
  // that clears NO_INTERRUPT and then checks used idx cannot miss both (§2.7.10).
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint16_t* flags = word(*mem_, config_.avail_ring);
  if (!flags) return true;
  return !(__atomic_load_n(flags, __ATOMIC_RELAXED) & kAvailFNoInterrupt);
}

}  // namespace berth::vmm::kvm::virtio
