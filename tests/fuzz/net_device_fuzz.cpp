// Fuzz target: virtio-net's data path (vmm/kvm/virtio/net_device.cpp) behind its MmioTransport,
// with a SOCK_SEQPACKET socketpair in place of the TAP as tests/unit/virtio/ uses it. The
// driver brings the device up at fuzzer-chosen ring addresses; then the input plays both the
// guest (descriptors, chains, notifies, stores to RAM, resets) and the host (frames arriving on
// the TAP, the TAP hanging up), and runs the monitor's event loop over the watched fds.
//
// Input: a header, then operations until the input ends.
//   u8 memory (memory_size), u8 flags (bit 0: negotiate VIRTIO_F_INDIRECT_DESC),
//   u8 RX and u8 TX queue size as log2 (mod 9), u32 RX and u32 TX ring base (DriverQueue::layout);
//   ops, u8 each (mod 10):
//     0 write    u32 gpa, u16 len, len bytes
//     1 rx chain u8 segments (1-4), each u32 addr, u32 len, u8 flags (XOR VIRTQ_DESC_F_WRITE),
//                linked at the RX queue's next free descriptors and published
//     2 tx chain the same on the TX queue (flags as given)
//     3 notify   u8 queue (0 RX, 1 TX, anything else: a queue that does not exist)
//     4 frame    u32 length (mod 70000): the host sends a frame of that many bytes
//     5 drain    the host reads every frame the device sent
//     6 loop     the monitor's loop: handlers of readable watched fds, until all are quiet
//     7 hang up  the host closes its end of the "TAP"
//     8 reset    the driver resets the device and brings it up again on fresh rings
//     9 flags    u16 written to both available rings' flags (VIRTQ_AVAIL_F_NO_INTERRUPT)
//
// Checked beyond "no crash": every frame the host receives has the device's zero header; a
// failed device (DEVICE_NEEDS_RESET) moves no more frames until reset; the device receives no
// more frames than the host sent; and the loop never finds a watched fd readable that the
// device then makes no progress on (that would spin the monitor's level-triggered loop).
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <vector>

#include "tests/fuzz/fuzz_support.hpp"
#include "tests/fuzz/guest_side.hpp"
#include "vmm/kvm/virtio/net_device.hpp"
#include "vmm/kvm/virtio/spec.hpp"

namespace berth::fuzz {
namespace {

using virtio::NetDevice;
using virtio::QueueConfig;

Tally g_up("devices brought up");
Tally g_tx("frames the host received");
Tally g_rx("frames the guest received");
Tally g_rx_dropped("frames dropped on RX");
Tally g_failed("devices failed");
Tally g_loops("loop rounds");

constexpr size_t kHdr = NetDevice::kHeaderSize;

struct Rig {
  Rig(const kvm::GuestMemory& mem, const QueueConfig& rx, const QueueConfig& tx, bool indirect)
      : mem(mem), rx_cfg(rx), tx_cfg(tx), indirect(indirect), rx(mem, rx), tx(mem, tx) {
    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    peer.reset(sv[1]);
    irq.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    auto dev = NetDevice::create(UniqueFd(sv[0]), {2, 0, 0, 0, 0, 1});
    FUZZ_CHECK(dev.has_value());
    stats = (*dev)->stats();
    transport = std::make_unique<virtio::MmioTransport>(mem, std::move(*dev), irq.get());
    watched = transport->watched_fds();
    bring_up();
  }

  void bring_up() {
    uint64_t f = virtio::feature::bit(virtio::feature::kVersion1) |
                 virtio::feature::bit(virtio::feature::kNetMac) |
                 virtio::feature::bit(virtio::feature::kNetStatus);
    if (indirect) f |= virtio::feature::bit(virtio::feature::kIndirectDesc);
    const QueueConfig queues[] = {rx_cfg, tx_cfg};
    fuzz::bring_up(*transport, f, queues);
    if (read32(*transport, virtio::mmio::kStatus) & virtio::status::kDriverOk) ++g_up;
  }

  // What the device has done so far; the loop's idea of progress.
  uint64_t progress() const {
    return stats->tx_frames + stats->tx_dropped + stats->rx_frames + stats->rx_dropped +
           rx.used_idx() + tx.used_idx() + (transport->failed() ? 1 : 0);
  }

  const kvm::GuestMemory& mem;
  QueueConfig rx_cfg, tx_cfg;
  bool indirect;
  DriverQueue rx, tx;
  uint16_t rx_free = 0, tx_free = 0;  // the driver's next unused descriptor per queue
  UniqueFd peer, irq;
  std::shared_ptr<const virtio::NetStats> stats;
  std::unique_ptr<virtio::MmioTransport> transport;
  std::vector<virtio::WatchedFd> watched;
  uint64_t frames_sent = 0;
  bool hung_up = false;
};

void add_chain(Input& in, DriverQueue& q, uint16_t& next_free, uint16_t flip) {
  unsigned n = 1 + in.take<uint8_t>() % 4;
  uint32_t size = q.config().size;
  uint16_t head = next_free;
  for (unsigned i = 0; i < n; ++i) {
    uint16_t index = next_free;
    next_free = static_cast<uint16_t>((next_free + 1) % size);
    virtio::RawDescriptor d;
    d.addr = in.take<uint32_t>();
    d.len = in.take<uint32_t>();
    d.flags = static_cast<uint16_t>((in.take<uint8_t>() ^ flip) & ~virtio::kDescFNext);
    if (i + 1 < n) d.flags |= virtio::kDescFNext;
    d.next = next_free;
    q.write_desc(index, d);
  }
  q.publish(head);
}

void drain(Rig& r) {
  static std::vector<uint8_t> buf(NetDevice::kMaxFrame + 128);  // allocated once, not per input
  for (;;) {
    ssize_t n = recv(r.peer.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0) return;
    // The device sends a zero header of its own, never the guest's bytes (net_device.cpp).
    FUZZ_CHECK(static_cast<size_t>(n) >= kHdr);
    FUZZ_CHECK(std::all_of(buf.begin(), buf.begin() + kHdr, [](uint8_t b) { return b == 0; }));
    ++g_tx;
  }
}

void loop(Rig& r) {
  unsigned idle = 0;
  for (unsigned round = 0; round < 256; ++round) {
    std::vector<pollfd> p;
    for (const auto& w : r.watched) p.push_back({w.fd, POLLIN, 0});
    if (::poll(p.data(), p.size(), 0) <= 0) return;
    uint64_t before = r.progress();
    for (size_t i = 0; i < p.size(); ++i)
      if (p[i].revents) r.watched[i].on_readable();
    ++g_loops;
    idle = r.progress() == before ? idle + 1 : 0;
    // One idle round is fine (a hang-up is reported once, then the fd goes quiet); a watched fd
    // that stays readable while nothing happens would keep the monitor's loop spinning.
    FUZZ_CHECK(idle < 3);
  }
}

void run(Input& in) {
  FuzzMemory fm(memory_size(in.take<uint8_t>()));
  const auto& mem = fm.mem();
  bool indirect = in.take<uint8_t>() & 1;
  auto rx_size = static_cast<uint16_t>(1u << (in.take<uint8_t>() % 9));
  auto tx_size = static_cast<uint16_t>(1u << (in.take<uint8_t>() % 9));
  auto rx_cfg = DriverQueue::layout(rx_size, in.take<uint32_t>());
  auto tx_cfg = DriverQueue::layout(tx_size, in.take<uint32_t>());
  Rig r(mem, rx_cfg, tx_cfg, indirect);

  // While the device is failed, nothing may move; `frozen` is what it had done when it failed.
  std::optional<uint64_t> frozen;
  auto observe = [&] {
    if (!r.transport->failed()) return frozen.reset();
    uint64_t moved =
        r.stats->tx_frames + r.stats->tx_dropped + r.stats->rx_frames + r.stats->rx_dropped;
    if (!frozen) {
      ++g_failed;
      frozen = moved;
    }
    FUZZ_CHECK(moved == *frozen);
  };
  while (!in.empty()) {
    switch (in.take<uint8_t>() % 10) {
      case 0: {
        auto gpa = in.take<uint32_t>();
        mem.write(gpa, in.bytes(in.take<uint16_t>()));
        break;
      }
      case 1:
        add_chain(in, r.rx, r.rx_free, virtio::kDescFWrite);
        break;
      case 2:
        add_chain(in, r.tx, r.tx_free, 0);
        break;
      case 3:
        r.transport->queue_notify(in.take<uint8_t>());
        break;
      case 4: {
        std::vector<uint8_t> frame(in.take<uint32_t>() % 70000);
        for (size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<uint8_t>(i * 13 + 5);
        if (send(r.peer.get(), frame.data(), frame.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
          ++r.frames_sent;
        break;
      }
      case 5:
        drain(r);
        break;
      case 6:
        loop(r);
        break;
      case 7:
        r.peer.reset();
        r.hung_up = true;
        break;
      case 8: {
        write32(*r.transport, virtio::mmio::kStatus, 0);
        FUZZ_CHECK(read32(*r.transport, virtio::mmio::kStatus) == 0);
        // Fresh rings, as a driver reinitialising its queues has.
        for (const auto* c : {&r.rx_cfg, &r.tx_cfg}) {
          std::vector<uint8_t> zero(c->used_ring + virtio::used_ring_bytes(c->size) -
                                    c->desc_table);
          mem.write(c->desc_table, zero);
        }
        r.rx = DriverQueue(mem, r.rx_cfg);
        r.tx = DriverQueue(mem, r.tx_cfg);
        r.rx_free = r.tx_free = 0;
        r.bring_up();
        break;
      }
      case 9: {
        auto flags = in.take<uint16_t>();
        mem.write_obj(r.rx_cfg.avail_ring, flags);
        mem.write_obj(r.tx_cfg.avail_ring, flags);
        break;
      }
    }
    observe();
    // After a hang-up the socketpair reads 0 (end of file), which a TAP never does; the device
    // counts those as empty frames dropped, so the count only holds while the host is there.
    if (!r.hung_up) FUZZ_CHECK(r.stats->rx_frames + r.stats->rx_dropped <= r.frames_sent);
  }
  g_rx.add(r.stats->rx_frames);
  g_rx_dropped.add(r.stats->rx_dropped);
}

// Seeds, in the encoding above.
Output header(bool indirect) {
  Output o;
  o.put<uint8_t>(0).put<uint8_t>(indirect).put<uint8_t>(8).put<uint8_t>(8);
  o.put<uint32_t>(0x10000).put<uint32_t>(0x20000);
  return o;
}
struct Seg {
  uint32_t addr, len;
  uint8_t flags = 0;
};
void chain(Output& o, uint8_t op, std::initializer_list<Seg> segs) {
  o.put<uint8_t>(op).put<uint8_t>(static_cast<uint8_t>(segs.size() - 1));
  for (const auto& s : segs) o.put<uint32_t>(s.addr).put<uint32_t>(s.len).put<uint8_t>(s.flags);
}
void notify(Output& o, uint8_t queue) {
  o.put<uint8_t>(3).put<uint8_t>(queue);
}
void frame(Output& o, uint32_t len) {
  o.put<uint8_t>(4).put<uint32_t>(len);
}

}  // namespace

std::vector<Seed> seeds() {
  std::vector<Seed> out;
  {  // a TX frame in two pieces, the host reads it
    Output o = header(false);
    chain(o, 2, {{0x40000, 12}, {0x41000, 60}});
    notify(o, 1);
    o.put<uint8_t>(5);
    out.push_back({"tx", o.bytes()});
  }
  {  // two RX buffers, three frames (one too big for its buffer), the loop delivers them
    Output o = header(false);
    chain(o, 1, {{0x50000, 2048}});
    chain(o, 1, {{0x60000, 12}, {0x61000, 1500}});
    notify(o, 0);
    frame(o, 60);
    frame(o, 4000);
    frame(o, 1000);
    o.put<uint8_t>(6);
    out.push_back({"rx", o.bytes()});
  }
  {  // more TX chains than one budget, kicked through the event loop, with indirect negotiated
    Output o = header(true);
    for (int i = 0; i < 70; ++i) chain(o, 2, {{0x40000, 64}});
    notify(o, 1);
    o.put<uint8_t>(6).put<uint8_t>(5);
    out.push_back({"tx-budget", o.bytes()});
  }
  {  // a device-writable TX buffer breaks a rule; the driver resets and sends again
    Output o = header(false);
    chain(o, 2, {{0x40000, 64, virtio::kDescFWrite}});
    notify(o, 1);
    o.put<uint8_t>(8);
    chain(o, 2, {{0x40000, 64}});
    notify(o, 1);
    o.put<uint8_t>(5);
    out.push_back({"tx-error-reset", o.bytes()});
  }
  {  // the host hangs up while the guest waits for frames
    Output o = header(false);
    chain(o, 1, {{0x50000, 2048}});
    notify(o, 0);
    o.put<uint8_t>(7).put<uint8_t>(6);
    out.push_back({"hangup", o.bytes()});
  }
  return out;
}

}  // namespace berth::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  berth::fuzz::silence_logs();
  // The "TAP" is a socket here: a write after the host hung up must fail with EPIPE, not kill
  // the process (a real TAP fd raises no SIGPIPE).
  std::signal(SIGPIPE, SIG_IGN);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::fuzz::Input in(data, size);
  berth::fuzz::run(in);
  return 0;
}
