#pragma once
// The virtio-mmio transport (virtio 1.2 §4.2), modern only (Version 2, no legacy registers):
// the register window of one device, the device status state machine (§2.1, §3.1.1), feature
// negotiation, queue setup and interrupts. The device model behind it is a Device.
//
// Threads and locking: read()/write() come from vCPU threads (an MMIO exit), queue_notify()
// and the WatchedFd handlers from the monitor's event-loop thread (ioeventfd, TAP). One mutex
// guards all of the transport's state and is held across every call into the Device, which
// therefore needs no locking of its own. Nothing under the mutex blocks: the device's fds are
// nonblocking and the irq eventfd write cannot block (its counter does not overflow).
//
// A broken rule (hostile or buggy driver: bad queue setup, a malformed descriptor chain, a
// device-side failure) is logged, sets DEVICE_NEEDS_RESET in Status, raises a configuration
// change interrupt if the driver is running (§2.1.2), and stops all queue processing until
// the driver resets the device by writing 0 to Status. failed() is true in that state;
// error() keeps the last such error even after a reset.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/kvm/bus_device.hpp"
#include "vmm/kvm/guest_memory.hpp"
#include "vmm/kvm/virtio/device.hpp"
#include "vmm/kvm/virtio/virtqueue.hpp"

namespace berth::vmm::kvm::virtio {

// An fd for the monitor's epoll loop (level-triggered is fine: a device keeps its fds quiet when
// it cannot make progress) and what to call when it is readable.
struct WatchedFd {
  int fd;
  std::function<void()> on_readable;
};

class MmioTransport : public BusDevice {
 public:
  // `irq_fd`: an eventfd bound to the device's GSI with KVM_IRQFD (not owned; -1 for none).
  // `mem` must outlive the transport.
  MmioTransport(const GuestMemory& mem, std::unique_ptr<Device> device, int irq_fd);
  ~MmioTransport() override;

  // From vCPU threads: `offset` within the 4 KiB window, data.size() 1, 2, 4 or 8.
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;
  // The driver notified `queue` (an ioeventfd at base + 0x50 with datamatch = queue, or a
  // trapped write to QueueNotify).
  void queue_notify(uint16_t queue);
  uint16_t num_queues() const;
  // The device's host fds with handlers bound to this transport; valid as long as it lives.
  std::vector<WatchedFd> watched_fds();
  bool failed() const;
  std::string error() const;

 private:
  struct QueueRegs {
    QueueConfig config;
    bool ready = false;
  };

  uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value);
  void write_status(uint32_t value);
  void set_queue_ready(uint32_t value);
  void reset();
  void notify(uint32_t queue);
  void finish(const DeviceResult& result);
  void fail(const std::string& message);
  void interrupt(uint32_t bits);
  void warn(const std::string& message);
  bool may_log();  // false once the log budget is spent
  uint64_t offered_features() const;
  QueueRegs* selected_queue();

  const GuestMemory& mem_;
  const std::unique_ptr<Device> device_;
  const int irq_fd_;
  const uint16_t num_queues_;

  mutable std::mutex mu_;  // guards everything below and every call into device_
  uint32_t status_ = 0;
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint64_t driver_features_ = 0;
  uint32_t queue_sel_ = 0;
  std::vector<QueueRegs> queue_regs_;
  std::vector<std::optional<Virtqueue>> queues_;
  uint32_t interrupt_status_ = 0;
  uint32_t config_generation_ = 0;
  bool failed_ = false;
  std::string error_;
  unsigned warnings_ = 0;  // log lines so far: a guest must not be able to flood the log
};

}  // namespace berth::vmm::kvm::virtio
