#pragma once
// Walking one descriptor chain of a split virtqueue (virtio 1.2 §2.7.5) into the list of guest
// buffers it names, checking every rule a hostile driver could break on the way: indices in
// range, at most as many descriptors as the table has (a loop ends there), every buffer wholly
// inside guest RAM, readable buffers before writable ones, indirect tables only when negotiated
// and never nested. Each descriptor is copied out of guest memory exactly once, so a driver
// changing the table while we walk it cannot make us see two different values.
#include <cstdint>
#include <expected>
#include <span>
#include <vector>

#include "vmm/kvm/guest_memory.hpp"
#include "vmm/kvm/virtio/queue_error.hpp"

namespace berth::vmm::kvm::virtio {

// One buffer of a chain; (addr, len) has been checked to lie inside guest RAM.
struct GuestBuffer {
  uint64_t addr = 0;
  uint32_t len = 0;
};

struct DescriptorChain {
  uint16_t head = 0;  // what goes into the used ring
  std::vector<GuestBuffer> readable;
  std::vector<GuestBuffer> writable;
  uint32_t readable_len = 0;  // readable_len + writable_len fits in 32 bits
  uint32_t writable_len = 0;
};

// The descriptor as it lies in guest memory (§2.7.5, little endian like the host).
struct RawDescriptor {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(RawDescriptor) == 16);

// Walks the chain that starts at `head` in the descriptor table at `table` (queue_size
// entries, already checked to lie in guest memory). `indirect` says whether
// VIRTIO_F_INDIRECT_DESC was negotiated.
std::expected<DescriptorChain, QueueError> read_chain(const GuestMemory& mem, uint64_t table,
                                                      uint16_t queue_size, uint16_t head,
                                                      bool indirect);

// Copies the chain's readable bytes [offset, offset + out.size()) into `out`; returns how many
// were copied (fewer when the chain is shorter).
size_t copy_from_chain(const GuestMemory& mem, const DescriptorChain& chain, uint64_t offset,
                       std::span<uint8_t> out);
// Copies `in` into the chain's writable bytes from `offset` on; returns how many were copied.
size_t copy_to_chain(const GuestMemory& mem, const DescriptorChain& chain, uint64_t offset,
                     std::span<const uint8_t> in);

}  // namespace berth::vmm::kvm::virtio
