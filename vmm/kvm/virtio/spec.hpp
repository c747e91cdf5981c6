#pragma once
// Numbers from the virtio 1.2 specification that more than one file needs: device status bits
// (§2.1), feature bits (§6, §5.1.3), the split virtqueue layout (§2.7) and the virtio-mmio
// register map (§4.2.2). Nothing here has behaviour.
#include <cstdint>

namespace berth::vmm::kvm::virtio {

// §2.1 Device Status Field.
namespace status {
inline constexpr uint32_t kAcknowledge = 1;
inline constexpr uint32_t kDriver = 2;
inline constexpr uint32_t kDriverOk = 4;
inline constexpr uint32_t kFeaturesOk = 8;
inline constexpr uint32_t kDeviceNeedsReset = 64;
inline constexpr uint32_t kFailed = 128;
}  // namespace status

// Feature bits, as bit numbers (§6 reserved bits; §5.1.3 network device).
namespace feature {
inline constexpr unsigned kIndirectDesc = 28;  // VIRTIO_F_INDIRECT_DESC
inline constexpr unsigned kEventIdx = 29;      // VIRTIO_F_EVENT_IDX (not offered)
inline constexpr unsigned kVersion1 = 32;      // VIRTIO_F_VERSION_1
inline constexpr unsigned kNetMac = 5;         // VIRTIO_NET_F_MAC
inline constexpr unsigned kNetStatus = 16;     // VIRTIO_NET_F_STATUS
inline constexpr unsigned kNetMrgRxbuf = 15;   // VIRTIO_NET_F_MRG_RXBUF (not offered)
constexpr uint64_t bit(unsigned n) {
  return uint64_t{1} << n;
}
}  // namespace feature

// §5 Device Types.
inline constexpr uint32_t kDeviceIdNet = 1;

// §2.7.5 The Virtqueue Descriptor Table.
inline constexpr uint16_t kDescFNext = 1;
inline constexpr uint16_t kDescFWrite = 2;
inline constexpr uint16_t kDescFIndirect = 4;
inline constexpr uint64_t kDescSize = 16;
// §2.7.6 The Virtqueue Available Ring; §2.7.8 The Virtqueue Used Ring.
inline constexpr uint16_t kAvailFNoInterrupt = 1;
// Alignment of the three parts (§2.7, table "Virtqueue Part Alignment Size").
inline constexpr uint64_t kDescAlign = 16;
inline constexpr uint64_t kAvailAlign = 2;
inline constexpr uint64_t kUsedAlign = 4;
// Sizes in bytes of the three parts for a queue of n entries (flags, idx, ring, and the event
// word that exists in memory whether or not VIRTIO_F_EVENT_IDX is negotiated).
constexpr uint64_t desc_table_bytes(uint64_t n) {
  return kDescSize * n;
}
constexpr uint64_t avail_ring_bytes(uint64_t n) {
  return 6 + 2 * n;
}
constexpr uint64_t used_ring_bytes(uint64_t n) {
  return 6 + 8 * n;
}
// §2.7: a split virtqueue has at most 32768 entries.
inline constexpr uint32_t kMaxQueueSize = 32768;

// §4.2.2 MMIO Device Register Layout (Version 2, no legacy registers).
namespace mmio {
inline constexpr uint32_t kMagic = 0x74726976;  // "virt", little endian
inline constexpr uint32_t kVersion = 2;
inline constexpr uint32_t kVendorId = 0x48544542;  // "BETH": any value; Linux only prints it
inline constexpr uint64_t kMagicValue = 0x000;
inline constexpr uint64_t kVersionReg = 0x004;
inline constexpr uint64_t kDeviceId = 0x008;
inline constexpr uint64_t kVendorIdReg = 0x00c;
inline constexpr uint64_t kDeviceFeatures = 0x010;
inline constexpr uint64_t kDeviceFeaturesSel = 0x014;
inline constexpr uint64_t kDriverFeatures = 0x020;
inline constexpr uint64_t kDriverFeaturesSel = 0x024;
inline constexpr uint64_t kQueueSel = 0x030;
inline constexpr uint64_t kQueueNumMax = 0x034;
inline constexpr uint64_t kQueueNum = 0x038;
inline constexpr uint64_t kQueueReady = 0x044;
inline constexpr uint64_t kQueueNotify = 0x050;
inline constexpr uint64_t kInterruptStatus = 0x060;
inline constexpr uint64_t kInterruptAck = 0x064;
inline constexpr uint64_t kStatus = 0x070;
inline constexpr uint64_t kQueueDescLow = 0x080;
inline constexpr uint64_t kQueueDescHigh = 0x084;
inline constexpr uint64_t kQueueDriverLow = 0x090;
inline constexpr uint64_t kQueueDriverHigh = 0x094;
inline constexpr uint64_t kQueueDeviceLow = 0x0a0;
inline constexpr uint64_t kQueueDeviceHigh = 0x0a4;
inline constexpr uint64_t kShmSel = 0x0ac;
inline constexpr uint64_t kShmLenLow = 0x0b0;
inline constexpr uint64_t kShmLenHigh = 0x0b4;
inline constexpr uint64_t kShmBaseLow = 0x0b8;
inline constexpr uint64_t kShmBaseHigh = 0x0bc;
inline constexpr uint64_t kConfigGeneration = 0x0fc;
inline constexpr uint64_t kConfig = 0x100;
inline constexpr uint64_t kWindowSize = 0x1000;  // what the monitor maps per device
// InterruptStatus bits (§4.2.2).
inline constexpr uint32_t kIntUsedBuffer = 1;
inline constexpr uint32_t kIntConfigChange = 2;
}  // namespace mmio

}  // namespace berth::vmm::kvm::virtio
