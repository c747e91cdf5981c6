#pragma once
// The guest's side in the virtio fuzz targets: guest memory that faults on an access past its
// regions, a driver's view of one split virtqueue, and register access to an MmioTransport.
// Like tests/unit/virtio/test_driver.hpp, but without GoogleTest, and laying out whatever the
// fuzzer asks for, valid or not.
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/kvm/guest_memory.hpp"
#include "vmm/kvm/virtio/descriptor_chain.hpp"
#include "vmm/kvm/virtio/mmio_transport.hpp"
#include "vmm/kvm/virtio/virtqueue.hpp"

namespace berth::fuzz {

namespace kvm = berth::vmm::kvm;
namespace virtio = berth::vmm::kvm::virtio;

// 1 MiB in one region, or (odd `choice`) 3 GiB + 1 MiB: a low region ending at the MMIO gap and
// 1 MiB from 4 GiB, so rings and buffers can straddle the gap. Only touched pages cost anything.
uint64_t memory_size(uint8_t choice);

// GuestMemory::create(), plus a PROT_NONE guard page before and after each region where that
// address is free: a read or write past a region's end then faults (a crash the fuzzer sees)
// instead of landing in a neighbouring mapping. Huge pages are turned off for the regions, so
// an input that touches a byte costs a 4 KiB page, not 2 MiB of zeroing.
class FuzzMemory {
 public:
  explicit FuzzMemory(uint64_t size);
  ~FuzzMemory();
  FuzzMemory(const FuzzMemory&) = delete;
  FuzzMemory& operator=(const FuzzMemory&) = delete;
  const kvm::GuestMemory& mem() const { return mem_; }

 private:
  kvm::GuestMemory mem_;
  std::vector<void*> guards_;
};

// A driver filling one split virtqueue: descriptors, the available ring and its idx.
class DriverQueue {
 public:
  // Descriptor table at `base`, available ring right after it, used ring at the next 4 KiB
  // (what tests/unit/virtio/test_driver.cpp lays out too).
  static virtio::QueueConfig layout(uint16_t size, uint64_t base);

  DriverQueue(const kvm::GuestMemory& mem, const virtio::QueueConfig& config)
      : mem_(&mem), config_(config) {}
  const virtio::QueueConfig& config() const { return config_; }

  void write_desc(uint32_t index, const virtio::RawDescriptor& d) const;
  // Puts `head` in the next available slot and publishes idx + 1 (release), as a driver does.
  void publish(uint16_t head);
  // The used ring's idx as the device last published it (0xffff if unreadable).
  uint16_t used_idx() const;
  uint16_t avail_idx() const { return avail_idx_; }

 private:
  const kvm::GuestMemory* mem_;  // a pointer, so that a driver can start over with a fresh queue
  virtio::QueueConfig config_;
  uint16_t avail_idx_ = 0;
};

// Register access as a vCPU's MMIO exit would make it.
uint32_t read32(virtio::MmioTransport& t, uint64_t offset);
void write32(virtio::MmioTransport& t, uint64_t offset, uint32_t value);
// Linux's virtio_mmio probe: ACKNOWLEDGE, DRIVER, DriverFeatures, FEATURES_OK, each queue
// (QueueNum, addresses, QueueReady), DRIVER_OK. Whatever the device refuses stays refused.
void bring_up(virtio::MmioTransport& t, uint64_t features,
              std::span<const virtio::QueueConfig> queues);

}  // namespace berth::fuzz
