#include "vmm/kvm/virtio/mmio_transport.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio {

namespace {

constexpr unsigned kMaxWarnings = 32;

uint32_t load_le32(std::span<const uint8_t> d) {
  uint32_t v = 0;
  std::memcpy(&v, d.data(), sizeof v);  // x86-64 hosts are little endian like virtio 1.x
  return v;
}

}  // namespace

MmioTransport::MmioTransport(const GuestMemory& mem, std::unique_ptr<Device> device, int irq_fd)
    : mem_(mem),
      device_(std::move(device)),
      irq_fd_(irq_fd),
      num_queues_(device_->num_queues()),
      queue_regs_(num_queues_),
      queues_(num_queues_) {
  for (uint16_t q = 0; q < num_queues_; ++q)
    queue_regs_[q].config.size = device_->max_queue_size(q);
}

MmioTransport::~MmioTransport() = default;

uint16_t MmioTransport::num_queues() const {
  return num_queues_;
}

bool MmioTransport::failed() const {
  std::lock_guard lock(mu_);
  return failed_;
}

std::string MmioTransport::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

uint64_t MmioTransport::offered_features() const {
  return device_->features() | feature::bit(feature::kVersion1) |
         feature::bit(feature::kIndirectDesc);
}

MmioTransport::QueueRegs* MmioTransport::selected_queue() {
  return queue_sel_ < num_queues_ ? &queue_regs_[queue_sel_] : nullptr;
}

void MmioTransport::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  std::memset(data.data(), 0, data.size());
  if (offset >= mmio::kConfig) {
    // §4.2.2.2: the configuration space allows 8-, 16- and 32-bit accesses (64-bit too here).
    device_->read_config(offset - mmio::kConfig, data);
    return;
  }
  // §4.2.2.2: control registers are accessed 32 bits wide and aligned only.
  if (data.size() != 4 || offset % 4 != 0) {
    warn("ignored " + std::to_string(data.size()) + "-byte read at register offset " + hex(offset));
    return;
  }
  uint32_t v = read_register(offset);
  std::memcpy(data.data(), &v, sizeof v);
}

void MmioTransport::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  if (offset >= mmio::kConfig) {
    device_->write_config(offset - mmio::kConfig, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) {
    warn("ignored " + std::to_string(data.size()) + "-byte write at register offset " +
         hex(offset));
    return;
  }
  write_register(offset, load_le32(data));
}

void MmioTransport::queue_notify(uint16_t queue) {
  std::lock_guard lock(mu_);
  notify(queue);
}

std::vector<WatchedFd> MmioTransport::watched_fds() {
  std::lock_guard lock(mu_);
  std::vector<WatchedFd> out;
  for (int fd : device_->watched_fds()) {
    out.push_back({fd, [this, fd] {
                     std::lock_guard lock(mu_);
                     finish(device_->on_readable(fd, queues_));
                   }});
  }
  return out;
}

uint32_t MmioTransport::read_register(uint64_t offset) {
  switch (offset) {
    case mmio::kMagicValue:
      return mmio::kMagic;
    case mmio::kVersionReg:
      return mmio::kVersion;
    case mmio::kDeviceId:
      return device_->device_id();
    case mmio::kVendorIdReg:
      return mmio::kVendorId;
    case mmio::kDeviceFeatures:
      if (device_features_sel_ > 1) return 0;
      return static_cast<uint32_t>(offered_features() >> (32 * device_features_sel_));
    case mmio::kQueueNumMax:
      // §4.2.2: 0 means "this queue does not exist".
      return queue_sel_ < num_queues_ ? device_->max_queue_size(queue_sel_) : 0;
    case mmio::kQueueReady: {
      auto* q = selected_queue();
      return q && q->ready ? 1 : 0;
    }
    case mmio::kInterruptStatus:
      return interrupt_status_;
    case mmio::kStatus:
      return status_;
    case mmio::kShmLenLow:
    case mmio::kShmLenHigh:
    case mmio::kShmBaseLow:
    case mmio::kShmBaseHigh:
      return 0xffffffff;  // §4.2.2: no shared memory regions
    case mmio::kConfigGeneration:
      return config_generation_;
    default:
      warn("read of write-only or unknown register " + hex(offset));
      return 0;
  }
}

void MmioTransport::write_register(uint64_t offset, uint32_t value) {
  auto set_half = [](uint64_t& reg, uint32_t v, bool high) {
    reg = high ? (reg & 0xffffffffull) | (uint64_t{v} << 32) : (reg & ~0xffffffffull) | v;
  };
  auto queue_field = [&](uint64_t QueueConfig::*field, bool high) {
    auto* q = selected_queue();
    if (!q) return warn("queue register write for missing queue " + std::to_string(queue_sel_));
    if (q->ready)  // §4.2.2.3: the driver must not change a queue once it is ready
      return warn("queue " + std::to_string(queue_sel_) + " reconfigured while ready; ignored");
    set_half(q->config.*field, value, high);
  };
  switch (offset) {
    case mmio::kDeviceFeaturesSel:
      device_features_sel_ = value;
      return;
    case mmio::kDriverFeatures:
      // §3.1.1: features are written after DRIVER and before FEATURES_OK.
      if (!(status_ & status::kDriver) || (status_ & status::kFeaturesOk))
        return warn("DriverFeatures written outside feature negotiation; ignored");
      if (driver_features_sel_ > 1) return warn("DriverFeaturesSel past the 64 feature bits");
      set_half(driver_features_, value, driver_features_sel_ == 1);
      return;
    case mmio::kDriverFeaturesSel:
      driver_features_sel_ = value;
      return;
    case mmio::kQueueSel:
      queue_sel_ = value;
      return;
    case mmio::kQueueNum: {
      auto* q = selected_queue();
      if (!q) return warn("QueueNum for missing queue " + std::to_string(queue_sel_));
      if (q->ready) return warn("QueueNum written while queue is ready; ignored");
      q->config.size = value;  // checked when the queue is made ready
      return;
    }
    case mmio::kQueueReady:
      set_queue_ready(value);
      return;
    case mmio::kQueueNotify:
      notify(value);
      return;
    case mmio::kInterruptAck:
      interrupt_status_ &= ~value;
      return;
    case mmio::kStatus:
      write_status(value);
      return;
    case mmio::kQueueDescLow:
      queue_field(&QueueConfig::desc_table, false);
      return;
    case mmio::kQueueDescHigh:
      queue_field(&QueueConfig::desc_table, true);
      return;
    case mmio::kQueueDriverLow:
      queue_field(&QueueConfig::avail_ring, false);
      return;
    case mmio::kQueueDriverHigh:
      queue_field(&QueueConfig::avail_ring, true);
      return;
    case mmio::kQueueDeviceLow:
      queue_field(&QueueConfig::used_ring, false);
      return;
    case mmio::kQueueDeviceHigh:
      queue_field(&QueueConfig::used_ring, true);
      return;
    case mmio::kShmSel:
      return;
    default:
      warn("write of read-only or unknown register " + hex(offset));
      return;
  }
}

void MmioTransport::write_status(uint32_t value) {
  if (value == 0) return reset();  // §4.2.2.1: writing 0 resets the device
  if (failed_) {
    // Only a reset leaves DEVICE_NEEDS_RESET; the driver may still say it gave up.
    if (value & status::kFailed) status_ |= status::kFailed;
    return;
  }
  // DEVICE_NEEDS_RESET belongs to the device; undefined bits are dropped.
  uint32_t want = value & (status::kAcknowledge | status::kDriver | status::kFeaturesOk |
                           status::kDriverOk | status::kFailed);
  uint32_t old = status_;
  if ((want & old) != old)
    return warn("Status write " + hex(value) + " clears bits of " + hex(old) + "; ignored");
  uint32_t added = want & ~old;
  if (added & status::kFailed) {
    warn("the driver gave up (Status FAILED)");
    status_ |= status::kFailed;
    return;
  }
  // §3.1.1: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK in that order.
  if (((want & status::kDriver) && !(want & status::kAcknowledge)) ||
      ((want & status::kFeaturesOk) && !(want & status::kDriver)) ||
      ((want & status::kDriverOk) && !(want & status::kFeaturesOk)))
    return warn("Status write " + hex(value) + " skips a step of device initialisation; ignored");
  if (added & status::kFeaturesOk) {
    // §2.2.1: accept only a subset of what was offered; §6.1 / §4.2.3: a Version 2 device
    // needs VIRTIO_F_VERSION_1. Refusing means leaving FEATURES_OK clear for the driver to see.
    uint64_t unknown = driver_features_ & ~offered_features();
    bool v1 = driver_features_ & feature::bit(feature::kVersion1);
    if (unknown != 0 || !v1) {
      warn("FEATURES_OK refused: driver features " + hex(driver_features_) +
           (v1 ? " have bits not offered " + hex(unknown) : " lack VIRTIO_F_VERSION_1"));
      status_ = want & ~(status::kFeaturesOk | status::kDriverOk);
      return;
    }
  }
  status_ = want;
  if (added & status::kDriverOk) {
    spdlog::debug("{}: driver ready with features {}", device_->name(), hex(driver_features_));
    finish(device_->activate(driver_features_, queues_));
  }
}

void MmioTransport::set_queue_ready(uint32_t value) {
  auto* q = selected_queue();
  if (!q) return warn("QueueReady for missing queue " + std::to_string(queue_sel_));
  if (value == 0) {
    // Without VIRTIO_F_RING_RESET a live device's queue cannot be taken away; after a reset
    // (when Linux writes this) every queue is already disabled.
    if (status_ & status::kDriverOk) return warn("QueueReady 0 while the driver is running");
    q->ready = false;
    queues_[queue_sel_].reset();
    return;
  }
  if (q->ready || failed_) return;
  if (!(status_ & status::kFeaturesOk)) return warn("QueueReady before FEATURES_OK; ignored");
  bool indirect = driver_features_ & feature::bit(feature::kIndirectDesc);
  auto vq = Virtqueue::create(mem_, q->config, device_->max_queue_size(queue_sel_), indirect);
  if (!vq) return fail("queue " + std::to_string(queue_sel_) + ": " + vq.error().message());
  queues_[queue_sel_].emplace(std::move(*vq));
  q->ready = true;
}

void MmioTransport::reset() {
  device_->reset();
  status_ = 0;
  device_features_sel_ = 0;
  driver_features_sel_ = 0;
  driver_features_ = 0;
  queue_sel_ = 0;
  for (uint16_t q = 0; q < num_queues_; ++q) {
    queue_regs_[q] = QueueRegs{};
    queue_regs_[q].config.size = device_->max_queue_size(q);
    queues_[q].reset();
  }
  interrupt_status_ = 0;
  failed_ = false;
}

void MmioTransport::notify(uint32_t queue) {
  if (failed_) return;  // §2.1.1: a device that needs a reset processes nothing
  if (!(status_ & status::kDriverOk))
    return warn("notify of queue " + std::to_string(queue) + " before DRIVER_OK; ignored");
  if (queue >= num_queues_ || !queues_[queue])
    return warn("notify of missing or disabled queue " + std::to_string(queue));
  finish(device_->process_queue(static_cast<uint16_t>(queue), queues_));
}

void MmioTransport::finish(const DeviceResult& result) {
  if (!result) fail(result.error());
  bool used = false;
  for (auto& q : queues_)
    if (q && q->take_interrupt()) used = true;
  if (used) interrupt(mmio::kIntUsedBuffer);
}

void MmioTransport::fail(const std::string& message) {
  if (failed_) return;
  failed_ = true;
  error_ = message;
  // Within the same budget as warnings: a guest that breaks a rule, resets and breaks it again
  // must not flood the log either.
  if (may_log()) spdlog::error("{}: device error, needs reset: {}", device_->name(), message);
  device_->stop();
  status_ |= status::kDeviceNeedsReset;
  // §2.1.2: a running driver learns of DEVICE_NEEDS_RESET by a configuration change interrupt.
  if (status_ & status::kDriverOk) interrupt(mmio::kIntConfigChange);
}

void MmioTransport::interrupt(uint32_t bits) {
  interrupt_status_ |= bits;
  if (irq_fd_ < 0) return;
  uint64_t one = 1;
  if (::write(irq_fd_, &one, sizeof one) != sizeof one)
    spdlog::error("{}: irq eventfd write: {}", device_->name(), std::strerror(errno));
}

bool MmioTransport::may_log() {
  if (warnings_ < kMaxWarnings) {
    ++warnings_;
    return true;
  }
  if (warnings_ == kMaxWarnings) {
    ++warnings_;
    spdlog::warn("{}: further driver warnings and errors are not logged", device_->name());
  }
  return false;
}

void MmioTransport::warn(const std::string& message) {
  if (may_log()) spdlog::warn("{}: {}", device_->name(), message);
}

}  // namespace berth::vmm::kvm::virtio
