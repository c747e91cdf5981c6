// The agent bringing up its network (agent/net_setup.cpp) the way the jail launcher uses it:
// started in an empty network namespace, its veth end moved in just after start.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "tests/unit/agent/agent_fixture.hpp"

namespace berth::agent::test {
namespace {

namespace fs = std::filesystem;

berth::test::RunResult sh(const std::string& script) {
  return berth::test::run({"/bin/sh", "-c", script}, 10s);
}

class AgentNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (sh("command -v ip").exit_code != 0) GTEST_SKIP() << "iproute2 is not installed";
    auto id = std::to_string(getpid());
    ns_ = "berth-agent-test-" + id;
    host_if_ = "bah" + id.substr(0, 7);
    guest_if_ = "bag" + id.substr(0, 7);
    // 10.251.0.0/16 is used by no other part of berth; a /30 per test process.
    subnet_ = "10.251." + std::to_string(getpid() % 250) + ".";
    scratch_ = berth::test::scratch_dir("agent-net");
    auto r = sh("ip netns add " + ns_ + " && ip link add " + host_if_ + " type veth peer name " +
                guest_if_ + " && ip addr add " + subnet_ + "1/30 dev " + host_if_ +
                " && ip link set " + host_if_ + " up");
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  void TearDown() override {
    sh("ip netns del " + ns_ + "; ip link del " + host_if_ + " 2>/dev/null");
    std::error_code ec;
    fs::remove_all(scratch_, ec);
  }

  std::string ns_, host_if_, guest_if_, subnet_;
  fs::path scratch_;
};

TEST_F(AgentNetworkTest, WaitsForItsInterfaceAndServesOverIt) {
  berth::test::Process agent({"ip", "netns", "exec", ns_, agent_binary(), "--listen",
                              subnet_ + "2:7070", "--iface", guest_if_, "--ip", subnet_ + "2/30",
                              "--gateway", subnet_ + "1", "--work", (scratch_ / "work").string()},
                             scratch_ / "agent.log");
  // The launcher attaches the NIC just after start; the agent must wait for it.
  std::this_thread::sleep_for(300ms);
  auto moved = sh("ip link set " + guest_if_ + " netns " + ns_);
  ASSERT_EQ(moved.exit_code, 0) << moved.output;

  AgentClient client;
  ASSERT_TRUE(client.connect(subnet_ + "2", 7070, 7s)) << agent.log_text();
  auto hello = client.recv(5s);
  ASSERT_TRUE(hello && hello->type == messages::AgentMsgType::hello) << agent.log_text();

  auto r = client.run(shell("cat /sys/class/net/lo/flags /sys/class/net/" + guest_if_ +
                            "/flags; cut -f2,3,8 /proc/net/route | tail -n +2"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, messages::Verdict::ok) << r.exit->message << r.err;
  std::istringstream out(r.out);
  std::string lo_flags, if_flags;
  out >> lo_flags >> if_flags;
  EXPECT_TRUE(std::stoul(lo_flags, nullptr, 16) & 1) << "lo is down: " << r.out;
  EXPECT_TRUE(std::stoul(if_flags, nullptr, 16) & 1) << guest_if_ << " is down: " << r.out;
  // One route, the /30's own (destination, gateway, mask in little-endian hex); no default.
  std::string rest((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rest.find("00000000\t00000000\t00000000"), std::string::npos) << rest;
  EXPECT_NE(rest.find("FCFFFFFF"), std::string::npos) << "no /30 route: " << rest;

  client.close();
  int status = agent.wait(3s);
  EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(AgentNetworkTest, InterfaceThatNeverAppearsEndsTheAgent) {
  berth::test::Process agent({"ip", "netns", "exec", ns_, agent_binary(), "--iface", "absent0",
                              "--ip", "10.251.255.2/24", "--work", (scratch_ / "work").string()},
                             scratch_ / "agent.log");
  int status = agent.wait(8s);
  ASSERT_NE(status, -1) << "still running after 8 s";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(agent.log_text().find("absent0 did not appear"), std::string::npos) << agent.log_text();
}

}  // namespace
}  // namespace berth::agent::test
