// The agent's command line and kernel command line (agent/options.cpp).
#include "agent/options.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::agent {
namespace {

std::expected<Options, std::string> parse(std::vector<std::string> args) {
  return parse_args(args);
}

TEST(AgentOptions, DefaultsServeTheJail) {
  auto o = parse({});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(format_ipv4(o->listen.addr), "0.0.0.0");
  EXPECT_EQ(o->port, 7070);
  EXPECT_EQ(o->iface, "eth0");
  EXPECT_FALSE(o->ip);
  EXPECT_EQ(o->work, "/work");
  EXPECT_EQ(o->uid, 65534u);
  EXPECT_EQ(o->gid, 65534u);
  EXPECT_TRUE(o->cgroup_memory.empty());
}

TEST(AgentOptions, EveryFlagInBothSpellings) {
  auto o = parse({"--listen", "10.1.2.3:7071", "--iface=veth0", "--ip", "10.1.2.3/24",
                  "--gateway=10.1.2.1", "--work", "/tmp/w", "--uid=1000", "--gid", "1001",
                  "--cgroup-memory", "/m", "--cgroup-pids=/p", "--cgroup-cpuacct", "/c"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(format_ipv4(o->listen.addr), "10.1.2.3");
  EXPECT_EQ(o->port, 7071);
  EXPECT_EQ(o->iface, "veth0");
  ASSERT_TRUE(o->ip);
  EXPECT_EQ(format_ipv4(o->ip->addr), "10.1.2.3");
  EXPECT_EQ(o->ip->prefix, 24);
  ASSERT_TRUE(o->gateway);
  EXPECT_EQ(format_ipv4(o->gateway->addr), "10.1.2.1");
  EXPECT_EQ(o->work, "/tmp/w");
  EXPECT_EQ(o->uid, 1000u);
  EXPECT_EQ(o->gid, 1001u);
  EXPECT_EQ(o->cgroup_memory, "/m");
  EXPECT_EQ(o->cgroup_pids, "/p");
  EXPECT_EQ(o->cgroup_cpuacct, "/c");
}

TEST(AgentOptions, BadValuesAreErrorsThatSayWhat) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"--listen", "10.0.0.1"},
                                             {"--listen", "10.0.0.1:70000"},
                                             {"--ip", "10.0.0.1"},
                                             {"--ip", "10.0.0.1/33"},
                                             {"--ip", "10.0.0.256/24"},
                                             {"--ip", "10.0.0/24"},
                                             {"--ip", "1.2.3.4.5/24"},
                                             {"--gateway", "x"},
                                             {"--uid", "-1"},
                                             {"--uid", "4294967295"},
                                             {"--uid", "0"},
                                             {"--gid", "0"},
                                             {"--work", "relative"},
                                             {"--iface", "a-name-longer-than-15"},
                                             {"--bogus"},
                                             {"--uid"}}) {
    auto o = parse(args);
    ASSERT_FALSE(o) << args[0];
    EXPECT_NE(o.error().find(args[0]), std::string::npos) << o.error();
  }
}

TEST(AgentOptions, KernelCommandLineKeys) {
  Options o;
  auto r = apply_kernel_cmdline(
      "console=ttyS0 reboot=k panic=-1 berth.ip=172.16.0.9/30 berth.gw=172.16.0.10 "
      "berth.iface=eth1 berth.other=1 quiet\n",
      o);
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(o.ip);
  EXPECT_EQ(format_ipv4(o.ip->addr), "172.16.0.9");
  EXPECT_EQ(o.ip->prefix, 30);
  ASSERT_TRUE(o.gateway);
  EXPECT_EQ(format_ipv4(o.gateway->addr), "172.16.0.10");
  EXPECT_EQ(o.iface, "eth1");
}

TEST(AgentOptions, KernelCommandLineWithoutKeysChangesNothing) {
  Options o;
  ASSERT_TRUE(apply_kernel_cmdline("console=ttyS0 quiet", o));
  EXPECT_FALSE(o.ip);
  EXPECT_EQ(o.iface, "eth0");
}

TEST(AgentOptions, BadKernelCommandLineValueIsAnError) {
  Options o;
  auto r = apply_kernel_cmdline("berth.ip=300.1.1.1/24", o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("berth.ip"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace berth::agent
