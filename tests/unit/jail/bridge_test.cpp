// ensure_bridge, delete_link and the jail's veth, against the real kernel (root only). Every
// link is named at random and removed at the end.
#include "vmm/net/bridge.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/support/process.hpp"
#include "vmm/net/veth.hpp"

namespace berth::vmm::net {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string random_name(const std::string& prefix) {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%s%08llx", prefix.c_str(),
                static_cast<unsigned long long>(rng() & 0xffffffff));
  return buf;
}

std::string sys_net(const std::string& link, const std::string& file) {
  std::ifstream in("/sys/class/net/" + link + "/" + file);
  std::string v;
  std::getline(in, v);
  return v;
}

std::string ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return berth::test::run(argv, 10s).output;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class HostNet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (creates links)";
    bridge_ = random_name("bt");
  }
  void TearDown() override {
    if (!bridge_.empty()) (void)delete_link(bridge_);
  }
  std::string bridge_;
};

TEST_F(HostNet, EnsureBridgeCreatesAddressesAndRaisesItOnceHoweverOftenCalled) {
  ASSERT_FALSE(link_exists(bridge_));
  for (int i = 0; i < 3; ++i) {
    auto ok = ensure_bridge(bridge_, "10.213.251.1", 24);
    ASSERT_TRUE(ok) << "call " << i << ": " << ok.error();
  }
  EXPECT_TRUE(link_exists(bridge_));
  EXPECT_TRUE(fs::exists("/sys/class/net/" + bridge_ + "/bridge")) << "not a bridge";
  auto flags = std::stoul(sys_net(bridge_, "flags"), nullptr, 16);
  EXPECT_TRUE(flags & 0x1) << "not up, flags " << flags;
  auto addrs = ip({"-4", "-o", "addr", "show", "dev", bridge_});
  EXPECT_EQ(count(addrs, "inet 10.213.251.1/24"), 1u) << addrs;

  // A down bridge is raised again; a second address is added next to the first.
  ip({"link", "set", bridge_, "down"});
  ASSERT_TRUE(ensure_bridge(bridge_, "10.213.252.1", 24));
  flags = std::stoul(sys_net(bridge_, "flags"), nullptr, 16);
  EXPECT_TRUE(flags & 0x1);
  addrs = ip({"-4", "-o", "addr", "show", "dev", bridge_});
  EXPECT_EQ(count(addrs, "inet 10.213.251.1/24"), 1u) << addrs;
  EXPECT_EQ(count(addrs, "inet 10.213.252.1/24"), 1u) << addrs;

  ASSERT_TRUE(delete_link(bridge_));
  EXPECT_FALSE(link_exists(bridge_));
  EXPECT_TRUE(delete_link(bridge_)) << "deleting a missing link is not an error";
}

TEST_F(HostNet, EnsureBridgeRefusesBadInputAndNonBridges) {
  EXPECT_NE(ensure_bridge("a-name-too-long-1", "10.213.251.1", 24).error().find("1..15"),
            std::string::npos);
  EXPECT_NE(ensure_bridge(bridge_, "10.213.251", 24).error().find("not an IPv4 address"),
            std::string::npos);
  EXPECT_NE(ensure_bridge(bridge_, "10.213.251.1", 31).error().find("1..30"), std::string::npos);
  EXPECT_FALSE(link_exists(bridge_)) << "a refused call created the bridge";

  auto peer = random_name("bp");
  auto out = ip({"link", "add", bridge_, "type", "veth", "peer", "name", peer});
  ASSERT_TRUE(link_exists(bridge_)) << out;
  auto refused = ensure_bridge(bridge_, "10.213.251.1", 24);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("not a bridge"), std::string::npos) << refused.error();
}

TEST(HostVethName, IsShortStableAndDistinct) {
  auto a = host_veth_name("0190a3c2-7f1e-7d2a-9c1b-3e4f5a6b7c8d");
  EXPECT_LE(a.size(), 15u);
  EXPECT_EQ(a.rfind("bj", 0), 0u);
  EXPECT_EQ(a, host_veth_name("0190a3c2-7f1e-7d2a-9c1b-3e4f5a6b7c8d"));
  EXPECT_NE(a, host_veth_name("0190a3c2-7f1e-7d2a-9c1b-3e4f5a6b7c8e"));
  EXPECT_NE(host_veth_name("a"), host_veth_name("b"));
}

TEST_F(HostNet, JailVethJoinsTheBridgeIsolatedWithItsPeerInTheNamespace) {
  ASSERT_TRUE(ensure_bridge(bridge_, "10.213.251.1", 24));
  auto scratch = berth::test::scratch_dir("veth");
  berth::test::Process holder({"unshare", "--net", "sleep", "60"}, scratch / "holder.log");
  auto own_ns = fs::read_symlink("/proc/self/ns/net");
  auto ns_path = "/proc/" + std::to_string(holder.pid()) + "/ns/net";
  ASSERT_TRUE(berth::test::eventually(
      [&] {
        std::error_code ec;
        auto ns = fs::read_symlink(ns_path, ec);
        return !ec && ns != own_ns;
      },
      5s))
      << "unshare did not make a network namespace";

  auto host = random_name("bv");
  auto ok = create_jail_veth({host, bridge_, holder.pid(), "eth0"});
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(fs::read_symlink("/sys/class/net/" + host + "/master").filename(), bridge_);
  EXPECT_EQ(sys_net(host, "brport/isolated"), "1");
  EXPECT_TRUE(std::stoul(sys_net(host, "flags"), nullptr, 16) & 0x1) << "host end is not up";
  auto inside = berth::test::run(
      {"nsenter", "-t", std::to_string(holder.pid()), "-n", "ip", "-o", "link"}, 10s);
  EXPECT_NE(inside.output.find("eth0@"), std::string::npos) << inside.output;

  // The same name again is refused rather than reused.
  auto again = create_jail_veth({host, bridge_, holder.pid(), "eth1"});
  EXPECT_FALSE(again);

  ASSERT_TRUE(delete_link(host));
  EXPECT_FALSE(link_exists(host));
  // A missing bridge is named in the error, and nothing is left behind.
  auto missing = create_jail_veth({host, "btnosuchbr", holder.pid(), "eth0"});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("btnosuchbr does not exist"), std::string::npos)
      << missing.error();
  EXPECT_FALSE(link_exists(host));
  holder.stop(1000ms);
  fs::remove_all(scratch);
}

}  // namespace
}  // namespace berth::vmm::net
