// virtio-net on a real TAP (vmm/kvm/virtio/tap.cpp, net_device.cpp) in a network namespace of
// its own: the test plays the guest driver, the namespace's kernel plays the host. Frames the
// guest sends reach the host stack (ARP is answered, UDP is delivered to a socket), frames the
// host sends land in RX buffers with the virtio-net header, and with no RX buffer the device's
// watched fd stays quiet. Needs root and /dev/net/tun; skips with the reason otherwise.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "tests/unit/virtio/test_driver.hpp"
#include "vmm/kvm/virtio/tap.hpp"

namespace berth::vmm::kvm::virtio::test {
namespace {

using Frame = std::vector<uint8_t>;
constexpr char kTapName[] = "bvtap0";
constexpr uint8_t kHostIp[4] = {10, 77, 0, 1};
constexpr uint8_t kGuestIp[4] = {10, 77, 0, 2};
constexpr size_t kHdr = NetDevice::kHeaderSize;

void put16(Frame& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}
uint16_t get16(const Frame& f, size_t at) {
  return static_cast<uint16_t>(f[at] << 8 | f[at + 1]);
}

Frame arp_request(const MacAddress& mac) {
  Frame f(60, 0);  // minimum Ethernet frame without FCS
  std::memset(f.data(), 0xff, 6);
  std::memcpy(f.data() + 6, mac.data(), 6);
  put16(f, 12, 0x0806);
  put16(f, 14, 1);       // Ethernet
  put16(f, 16, 0x0800);  // IPv4
  f[18] = 6;
  f[19] = 4;
  put16(f, 20, 1);  // request
  std::memcpy(f.data() + 22, mac.data(), 6);
  std::memcpy(f.data() + 28, kGuestIp, 4);
  std::memcpy(f.data() + 38, kHostIp, 4);
  return f;
}

Frame udp_frame(const MacAddress& src, const MacAddress& dst, uint16_t sport, uint16_t dport,
                const std::string& payload) {
  Frame f(14 + 20 + 8 + payload.size(), 0);
  std::memcpy(f.data(), dst.data(), 6);
  std::memcpy(f.data() + 6, src.data(), 6);
  put16(f, 12, 0x0800);
  f[14] = 0x45;
  put16(f, 16, static_cast<uint16_t>(20 + 8 + payload.size()));
  f[22] = 64;  // TTL
  f[23] = 17;  // UDP
  std::memcpy(f.data() + 26, kGuestIp, 4);
  std::memcpy(f.data() + 30, kHostIp, 4);
  uint32_t sum = 0;
  for (size_t i = 14; i < 34; i += 2) sum += get16(f, i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(f, 24, static_cast<uint16_t>(~sum));
  put16(f, 34, sport);
  put16(f, 36, dport);
  put16(f, 38, static_cast<uint16_t>(8 + payload.size()));  // checksum 0: none (IPv4)
  std::memcpy(f.data() + 42, payload.data(), payload.size());
  return f;
}

// What a guest driver does with its RX queue: keeps buffers posted, collects used ones.
class GuestRx {
 public:
  explicit GuestRx(NetRig& rig) : rig_(rig) {}
  void give(int n) {
    for (int i = 0; i < n; ++i) {
      uint64_t addr = NetRig::kRxBuffers + 0x1000ull * (slot_++ % 256);
      uint16_t head = rig_.rx.add_chain({{addr, 2048, true}});
      addr_[head] = addr;
    }
    rig_.transport->queue_notify(NetDevice::kRxQueue);
  }
  // Waits (running the device's watched fd like the monitor's loop) for a frame that `want`
  // accepts; other frames (IPv6 neighbour discovery and the like) are passed over.
  std::optional<Frame> wait_for(const std::function<bool(const Frame&)>& want,
                                std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      while (seen_ != rig_.rx.used_idx()) {
        UsedElem u = rig_.rx.used(seen_++);
        Frame buf(u.len);
        EXPECT_TRUE(rig_.mem.read(addr_[static_cast<uint16_t>(u.id)], buf));
        EXPECT_GE(buf.size(), kHdr);
        if (buf.size() < kHdr) continue;
        const uint8_t want_hdr[kHdr] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
        EXPECT_EQ(std::memcmp(buf.data(), want_hdr, kHdr), 0) << "virtio-net header";
        Frame frame(buf.begin() + kHdr, buf.end());
        give(1);  // recycle, as a driver does
        if (want(frame)) return frame;
      }
      auto fds = rig_.transport->watched_fds();
      pollfd p{fds.at(0).fd, POLLIN, 0};
      if (::poll(&p, 1, 50) == 1) fds[0].on_readable();
    }
    return std::nullopt;
  }

 private:
  NetRig& rig_;
  std::map<uint16_t, uint64_t> addr_;
  unsigned slot_ = 0;
  uint16_t seen_ = 0;
};

void exercise(UniqueFd tap, const MacAddress& host_mac);

// Everything below runs on a thread that has unshared its network namespace; the namespace,
// the TAP and every socket in it go when the thread's fds are closed and it exits.
void run_in_namespace(std::string& skip) {
  if (unshare(CLONE_NEWNET) != 0) {
    skip = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
    return;
  }
  auto tap = open_tap(kTapName);
  ASSERT_TRUE(tap) << tap.error();
  ASSERT_EQ(tap->name, kTapName);

  // The host side: address 10.77.0.1/24 on the TAP, link up, the guest's MAC known.
  UniqueFd ctl(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(ctl);
  ifreq ifr{};
  std::strcpy(ifr.ifr_name, kTapName);
  auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
  sin->sin_family = AF_INET;
  std::memcpy(&sin->sin_addr, kHostIp, 4);
  ASSERT_EQ(ioctl(ctl.get(), SIOCSIFADDR, &ifr), 0) << std::strerror(errno);
  inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
  ASSERT_EQ(ioctl(ctl.get(), SIOCSIFNETMASK, &ifr), 0) << std::strerror(errno);
  ASSERT_EQ(ioctl(ctl.get(), SIOCGIFFLAGS, &ifr), 0);
  ifr.ifr_flags |= IFF_UP;
  ASSERT_EQ(ioctl(ctl.get(), SIOCSIFFLAGS, &ifr), 0) << std::strerror(errno);
  ASSERT_EQ(ioctl(ctl.get(), SIOCGIFHWADDR, &ifr), 0);
  MacAddress host_mac;
  std::memcpy(host_mac.data(), ifr.ifr_hwaddr.sa_data, 6);

  exercise(std::move(tap->fd), host_mac);
  // The device closed the TAP's only fd: a non-persistent TAP is gone with it.
  EXPECT_EQ(if_nametoindex(kTapName), 0u) << "the TAP outlived its device";
}

// The device on the TAP, played through (1)..(4); returns with the device destroyed.
void exercise(UniqueFd tap, const MacAddress& host_mac) {
  NetRig rig(std::move(tap));
  ASSERT_TRUE(rig.transport);
  rig.bring_up();
  GuestRx rx(rig);
  rx.give(8);

  // (1) The guest asks who has 10.77.0.1; the kernel's reply comes back on RX.
  {
    Frame req = arp_request(kGuestMac);
    std::vector<uint8_t> chain(kHdr, 0);
    chain.insert(chain.end(), req.begin(), req.end());
    ASSERT_TRUE(rig.mem.write(NetRig::kTxBuffers, chain));
    rig.tx.add_chain({{NetRig::kTxBuffers, static_cast<uint32_t>(chain.size())}});
    rig.transport->queue_notify(NetDevice::kTxQueue);
    EXPECT_EQ(rig.tx.used_idx(), 1);
    EXPECT_EQ(rig.stats->tx_frames, 1u);
    rig.take_irq();
    auto reply = rx.wait_for([](const Frame& f) {
      return f.size() >= 42 && get16(f, 12) == 0x0806 && get16(f, 20) == 2;
    });
    ASSERT_TRUE(reply) << "no ARP reply from the host";
    EXPECT_EQ(std::memcmp(reply->data(), kGuestMac.data(), 6), 0);      // to the guest
    EXPECT_EQ(std::memcmp(reply->data() + 22, host_mac.data(), 6), 0);  // host's MAC
    EXPECT_EQ(std::memcmp(reply->data() + 28, kHostIp, 4), 0);          // has 10.77.0.1
    EXPECT_GE(rig.take_irq(), 1u);
  }

  // (2) A UDP datagram from the guest reaches a socket on the host.
  {
    UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(7777);
    std::memcpy(&addr.sin_addr, kHostIp, 4);
    ASSERT_EQ(bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    Frame f = udp_frame(kGuestMac, host_mac, 5555, 7777, "hello host");
    std::vector<uint8_t> chain(kHdr, 0);
    ASSERT_TRUE(rig.mem.write(NetRig::kTxBuffers, chain));
    ASSERT_TRUE(rig.mem.write(NetRig::kTxBuffers + 0x1000, f));
    rig.tx.add_chain({{NetRig::kTxBuffers, kHdr},
                      {NetRig::kTxBuffers + 0x1000, static_cast<uint32_t>(f.size())}});
    rig.transport->queue_notify(NetDevice::kTxQueue);
    pollfd p{sock.get(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1) << "the guest's datagram did not arrive";
    char buf[64] = {};
    ASSERT_EQ(recv(sock.get(), buf, sizeof buf, 0), 10);
    EXPECT_STREQ(buf, "hello host");
  }

  // (3) A UDP datagram from the host arrives in an RX buffer.
  UniqueFd out(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in guest{};
  guest.sin_family = AF_INET;
  guest.sin_port = htons(9999);
  std::memcpy(&guest.sin_addr, kGuestIp, 4);
  auto send_to_guest = [&](const std::string& text) {
    ASSERT_EQ(sendto(out.get(), text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&guest),
                     sizeof guest),
              static_cast<ssize_t>(text.size()))
        << std::strerror(errno);
  };
  auto is_udp_to_guest = [](const std::string& text) {
    return [text](const Frame& f) {
      return f.size() >= 42 + text.size() && get16(f, 12) == 0x0800 && f[23] == 17 &&
             get16(f, 36) == 9999 && std::memcmp(f.data() + 42, text.data(), text.size()) == 0;
    };
  };
  {
    rig.take_irq();
    send_to_guest("hello guest");
    auto got = rx.wait_for(is_udp_to_guest("hello guest"));
    ASSERT_TRUE(got) << "the host's datagram did not reach the RX queue";
    EXPECT_EQ(std::memcmp(got->data(), kGuestMac.data(), 6), 0);
    EXPECT_GE(rig.take_irq(), 1u);
  }

  // (4) With every RX buffer used, frames wait in the TAP and the watched fd is quiet: the
  // monitor's loop does not spin. A new buffer brings the frame in.
  {
    // Use up the posted buffers (8 are outstanding) with datagrams, without recycling.
    uint16_t used_before = rig.rx.used_idx();
    for (int i = 0; i < 8; ++i) send_to_guest("fill " + std::to_string(i));
    auto fds = rig.transport->watched_fds();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (static_cast<uint16_t>(rig.rx.used_idx() - used_before) < 8 &&
           std::chrono::steady_clock::now() < deadline) {
      pollfd p{fds[0].fd, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) fds[0].on_readable();
    }
    ASSERT_EQ(static_cast<uint16_t>(rig.rx.used_idx() - used_before), 8);
    send_to_guest("waiting");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let it reach the TAP
    pollfd p{fds[0].fd, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 200), 0) << "watched fd readable with no RX buffer: a busy loop";
    // The waiting frames arrive once the driver posts buffers again.
    auto got = rx.wait_for(is_udp_to_guest("waiting"));
    EXPECT_TRUE(got) << "the waiting datagram was lost";
  }
  EXPECT_FALSE(rig.transport->failed()) << rig.transport->error();
}

TEST(TapNetTest, FramesCrossTheTapBothWaysInAFreshNamespace) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create a network namespace and a TAP";
  if (access("/dev/net/tun", R_OK | W_OK) != 0)
    GTEST_SKIP() << "/dev/net/tun is missing: " << std::strerror(errno);
  size_t fds_before = open_fd_count();
  std::string skip;
  std::thread t([&] { run_in_namespace(skip); });
  t.join();
  if (!skip.empty()) GTEST_SKIP() << skip;
  EXPECT_EQ(open_fd_count(), fds_before) << "an fd of the device or the test leaked";
  // The namespace went with the thread; the TAP was never in ours.
  EXPECT_EQ(if_nametoindex(kTapName), 0u);
}

TEST(TapNetTest, OpenTapRejectsANameTooLongForLinux) {
  auto tap = open_tap("a-name-longer-than-15");
  ASSERT_FALSE(tap);
  EXPECT_NE(tap.error().find("longer than 15"), std::string::npos) << tap.error();
}

}  // namespace
}  // namespace berth::vmm::kvm::virtio::test
