#include "vmm/kvm/virtio/descriptor_chain.hpp"

#include <algorithm>
#include <string>

#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio {

namespace {

std::unexpected<QueueError> fail(Violation rule, std::string detail) {
  return std::unexpected(QueueError{rule, std::move(detail)});
}

}  // namespace

std::expected<DescriptorChain, QueueError> read_chain(const GuestMemory& mem, uint64_t table,
                                                      uint16_t queue_size, uint16_t head,
                                                      bool indirect) {
  if (head >= queue_size)
    return fail(Violation::kDescIndexOutOfRange,
                "head " + std::to_string(head) + " >= queue size " + std::to_string(queue_size));
  DescriptorChain chain;
  chain.head = head;
  uint64_t table_addr = table;
  uint32_t table_len = queue_size;  // entries in the table being walked
  bool in_indirect = false;
  uint32_t index = head;
  // The TTL of vm-virtio's chain.rs: a chain has at most as many descriptors as its table, so a
  // driver that links descriptors into a cycle is caught after table_len steps.
  uint32_t ttl = table_len;
  uint64_t total = 0;
  for (;;) {
    if (ttl == 0)
      return fail(Violation::kChainTooLong, "more than " + std::to_string(table_len) +
                                                " descriptors starting at head " +
                                                std::to_string(head));
    --ttl;
    auto desc = mem.read_obj<RawDescriptor>(table_addr + uint64_t{index} * kDescSize);
    if (!desc)  // the tables were checked when the queue / indirect descriptor was accepted
      return fail(Violation::kRingOutsideMemory,
                  "descriptor " + std::to_string(index) + " at " + hex(table_addr) + " unreadable");
    if (desc->flags & kDescFIndirect) {
      // §2.7.5.3: one level only, not combined with NEXT, a whole number of descriptors.
      if (!indirect)
        return fail(Violation::kIndirectNotNegotiated,
                    "descriptor " + std::to_string(index) + " has VIRTQ_DESC_F_INDIRECT");
      if (in_indirect)
        return fail(Violation::kBadIndirectTable,
                    "nested indirect table in descriptor " + std::to_string(index));
      if (desc->flags & kDescFNext)
        return fail(Violation::kBadIndirectTable,
                    "descriptor " + std::to_string(index) + " has both INDIRECT and NEXT");
      if (desc->len == 0 || desc->len % kDescSize != 0)
        return fail(Violation::kBadIndirectTable, "indirect table length " +
                                                      std::to_string(desc->len) +
                                                      " is not a non-zero multiple of 16");
      uint32_t entries = desc->len / kDescSize;
      // §2.7.5.3.1: a driver must not create a chain longer than the queue size, indirect
      // tables included.
      if (entries > queue_size)
        return fail(Violation::kBadIndirectTable,
                    "indirect table of " + std::to_string(entries) +
                        " descriptors is longer than the queue size " + std::to_string(queue_size));
      if (!mem.slice(desc->addr, desc->len))
        return fail(Violation::kBufferOutsideMemory, "indirect table [" + hex(desc->addr) + ", +" +
                                                         std::to_string(desc->len) +
                                                         ") is not in guest memory");
      table_addr = desc->addr;
      table_len = entries;
      in_indirect = true;
      index = 0;
      ttl = entries;
      continue;
    }
    if (!mem.slice(desc->addr, desc->len))
      return fail(Violation::kBufferOutsideMemory,
                  "descriptor " + std::to_string(index) + " buffer [" + hex(desc->addr) + ", +" +
                      std::to_string(desc->len) + ") is not in guest memory");
    total += desc->len;  // at most 2 * 32768 descriptors of < 4 GiB: no 64-bit overflow
    if (total > UINT32_MAX)
      return fail(Violation::kChainTooLarge,
                  "chain at head " + std::to_string(head) + " holds more than 4 GiB - 1 bytes");
    if (desc->flags & kDescFWrite) {
      chain.writable.push_back({desc->addr, desc->len});
      chain.writable_len += desc->len;
    } else {
      if (!chain.writable.empty())
        return fail(Violation::kReadableAfterWritable, "descriptor " + std::to_string(index) +
                                                           " is device-readable but follows a "
                                                           "device-writable one");
      chain.readable.push_back({desc->addr, desc->len});
      chain.readable_len += desc->len;
    }
    if (!(desc->flags & kDescFNext)) break;
    if (desc->next >= table_len)
      return fail(Violation::kDescIndexOutOfRange,
                  "next " + std::to_string(desc->next) + " of descriptor " + std::to_string(index) +
                      " >= table size " + std::to_string(table_len));
    index = desc->next;
  }
  if (total == 0)
    return fail(Violation::kZeroLengthChain,
                "chain at head " + std::to_string(head) + " has no bytes");
  return chain;
}

namespace {

// Walks `buffers` from byte `offset` on, calling op(gpa, position in the caller's span, len).
template <class Op>
size_t for_each_range(std::span<const GuestBuffer> buffers, uint64_t offset, size_t want, Op op) {
  size_t done = 0;
  for (const auto& b : buffers) {
    if (done == want) break;
    if (offset >= b.len) {
      offset -= b.len;
      continue;
    }
    size_t n = std::min<uint64_t>(b.len - offset, want - done);
    if (!op(b.addr + offset, done, n)) break;
    done += n;
    offset = 0;
  }
  return done;
}

}  // namespace

size_t copy_from_chain(const GuestMemory& mem, const DescriptorChain& chain, uint64_t offset,
                       std::span<uint8_t> out) {
  return for_each_range(
      chain.readable, offset, out.size(),
      [&](uint64_t gpa, size_t pos, size_t n) { return mem.read(gpa, out.subspan(pos, n)); });
}

size_t copy_to_chain(const GuestMemory& mem, const DescriptorChain& chain, uint64_t offset,
                     std::span<const uint8_t> in) {
  return for_each_range(chain.writable, offset, in.size(), [&](uint64_t gpa, size_t pos, size_t n) {
    return mem.write(gpa, in.subspan(pos, n));
  });
}

}  // namespace berth::vmm::kvm::virtio
