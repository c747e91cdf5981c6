// The agent as PID 1 of a bubblewrap jail, the way the jail runtime starts it (DESIGN.md §3):
// root without a user namespace, only the capabilities the jail grants, its own PID namespace.
// No cgroups here, so only PID 1's kill(-1) can catch a process that left the step's group.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "tests/unit/agent/agent_fixture.hpp"

namespace berth::agent::test {
namespace {

using messages::Verdict;

class AgentPid1Test : public AgentTest {
 protected:
  void SetUp() override {
    if (berth::test::run({"/bin/sh", "-c", "command -v bwrap"}, 5s).exit_code != 0)
      GTEST_SKIP() << "bubblewrap is not installed";
    AgentTest::SetUp();
  }
  bool use_cgroups() const override { return false; }
  std::vector<std::string> launcher() const override {
    std::vector<std::string> cmd = {"bwrap",
                                    "--unshare-pid",
                                    "--unshare-ipc",
                                    "--unshare-uts",
                                    "--as-pid-1",
                                    "--die-with-parent",
                                    "--clearenv",
                                    "--ro-bind",
                                    "/",
                                    "/",
                                    "--proc",
                                    "/proc",
                                    "--dev",
                                    "/dev",
                                    "--bind",
                                    work_.string(),
                                    work_.string()};
    for (const char* cap : {"CAP_NET_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_KILL",
                            "CAP_SYS_RESOURCE", "CAP_DAC_OVERRIDE", "CAP_CHOWN", "CAP_FOWNER"}) {
      cmd.push_back("--cap-add");
      cmd.push_back(cap);
    }
    return cmd;
  }
};

TEST_F(AgentPid1Test, RunsTheJobUnprivileged) {
  auto r =
      client_.run(shell("echo $PPID; id -u; grep -E '^Cap(Eff|Bnd)' /proc/self/status; "
                        "cat /proc/1/environ"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.out, "1\n65534\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n");
  EXPECT_EQ(r.exit->verdict, Verdict::runtime_error);  // the agent's environment stays closed
}

TEST_F(AgentPid1Test, NothingOfAStepSurvivesIt) {
  auto r = client_.run(shell("setsid sleep 30 & (sleep 0.1 &); sleep 0.3; echo main"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_LT(r.elapsed, 2000ms);
  // Every process of the machine with its state: the agent, this shell and cat; no sleep, no
  // zombie.
  auto ps = client_.run(shell("cat /proc/[0-9]*/stat | cut -d' ' -f1-3"));
  ASSERT_TRUE(ps.exit);
  EXPECT_EQ(ps.out.find("sleep"), std::string::npos) << ps.out;
  EXPECT_EQ(ps.out.find(" Z"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("1 (berth-agent) S"), std::string::npos) << ps.out;
}

TEST_F(AgentPid1Test, SurvivesSigtermAndSigint) {
  int pid = agent_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  ASSERT_EQ(kill(pid, SIGINT), 0);
  auto r = client_.run(shell("echo alive"));
  ASSERT_TRUE(r.exit) << "the agent died on a signal";
  EXPECT_EQ(r.out, "alive\n");
}

TEST_F(AgentPid1Test, ForkBombWithoutCgroupsEndsAtTheWallLimit) {
  // No pids cgroup: RLIMIT_NPROC is the only brake, and PID 1's kill(-1) the broom.
  messages::Limits l;
  l.processes = 32;
  l.wall_ms = 2000;
  auto r = client_.run(exec_of({"/bin/bash", "-c", ":(){ :|:& };: ; sleep 30"}, l), 15s);
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::time_limit) << r.exit->message;
  auto ps = client_.run(shell("ls -d /proc/[0-9]* | wc -l"));
  ASSERT_TRUE(ps.exit);
  EXPECT_LE(std::stoi(ps.out), 4) << "processes left: " << ps.out;
}

// The jail as the launcher builds it: the launcher moves itself into the machine's cgroups,
// then bwrap unshares the cgroup namespace, so the agent's step cgroups are made inside it.
class AgentJailCgroupTest : public AgentPid1Test {
 protected:
  bool use_cgroups() const override { return true; }
  std::vector<std::string> launcher() const override {
    std::string enter;
    for (const char* c : {"memory", "pids", "cpuacct"})
      enter += "echo $$ > " + cgroup_dir(c).string() + "/cgroup.procs && ";
    std::vector<std::string> cmd = {"/bin/sh", "-c", enter + "exec \"$@\"", "sh"};
    auto jail = AgentPid1Test::launcher();
    jail.insert(jail.begin() + 1, "--unshare-cgroup");
    // / is bound read-only; the machine's cgroups must stay writable inside.
    for (const char* c : {"memory", "pids", "cpuacct"})
      jail.insert(jail.end(), {"--bind", cgroup_dir(c).string(), cgroup_dir(c).string()});
    cmd.insert(cmd.end(), jail.begin(), jail.end());
    return cmd;
  }
};

TEST_F(AgentJailCgroupTest, MemoryLimitHoldsInsideTheJail) {
  messages::Limits l;
  l.memory_mib = 128;
  auto r = client_.run(exec_of({"/usr/bin/python3", "-c", "'x' * (2 << 30)"}, l));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::memory_limit) << r.exit->message << r.err;
  EXPECT_LE(r.exit->peak_memory_kib, 129u * 1024);
}

TEST_F(AgentJailCgroupTest, ForkBombIsContainedInsideTheJail) {
  messages::Limits l;
  l.processes = 32;
  l.wall_ms = 2000;
  auto r = client_.run(exec_of({"/bin/bash", "-c", ":(){ :|:& };: ; sleep 1"}, l), 15s);
  ASSERT_TRUE(r.exit);
  std::ifstream peak_file(cgroup_dir("pids") / "pids.peak");
  uint64_t peak = 0;
  ASSERT_TRUE(peak_file >> peak);
  EXPECT_LE(peak, 32u + 2);  // the step's 32, plus bwrap and the agent in the machine's cgroup
  auto next = client_.run(shell("echo still here"));
  ASSERT_TRUE(next.exit);
  EXPECT_EQ(next.out, "still here\n");
}

}  // namespace
}  // namespace berth::agent::test
