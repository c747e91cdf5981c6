#include "vmm/kvm/virtio/net_device.hpp"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "vmm/kvm/virtio/spec.hpp"

namespace berth::vmm::kvm::virtio {

namespace {

constexpr uint16_t kLinkUp = 1;        // VIRTIO_NET_S_LINK_UP (§5.1.4)
constexpr size_t kConfigSize = 8;      // mac[6], status (§5.1.4)
constexpr unsigned kMaxDropLogs = 16;  // dropped frames are normal; log the first few only
constexpr auto kOversizeLogEvery = std::chrono::seconds(10);
constexpr size_t kNumBuffersOffset = 10;

std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// A chain the device cannot use as virtio-net requires (§5.1.6): "RX queue: <rule>: ...".
std::unexpected<std::string> broken(const char* queue, Violation rule, const DescriptorChain& chain,
                                    const std::string& what) {
  return std::unexpected(
      std::string(queue) + ": " +
      QueueError{rule, "chain at head " + std::to_string(chain.head) + " has " + what}.message());
}

}  // namespace

std::expected<std::unique_ptr<NetDevice>, std::string> NetDevice::create(UniqueFd tap,
                                                                         MacAddress mac,
                                                                         std::string name) {
  if (!tap) return std::unexpected("virtio-net needs an open TAP fd");
  UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return std::unexpected(errno_text("epoll_create1"));
  // Registered with no events: the TAP is watched only while the driver has RX buffers.
  epoll_event ev{};
  ev.data.fd = tap.get();
  if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, tap.get(), &ev) < 0)
    return std::unexpected(errno_text("adding the TAP to epoll"));
  UniqueFd kick(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!kick) return std::unexpected(errno_text("eventfd for TX"));
  return std::unique_ptr<NetDevice>(
      new NetDevice(std::move(tap), std::move(ep), std::move(kick), mac, std::move(name)));
}

NetDevice::NetDevice(UniqueFd tap, UniqueFd epoll, UniqueFd tx_kick, MacAddress mac,
                     std::string name)
    : name_(std::move(name)),
      tap_(std::move(tap)),
      epoll_(std::move(epoll)),
      tx_kick_(std::move(tx_kick)),
      mac_(mac),
      rx_frame_(kMaxFrame + 64) {}

uint32_t NetDevice::device_id() const {
  return kDeviceIdNet;
}

uint64_t NetDevice::features() const {
  return feature::bit(feature::kNetMac) | feature::bit(feature::kNetStatus);
}

void NetDevice::read_config(uint64_t offset, std::span<uint8_t> data) const {
  uint8_t config[kConfigSize];
  std::memcpy(config, mac_.data(), mac_.size());
  std::memcpy(config + 6, &kLinkUp, sizeof kLinkUp);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = offset < kConfigSize && i < kConfigSize - offset ? config[offset + i] : 0;
}

void NetDevice::write_config(uint64_t, std::span<const uint8_t>) {
  // §5.1.4: without VIRTIO_NET_F_CTRL_MAC_ADDR the configuration space is read-only.
}

DeviceResult NetDevice::activate(uint64_t, Queues queues) {
  active_ = true;
  // Buffers the driver made available before DRIVER_OK are taken now.
  if (queues[kRxQueue]) return receive(*queues[kRxQueue]);
  return {};
}

void NetDevice::reset() {
  stop();
}

void NetDevice::stop() {
  active_ = false;
  rx_chain_.reset();
  set_tx_kick(false);
  (void)watch_tap(false);
}

DeviceResult NetDevice::process_queue(uint16_t queue, Queues queues) {
  if (!active_) return {};
  if (queue == kTxQueue) return transmit(*queues[kTxQueue]);
  // The driver added RX buffers: take frames that waited and watch the TAP again.
  return receive(*queues[kRxQueue]);
}

std::vector<int> NetDevice::watched_fds() {
  return {epoll_.get(), tx_kick_.get()};
}

void NetDevice::set_tx_kick(bool on) {
  // An eventfd: a write makes it readable, a read makes it quiet again. Neither can fail on a
  // nonblocking eventfd short of counter overflow, which one write per budget cannot reach.
  uint64_t v = 1;
  ssize_t r = on ? ::write(tx_kick_.get(), &v, sizeof v) : ::read(tx_kick_.get(), &v, sizeof v);
  (void)r;
}

DeviceResult NetDevice::on_readable(int fd, Queues queues) {
  if (fd == tx_kick_.get()) {
    set_tx_kick(false);
    if (!active_ || !queues[kTxQueue]) return {};
    return transmit(*queues[kTxQueue]);
  }
  epoll_event ev[1];
  int n = epoll_wait(epoll_.get(), ev, 1, 0);
  if (n < 0 && errno != EINTR) return std::unexpected(errno_text("epoll_wait"));
  if (n > 0 && (ev[0].events & (EPOLLERR | EPOLLHUP)) && tap_registered_) {
    // Reported whatever events were asked for: remove the TAP so the loop does not spin.
    epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, tap_.get(), nullptr);
    tap_registered_ = false;
    tap_watched_ = false;
    if (active_) return std::unexpected("the TAP hung up or reported an error");
    return {};
  }
  if (!active_ || !queues[kRxQueue]) return watch_tap(false);
  return receive(*queues[kRxQueue]);
}

DeviceResult NetDevice::watch_tap(bool on) {
  if (on == tap_watched_ || !tap_registered_) return {};
  epoll_event ev{};
  ev.events = on ? uint32_t{EPOLLIN} : 0u;
  ev.data.fd = tap_.get();
  if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, tap_.get(), &ev) < 0)
    return std::unexpected(errno_text("epoll_ctl on the TAP"));
  tap_watched_ = on;
  return {};
}

void NetDevice::log_drop(const std::string& what) {
  if (drop_logs_ < kMaxDropLogs) spdlog::debug("{}: dropped {}", name_, what);
  if (drop_logs_ <= kMaxDropLogs) ++drop_logs_;
}

void NetDevice::log_oversized(uint32_t len) {
  ++oversized_unlogged_;
  auto now = std::chrono::steady_clock::now();
  if (now < next_oversize_log_) return;
  next_oversize_log_ = now + kOversizeLogEvery;
  spdlog::warn(
      "{}: dropped {} TX chain(s) longer than {} bytes (the last: {} bytes); the "
      "guest's driver is broken or hostile",
      name_, oversized_unlogged_, kMaxFrame, len);
  oversized_unlogged_ = 0;
}

DeviceResult NetDevice::transmit(Virtqueue& tx) {
  // §5.1.6.2: each chain is a header and one frame. We negotiated no offloads, so the header's
  // checksum and GSO fields mean nothing; the TAP gets a zero header of our own instead of the
  // guest's, so the kernel never acts on fields the guest was not allowed to set.
  static const uint8_t kZeroHeader[kHeaderSize] = {};
  std::vector<iovec> iov;
  for (unsigned budget = kTxBudget;; --budget) {
    if (budget == 0) {
      set_tx_kick(true);  // more may wait: come back after the loop's other fds
      return {};
    }
    auto popped = tx.pop();
    if (!popped) return std::unexpected("TX queue: " + popped.error().message());
    if (!*popped) return {};
    const DescriptorChain& chain = **popped;
    if (!chain.writable.empty())
      return broken("TX queue", Violation::kWritableWhereReadable, chain,
                    std::to_string(chain.writable.size()) + " device-writable descriptors");
    if (chain.readable_len < kHeaderSize)
      return broken("TX queue", Violation::kChainTooShort, chain,
                    std::to_string(chain.readable_len) + " bytes");
    if (chain.readable_len > kMaxFrame) {
      // Not a device error: the chain is returned unsent and the queue goes on.
      ++stats_->tx_dropped;
      ++stats_->tx_oversized;
      log_oversized(chain.readable_len);
      if (auto r = tx.add_used(chain.head, 0); !r)
        return std::unexpected("TX queue: " + r.error().message());
      continue;
    }
    iov.clear();
    iov.push_back({const_cast<uint8_t*>(kZeroHeader), kHeaderSize});
    uint64_t skip = kHeaderSize;
    for (const auto& b : chain.readable) {
      if (skip >= b.len) {
        skip -= b.len;
        continue;
      }
      // read_chain() checked every buffer against guest memory; slice() checks again.
      auto s = tx.memory().slice(b.addr + skip, b.len - skip);
      skip = 0;
      if (!s) return std::unexpected("TX queue: buffer left guest memory");
      if (!s->empty()) iov.push_back({s->data(), s->size()});
    }
    if (iov.size() > IOV_MAX) {
      ++stats_->tx_dropped;
      log_drop("a TX frame in more than IOV_MAX pieces");
    } else if (::writev(tap_.get(), iov.data(), static_cast<int>(iov.size())) < 0) {
      // EAGAIN: the TAP's queue is full. Never wait for it: the event loop must not block.
      ++stats_->tx_dropped;
      log_drop(errno_text("a TX frame: writev to the TAP"));
    } else {
      ++stats_->tx_frames;
    }
    if (auto r = tx.add_used(chain.head, 0); !r)
      return std::unexpected("TX queue: " + r.error().message());
  }
}

DeviceResult NetDevice::receive(Virtqueue& rx) {
  // Bounded by the queue size per call, so a driver refilling buffers as fast as the host sends
  // cannot keep the event loop here; a level-triggered loop calls again while frames wait.
  for (unsigned budget = rx.size(); budget > 0; --budget) {
    if (!rx_chain_) {
      auto popped = rx.pop();
      if (!popped) return std::unexpected("RX queue: " + popped.error().message());
      if (!*popped) return watch_tap(false);  // no buffer: stop watching until the next notify
      const DescriptorChain& chain = **popped;
      if (!chain.readable.empty())
        return broken("RX queue", Violation::kReadableWhereWritable, chain,
                      std::to_string(chain.readable.size()) + " device-readable descriptors");
      if (chain.writable_len < kHeaderSize)
        return broken("RX queue", Violation::kChainTooShort, chain,
                      std::to_string(chain.writable_len) + " bytes");
      rx_chain_ = std::move(**popped);
    }
    ssize_t n = ::read(tap_.get(), rx_frame_.data(), rx_frame_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return watch_tap(true);
      if (errno == EINTR) continue;
      return std::unexpected(errno_text("read from the TAP"));
    }
    if (static_cast<size_t>(n) <= kHeaderSize || static_cast<size_t>(n) > rx_frame_.size() ||
        static_cast<size_t>(n) > rx_chain_->writable_len) {
      // Too big for the driver's buffer (or truncated by ours): drop it, keep the buffer.
      ++stats_->rx_dropped;
      log_drop("an RX frame of " + std::to_string(n) + " bytes (buffer " +
               std::to_string(rx_chain_->writable_len) + ")");
      continue;
    }
    // §5.1.6.4: no offloads negotiated, so flags and gso_type are 0 and the frame is fully
    // checksummed (TUNSETOFFLOAD 0); num_buffers is 1 without VIRTIO_NET_F_MRG_RXBUF. The TAP
    // leaves bytes 10..11 untouched, so the whole header is written here.
    std::memset(rx_frame_.data(), 0, kHeaderSize);
    uint16_t one = 1;
    std::memcpy(rx_frame_.data() + kNumBuffersOffset, &one, sizeof one);
    std::span<const uint8_t> frame(rx_frame_.data(), static_cast<size_t>(n));
    if (copy_to_chain(rx.memory(), *rx_chain_, 0, frame) != frame.size())
      return std::unexpected("RX queue: buffer left guest memory");
    uint16_t head = rx_chain_->head;
    rx_chain_.reset();
    ++stats_->rx_frames;
    if (auto r = rx.add_used(head, static_cast<uint32_t>(n)); !r)
      return std::unexpected("RX queue: " + r.error().message());
  }
  return watch_tap(true);
}

}  // namespace berth::vmm::kvm::virtio
