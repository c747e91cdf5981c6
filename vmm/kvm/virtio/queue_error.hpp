#pragma once
// What a hostile or broken driver can do wrong to a virtqueue, one value per rule the device
// enforces. Each ends the queue's processing with the device in DEVICE_NEEDS_RESET (virtio 1.2
// §2.1.1); the message names the rule so that a log line says which one the guest broke.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace berth::vmm::kvm::virtio {

enum class Violation : uint8_t {
  kQueueSize,              // QueueNum 0, not a power of two, or above QueueNumMax
  kRingOutsideMemory,      // descriptor table / available / used ring not wholly in guest RAM
  kRingMisaligned,         // ring address not aligned as §2.7 requires
  kAvailIdxJump,           // available idx more than the queue size ahead of the device
  kDescIndexOutOfRange,    // head or next index >= queue size (or indirect table length)
  kChainTooLong,           // more descriptors than the queue size: a loop
  kBufferOutsideMemory,    // (addr, len) not wholly in guest RAM, or overflowing
  kReadableAfterWritable,  // §2.7.4.2: device-readable descriptors must come first
  kWritableWhereReadable,  // a device-writable descriptor where the device reads (e.g. net TX)
  kReadableWhereWritable,  // a device-readable descriptor where the device writes (e.g. net RX)
  kZeroLengthChain,        // a chain with no bytes at all
  kIndirectNotNegotiated,  // VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC
  kBadIndirectTable,       // nested indirect, NEXT with INDIRECT, length not a multiple of 16
  kChainTooLarge,          // total bytes of one chain past 4 GiB - 1 (used.len is 32 bits)
  kChainTooShort,          // shorter than a header the device type requires
  kUsedRingWrite,          // the used ring could not be written
};

constexpr std::string_view rule_name(Violation v) {
  switch (v) {
    case Violation::kQueueSize:
      return "invalid queue size";
    case Violation::kRingOutsideMemory:
      return "ring outside guest memory";
    case Violation::kRingMisaligned:
      return "misaligned ring";
    case Violation::kAvailIdxJump:
      return "available index jumped past the queue size";
    case Violation::kDescIndexOutOfRange:
      return "descriptor index out of range";
    case Violation::kChainTooLong:
      return "descriptor chain longer than the queue (loop)";
    case Violation::kBufferOutsideMemory:
      return "buffer outside guest memory";
    case Violation::kReadableAfterWritable:
      return "device-readable descriptor after a writable one";
    case Violation::kWritableWhereReadable:
      return "device-writable descriptor where readable required";
    case Violation::kReadableWhereWritable:
      return "device-readable descriptor where writable required";
    case Violation::kZeroLengthChain:
      return "zero-length descriptor chain";
    case Violation::kIndirectNotNegotiated:
      return "indirect descriptor not negotiated";
    case Violation::kBadIndirectTable:
      return "invalid indirect descriptor table";
    case Violation::kChainTooLarge:
      return "descriptor chain too large";
    case Violation::kChainTooShort:
      return "descriptor chain shorter than the device header";
    case Violation::kUsedRingWrite:
      return "used ring not writable";
  }
  return "unknown violation";
}

// "0x1f000": guest addresses in messages.
inline std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

struct QueueError {
  Violation rule;
  std::string detail;
  // "<rule>: <detail>"
  std::string message() const { return std::string(rule_name(rule)) + ": " + detail; }
};

}  // namespace berth::vmm::kvm::virtio
