#pragma once
// virtio-net (virtio 1.2 §5.1) on a TAP: one RX queue (0) and one TX queue (1), features
// VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS (link always up), no offloads, no mergeable RX
// buffers, so every RX chain must hold a whole frame with its 12-byte header.
//
// TX: on notify, available chains are sent with one writev() each; a frame the TAP refuses
// (EAGAIN when its queue is full, or an error) is dropped and counted, never waited for. A
// chain longer than kMaxFrame (header included) is dropped unread and counted as oversized:
// no frame we can legitimately be asked to send is that long (no GSO is negotiated), and the
// TAP must never be handed more than an Ethernet frame plus the header. At
// most kTxBudget chains go per call: a guest refilling the ring from another vCPU as fast as we
// drain it would otherwise keep the monitor's one event-loop thread here, and with it the wall
// limit's timer and stop(). When the budget runs out the device kicks itself through an eventfd
// it watches, so the loop serves every other ready fd before the rest is sent.
// RX: while the driver has RX buffers, the TAP's readability is watched, and each frame read is
// copied into one chain; a frame larger than the chain is dropped and counted. With no RX
// buffer left the TAP is no longer watched (the watched fd goes quiet) until the driver
// notifies the RX queue.
//
// The watched fd is not the TAP itself but a private epoll instance holding it: arming and
// disarming the TAP there makes the watched fd readable or quiet whatever mode (level or edge)
// the monitor's loop uses, without the monitor having to add or remove fds.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/kvm/unique_fd.hpp"
#include "vmm/kvm/virtio/descriptor_chain.hpp"
#include "vmm/kvm/virtio/device.hpp"

namespace berth::vmm::kvm::virtio {

using MacAddress = std::array<uint8_t, 6>;

// Counters the device updates and anyone holding the pointer may read (metrics, tests).
struct NetStats {
  std::atomic<uint64_t> tx_frames{0};
  std::atomic<uint64_t> tx_dropped{0};    // TAP full or refusing the frame, or oversized
  std::atomic<uint64_t> tx_oversized{0};  // of tx_dropped: chains longer than kMaxFrame
  std::atomic<uint64_t> rx_frames{0};
  std::atomic<uint64_t> rx_dropped{0};  // larger than the driver's buffer, or malformed
};

class NetDevice : public Device {
 public:
  static constexpr uint16_t kRxQueue = 0;
  static constexpr uint16_t kTxQueue = 1;
  static constexpr uint16_t kQueueSize = 256;
  static constexpr size_t kHeaderSize = 12;  // struct virtio_net_hdr with num_buffers
  // §5.1.6.3.1: without VIRTIO_NET_F_MRG_RXBUF a buffer holds at least 65562 bytes' worth; we
  // read up to that much (header included) per frame, and send no TX chain longer than that:
  // a 65,550-byte frame plus the 12-byte header, Firecracker's MAX_BUFFER_SIZE
  // (src/vmm/src/devices/virtio/net/mod.rs) for both directions.
  static constexpr size_t kMaxFrame = 65562;
  // Chains sent per call before yielding to the event loop (see above).
  static constexpr unsigned kTxBudget = 64;

  // `tap`: nonblocking, one frame per read/write with a 12-byte virtio-net header (open_tap();
  // tests use a SOCK_SEQPACKET socketpair). The device owns it. `name` starts every log line
  // of the device and its transport: put the job id in it ("[job 42] virtio-net").
  static std::expected<std::unique_ptr<NetDevice>, std::string> create(
      UniqueFd tap, MacAddress mac, std::string name = "virtio-net");

  std::shared_ptr<const NetStats> stats() const { return stats_; }

  std::string_view name() const override { return name_; }
  uint32_t device_id() const override;
  uint64_t features() const override;
  uint16_t num_queues() const override { return 2; }
  uint16_t max_queue_size(uint16_t) const override { return kQueueSize; }
  void read_config(uint64_t offset, std::span<uint8_t> data) const override;
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;
  DeviceResult activate(uint64_t features, Queues queues) override;
  void reset() override;
  void stop() override;
  DeviceResult process_queue(uint16_t queue, Queues queues) override;
  std::vector<int> watched_fds() override;
  DeviceResult on_readable(int fd, Queues queues) override;

 private:
  NetDevice(UniqueFd tap, UniqueFd epoll, UniqueFd tx_kick, MacAddress mac, std::string name);
  DeviceResult transmit(Virtqueue& tx);
  DeviceResult receive(Virtqueue& rx);
  // Watch (or stop watching) the TAP's readability through epoll_.
  DeviceResult watch_tap(bool on);
  void log_drop(const std::string& what);
  // A warning for the first oversized TX chain, then at most one per kOversizeLogEvery with
  // the count since: a guest sending them in a loop must not flood the worker's log.
  void log_oversized(uint32_t len);
  void set_tx_kick(bool on);

  std::string name_;
  UniqueFd tap_;
  UniqueFd epoll_;
  UniqueFd tx_kick_;  // eventfd: readable while TX has chains left over from a spent budget
  MacAddress mac_;
  std::shared_ptr<NetStats> stats_ = std::make_shared<NetStats>();
  bool active_ = false;
  bool tap_watched_ = false;
  bool tap_registered_ = true;  // removed from epoll_ for good when the TAP hangs up
  // An RX chain popped but not yet filled: kept when the TAP had nothing to read or the frame
  // did not fit, so that no buffer the driver gave is lost.
  std::optional<DescriptorChain> rx_chain_;
  std::vector<uint8_t> rx_frame_;  // one frame as read from the TAP
  unsigned drop_logs_ = 0;
  uint64_t oversized_unlogged_ = 0;
  std::chrono::steady_clock::time_point next_oversize_log_{};
};

}  // namespace berth::vmm::kvm::virtio
