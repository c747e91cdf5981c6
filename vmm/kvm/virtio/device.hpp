#pragma once
// A virtio device model apart from its transport (kvmtool's struct virtio_ops, Firecracker's
// VirtioDevice): it knows its device type, feature bits, configuration space and how to process
// its queues. MmioTransport (mmio_transport.hpp) owns the registers, the status state machine,
// the queues' setup and the interrupts, and calls a Device only with its own lock held, so a
// device needs no locking of its own.
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/kvm/virtio/virtqueue.hpp"

namespace berth::vmm::kvm::virtio {

// The device's queues, indexed by queue number: nullopt for a queue the driver did not enable.
// A device adds used buffers with Virtqueue::add_used(); the transport then interrupts the
// driver if the queue asks for it.
using Queues = std::span<std::optional<Virtqueue>>;

// A device-side failure: the message names the broken rule (QueueError::message()) or the host
// resource that failed. The transport logs it and puts the device in DEVICE_NEEDS_RESET.
using DeviceResult = std::expected<void, std::string>;

class Device {
 public:
  virtual ~Device() = default;

  virtual std::string_view name() const = 0;  // "virtio-net", for logs
  virtual uint32_t device_id() const = 0;     // §5
  // Device-type feature bits offered; the transport adds VIRTIO_F_VERSION_1 and
  // VIRTIO_F_INDIRECT_DESC.
  virtual uint64_t features() const = 0;
  virtual uint16_t num_queues() const = 0;
  virtual uint16_t max_queue_size(uint16_t queue) const = 0;

  // Device configuration space (§4.2.2 Config at 0x100). Bytes past its end read as zero.
  virtual void read_config(uint64_t offset, std::span<uint8_t> data) const = 0;
  virtual void write_config(uint64_t offset, std::span<const uint8_t> data) = 0;

  // The driver set DRIVER_OK (§3.1.1 step 8) with `features` negotiated.
  virtual DeviceResult activate(uint64_t features, Queues queues) = 0;
  // The driver wrote 0 to Status: forget everything the driver set up; activate() may follow.
  virtual void reset() = 0;
  // The device broke down (a rule was broken, DEVICE_NEEDS_RESET): stop all host-side work and
  // keep the watched fds quiet until reset().
  virtual void stop() = 0;
  // The driver notified `queue` (already checked to exist and be enabled).
  virtual DeviceResult process_queue(uint16_t queue, Queues queues) = 0;

  // Host fds whose readability the device wants to hear about (a TAP), fixed for its
  // lifetime, and the handler for them. on_readable is called in every state (the event loop
  // does not know the device's); outside activate()..stop()/reset() the device must not touch
  // `queues` and must leave the fd quiet (not readable), so that a level-triggered loop does
  // not spin.
  virtual std::vector<int> watched_fds() = 0;
  virtual DeviceResult on_readable(int fd, Queues queues) = 0;
};

}  // namespace berth::vmm::kvm::virtio
