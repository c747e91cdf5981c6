// virtio-net through real KVM: synthetic guests (guests/virtio_net_tx.S, virtio_net_rx.S, with
// the driver in guests/virtio_net_driver.inc) drive the real device — NetDevice behind
// MmioTransport on a real TAP, wired as KvmMachine wires it — through the monitor's MMIO exits,
// ioeventfds and irqfds.
//   TX: the guest negotiates features, sets up both queues and sends one frame; it must appear
//       on the TAP's host side, byte for byte, with the MAC from the device's config space.
//   RX: the test sends a frame into the TAP; the guest, asleep in HLT, must be woken by the
//       device's interrupt through the in-kernel IOAPIC and local APIC and find the frame, with
//       the virtio-net header, intact in its buffer.
//
// Each test makes its host side in a network namespace of its own: the TAP, its packet socket
// and the namespace go away with their fds, whatever the test leaves, and no other traffic can
// reach the TAP. Needs /dev/kvm (guest_fixture.hpp), root and /dev/net/tun; skipped with the
// reason otherwise, unless BERTH_REQUIRE_KVM=1 (the KVM lab).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/vmm/guest_fixture.hpp"
#include "vmm/kvm/unique_fd.hpp"
#include "vmm/kvm/virtio/mmio_transport.hpp"
#include "vmm/kvm/virtio/net_device.hpp"
#include "vmm/kvm/virtio/tap.hpp"
#include "vmm/kvm/virtio_attach.hpp"

namespace berth::vmm::kvm {
namespace {

using namespace std::chrono_literals;
using Frame = std::vector<uint8_t>;

constexpr uint16_t kEthertype = 0x88b5;  // IEEE 802 local experimental: nothing else uses it
constexpr virtio::MacAddress kGuestMac = {0x52, 0x54, 0x00, 0xbe, 0x27, 0x01};
constexpr virtio::MacAddress kHostMac = {0x02, 0x00, 0x00, 0xbe, 0x27, 0x02};

// Test port offsets the guests report at (guests/virtio_net_driver.inc and the two guests).
constexpr uint64_t kResult = 0, kFeaturesLo = 4, kFeaturesHi = 8, kStatus = 12, kUsedLen = 16;
constexpr uint64_t kTxInterruptStatus = 20, kTxConfigLo = 24, kTxConfigHi = 28;
constexpr uint64_t kRxInterrupts = 20, kRxInterruptStatus = 24, kRxFrameHash = 28;
constexpr uint64_t kReady = 1, kDone = 2;  // results; 0xbad000xx is a failure the .inc names
// ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, and nothing else (no DEVICE_NEEDS_RESET).
constexpr uint64_t kStatusDriverOk = 0xf;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

// FNV-1a, 32 bits: what the RX guest computes over the frame it received.
uint32_t fnv1a(const Frame& f) {
  uint32_t h = 0x811c9dc5;
  for (uint8_t b : f) {
    h ^= b;
    h *= 0x01000193;
  }
  return h;
}

// A kEthertype frame of `size` bytes: `payload`, then zeros or (`pattern`) bytes that differ from
// one position to the next, so that a frame shifted or truncated on the way hashes differently.
Frame ethernet_frame(const virtio::MacAddress& dst, const virtio::MacAddress& src,
                     const std::string& payload, size_t size, bool pattern) {
  Frame f(size, 0);
  std::memcpy(f.data(), dst.data(), 6);
  std::memcpy(f.data() + 6, src.data(), 6);
  f[12] = kEthertype >> 8;
  f[13] = kEthertype & 0xff;
  std::memcpy(f.data() + 14, payload.data(), payload.size());
  if (pattern)
    for (size_t i = 14 + payload.size(); i < size; ++i) f[i] = static_cast<uint8_t>(i * 7 + 3);
  return f;
}

// The host end of the guest's NIC, made in the calling thread's network namespace.
struct HostEnd {
  std::string tap_name;
  std::shared_ptr<UniqueFd> tap;  // until the NIC takes it
  int ifindex = 0;
  UniqueFd packet;  // AF_PACKET socket for kEthertype frames on the TAP
};

// TAP created, IPv6 off on it (else the kernel's router solicitations and MLD reports would
// land in the RX guest's only buffer), link up, packet socket bound to it.
void make_host_end(HostEnd& h) {
  h.tap_name = "bt-test" + std::to_string(getpid());
  auto tap = virtio::open_tap(h.tap_name);
  ASSERT_TRUE(tap) << tap.error();
  h.tap = std::make_shared<UniqueFd>(std::move(tap->fd));

  // /proc/sys/net is the namespace of the thread that opens it: ours.
  std::string sysctl = "/proc/sys/net/ipv6/conf/" + h.tap_name + "/disable_ipv6";
  if (UniqueFd f(::open(sysctl.c_str(), O_WRONLY | O_CLOEXEC)); f) {
    ASSERT_EQ(::write(f.get(), "1", 1), 1) << sysctl << ": " << std::strerror(errno);
  } else {
    ASSERT_EQ(errno, ENOENT) << sysctl << ": " << std::strerror(errno);  // no IPv6: fine
  }

  UniqueFd ctl(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(ctl) << "socket: " << std::strerror(errno);
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, h.tap_name.data(), h.tap_name.size());
  ASSERT_EQ(ioctl(ctl.get(), SIOCGIFFLAGS, &ifr), 0) << std::strerror(errno);
  ifr.ifr_flags |= IFF_UP;  // a TAP that is down refuses what the guest writes (EIO)
  ASSERT_EQ(ioctl(ctl.get(), SIOCSIFFLAGS, &ifr), 0) << "link up: " << std::strerror(errno);
  ASSERT_EQ(ioctl(ctl.get(), SIOCGIFINDEX, &ifr), 0) << std::strerror(errno);
  h.ifindex = ifr.ifr_ifindex;

  h.packet.reset(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEthertype)));
  ASSERT_TRUE(h.packet) << "AF_PACKET socket: " << std::strerror(errno);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(kEthertype);
  sll.sll_ifindex = h.ifindex;
  ASSERT_EQ(bind(h.packet.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0)
      << "binding the packet socket: " << std::strerror(errno);
}

// The first frame the guest sent (not one we sent ourselves), waiting up to `timeout`.
std::optional<Frame> receive_from_guest(int packet, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return std::nullopt;
    pollfd p{packet, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) != 1) continue;
    Frame f(2048);
    sockaddr_ll from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(packet, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      ADD_FAILURE() << "recvfrom on the packet socket: " << std::strerror(errno);
      return std::nullopt;
    }
    if (from.sll_pkttype == PACKET_OUTGOING) continue;
    f.resize(static_cast<size_t>(n));
    return f;
  }
}

// The NIC as KvmMachine builds it (kvm_machine.cpp), on the test's TAP; `stats` is set when the
// Vm creates the device.
VirtioFactory nic_on(std::shared_ptr<UniqueFd> tap,
                     std::shared_ptr<const virtio::NetStats>& stats) {
  return attach_virtio([tap, &stats](const GuestMemory& mem, int irq_fd)
                           -> std::expected<std::shared_ptr<virtio::MmioTransport>, std::string> {
    if (!*tap) return std::unexpected(std::string("the TAP was already handed to a NIC"));
    auto net = virtio::NetDevice::create(std::move(*tap), kGuestMac, "[guest] virtio-net");
    if (!net) return std::unexpected(net.error());
    stats = (*net)->stats();
    return std::make_shared<virtio::MmioTransport>(mem, std::move(*net), irq_fd);
  });
}

class NetGuestTest : public test::GuestTest {
 protected:
  void SetUp() override {
    GuestTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (geteuid() != 0)
      skip_or_fail("not root (a TAP and a network namespace need CAP_NET_ADMIN)");
    else if (::access("/dev/net/tun", R_OK | W_OK) != 0)
      skip_or_fail(std::string("/dev/net/tun: ") + std::strerror(errno));
  }

  // Like the fixture's KVM check: what is missing skips the test, or fails it in the KVM lab.
  void skip_or_fail(const std::string& missing) {
    if (std::getenv("BERTH_REQUIRE_KVM")) FAIL() << "BERTH_REQUIRE_KVM is set but " << missing;
    GTEST_SKIP() << missing;
  }

  // Runs `body` in a new network namespace and returns to ours. The namespace, with the TAP
  // and sockets made in it, goes away once their fds are closed. On this thread, not a helper
  // one: a joined thread can linger in /proc/self/task for a moment and fail TearDown's check.
  void in_own_netns(const std::function<void()>& body) {
    UniqueFd ours(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!ours)
      return skip_or_fail(std::string("/proc/thread-self/ns/net: ") + std::strerror(errno));
    // CLONE_NEWNET alone may be unshared by one thread of a multithreaded process; the Vm's
    // threads, started from here, are in the new namespace too (and are joined before we leave).
    if (unshare(CLONE_NEWNET) != 0)
      return skip_or_fail(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
    body();
    if (setns(ours.get(), CLONE_NEWNET) != 0)
      ADD_FAILURE() << "back to the test's network namespace: " << std::strerror(errno);
  }

  // What every guest reports once its driver is up: it finished, saw the features we need and
  // left the device running.
  void expect_driver_ran() {
    EXPECT_EQ(port_->value(kResult), kDone)
        << "guest result " << hex(port_->value(kResult).value_or(0))
        << " (0xbad000xx: see guests/virtio_net_driver.inc)";
    auto lo = port_->value(kFeaturesLo), hi = port_->value(kFeaturesHi);
    ASSERT_TRUE(lo && hi) << "the guest did not report the device features";
    EXPECT_TRUE(*lo & (1u << 5)) << "VIRTIO_NET_F_MAC not offered: " << hex(*lo);
    EXPECT_TRUE(*hi & 1u) << "VIRTIO_F_VERSION_1 not offered: " << hex(*hi);
    EXPECT_EQ(port_->value(kStatus), kStatusDriverOk)
        << "Status at the end: " << hex(port_->value(kStatus).value_or(0));
  }
};

TEST_F(NetGuestTest, TxFrameReachesTheTap) {
  in_own_netns([&] {
    HostEnd host;
    make_host_end(host);
    if (HasFatalFailure()) return;
    auto cfg = config_for("virtio_net_tx");
    std::shared_ptr<const virtio::NetStats> stats;
    cfg.virtio_devices.push_back(nic_on(host.tap, stats));
    {
      Vm vm(std::move(cfg));
      auto started = vm.start();
      ASSERT_TRUE(started) << started.error();
      auto rec = vm.wait();
      EXPECT_EQ(rec.reason, ExitReason::guest_reset)
          << to_string(rec.reason) << ": " << rec.message;
      expect_driver_ran();
      EXPECT_EQ(port_->value(kUsedLen), 0u) << "TX: the device writes nothing into the chain";
      EXPECT_EQ(port_->value(kTxInterruptStatus).value_or(0) & 1, 1u)
          << "InterruptStatus after the TX chain was used: "
          << hex(port_->value(kTxInterruptStatus).value_or(0));
      // The configuration space (§5.1.4): our MAC, then status VIRTIO_NET_S_LINK_UP.
      auto cfg_lo = port_->value(kTxConfigLo), cfg_hi = port_->value(kTxConfigHi);
      ASSERT_TRUE(cfg_lo && cfg_hi);
      uint8_t config[8];
      uint32_t lo32 = static_cast<uint32_t>(*cfg_lo), hi32 = static_cast<uint32_t>(*cfg_hi);
      std::memcpy(config, &lo32, 4);
      std::memcpy(config + 4, &hi32, 4);
      EXPECT_EQ(std::memcmp(config, kGuestMac.data(), 6), 0) << "MAC in the config space";
      EXPECT_EQ(config[6] | config[7] << 8, 1) << "link status in the config space";
      ASSERT_TRUE(stats);
      EXPECT_EQ(stats->tx_frames.load(), 1u);
      EXPECT_EQ(stats->tx_dropped.load(), 0u);

      // Read while the TAP exists: once it is gone, the packet socket reports ENETDOWN first.
      auto frame = receive_from_guest(host.packet.get(), 5s);
      ASSERT_TRUE(frame) << "no frame from the guest on the TAP";
      // Broadcast, from the guest's MAC, zero-padded to the Ethernet minimum (virtio_net_tx.S).
      Frame want =
          ethernet_frame({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, kGuestMac, "berth-tx", 60, false);
      EXPECT_EQ(*frame, want) << "the frame on the TAP is not the one the guest sent";
    }
    // The Vm is gone and with it the TAP's only fd: a non-persistent TAP goes too.
    EXPECT_EQ(if_nametoindex(host.tap_name.c_str()), 0u) << "the TAP outlived the VM";
  });
}

TEST_F(NetGuestTest, RxFrameArrivesWithInterrupt) {
  in_own_netns([&] {
    HostEnd host;
    make_host_end(host);
    if (HasFatalFailure()) return;
    auto cfg = config_for("virtio_net_rx");
    std::shared_ptr<const virtio::NetStats> stats;
    cfg.virtio_devices.push_back(nic_on(host.tap, stats));
    Frame frame = ethernet_frame(kGuestMac, kHostMac, "berth-rx", 64, true);
    {
      Vm vm(std::move(cfg));
      auto started = vm.start();
      ASSERT_TRUE(started) << started.error();
      // The guest says when its RX buffer is posted; only then is a frame sure to wait for
      // the interrupt rather than be there when the driver looks (either would be delivered).
      auto deadline = std::chrono::steady_clock::now() + 20s;
      while (port_->value(kResult) != kReady && !vm.poll() &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
      ASSERT_EQ(port_->value(kResult), kReady)
          << "the guest did not post its RX buffer; result "
          << hex(port_->value(kResult).value_or(0))
          << ", VM: " << (vm.poll() ? vm.poll()->message : std::string("still running"));

      sockaddr_ll to{};
      to.sll_family = AF_PACKET;
      to.sll_protocol = htons(kEthertype);
      to.sll_ifindex = host.ifindex;
      to.sll_halen = 6;
      std::memcpy(to.sll_addr, kGuestMac.data(), 6);
      ASSERT_EQ(sendto(host.packet.get(), frame.data(), frame.size(), 0,
                       reinterpret_cast<sockaddr*>(&to), sizeof to),
                static_cast<ssize_t>(frame.size()))
          << "sending into the TAP: " << std::strerror(errno);

      auto rec = vm.wait();
      ASSERT_TRUE(stats);
      EXPECT_EQ(rec.reason, ExitReason::guest_reset)
          << to_string(rec.reason) << ": " << rec.message
          << " (frames delivered to the guest: " << stats->rx_frames.load()
          << ", interrupts the guest took: " << port_->value(kRxInterrupts).value_or(0) << ")";
      expect_driver_ran();
      EXPECT_EQ(port_->value(kRxInterrupts), 1u) << "interrupts the guest's handler took";
      EXPECT_EQ(port_->value(kRxInterruptStatus).value_or(0) & 1, 1u)
          << "InterruptStatus the handler saw: "
          << hex(port_->value(kRxInterruptStatus).value_or(0));
      EXPECT_EQ(port_->value(kUsedLen), virtio::NetDevice::kHeaderSize + frame.size())
          << "used length: the 12-byte header and the frame";
      EXPECT_EQ(port_->value(kRxFrameHash), fnv1a(frame))
          << "the frame in the guest's buffer is not the one sent";
      EXPECT_EQ(stats->rx_frames.load(), 1u);
      EXPECT_EQ(stats->rx_dropped.load(), 0u);
    }
    EXPECT_EQ(if_nametoindex(host.tap_name.c_str()), 0u) << "the TAP outlived the VM";
  });
}

}  // namespace
}  // namespace berth::vmm::kvm
