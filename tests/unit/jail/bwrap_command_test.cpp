// The bwrap command line as data: which flags, in which order, and what the agent is told.
#include "vmm/jail/bwrap_command.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/support/process.hpp"

namespace berth::vmm::jail {
namespace {

namespace fs = std::filesystem;

MachineConfig sample_config() {
  MachineConfig c;
  c.job_id = "job-1";
  c.net = {"berth0", "10.213.0.7", 24, "10.213.0.1"};
  c.agent_port = 7070;
  return c;
}

// Index of the first occurrence of the consecutive `seq` in `v`, or -1.
long find_seq(const std::vector<std::string>& v, const std::vector<std::string>& seq) {
  auto it = std::search(v.begin(), v.end(), seq.begin(), seq.end());
  return it == v.end() ? -1 : it - v.begin();
}

class BwrapCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = berth::test::scratch_dir("bwrap-cmd") / "rootfs";
    for (auto d :
         {"usr/bin", "etc", "proc", "sys/fs/cgroup/memory", "tmp", "work", ".berth", "dev"})
      fs::create_directories(root_ / d);
    fs::create_directory_symlink("usr/bin", root_ / "bin");
    std::ofstream(root_ / "marker") << "x";
    mkfifo((root_ / "fifo").c_str(), 0600);
    plan_.rootfs = root_;
    plan_.agent = "/opt/berth/berth-agent";
    plan_.work_dir_bytes = 64 << 20;
    plan_.cgroups = {{"memory", "/sys/fs/cgroup/memory/berth/job-1"},
                     {"pids", "/sys/fs/cgroup/pids/berth/job-1"}};
    plan_.caps = {"CAP_NET_ADMIN", "CAP_KILL"};
    plan_.seccomp_fd = 7;
    plan_.info_fd = 9;
    plan_.agent_args = agent_arguments(sample_config(), plan_.cgroups);
  }
  void TearDown() override { fs::remove_all(root_.parent_path()); }
  fs::path root_;
  BwrapPlan plan_;
};

TEST(AgentArguments, AreTheAgentsCommandLine) {
  std::vector<CgroupDir> all = {{"memory", "/m"}, {"pids", "/p"}, {"cpuacct", "/c"}};
  std::vector<std::string> expected = {"--listen",
                                       "0.0.0.0:7070",
                                       "--iface",
                                       "eth0",
                                       "--ip",
                                       "10.213.0.7/24",
                                       "--gateway",
                                       "10.213.0.1",
                                       "--work",
                                       "/work",
                                       "--uid",
                                       "65534",
                                       "--gid",
                                       "65534",
                                       "--cgroup-memory",
                                       "/sys/fs/cgroup/memory",
                                       "--cgroup-pids",
                                       "/sys/fs/cgroup/pids",
                                       "--cgroup-cpuacct",
                                       "/sys/fs/cgroup/cpuacct"};
  EXPECT_EQ(agent_arguments(sample_config(), all), expected);
  // A controller the host lacks is not announced to the agent.
  auto without = agent_arguments(sample_config(), {{"memory", "/m"}});
  EXPECT_EQ(std::count(without.begin(), without.end(), "--cgroup-pids"), 0);
  EXPECT_EQ(std::count(without.begin(), without.end(), "--cgroup-memory"), 1);
}

TEST_F(BwrapCommand, UnsharesEverythingButTheUserNamespace) {
  auto a = bwrap_command(plan_);
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->front(), "bwrap");
  for (auto flag :
       {"--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup",
        "--die-with-parent", "--new-session", "--clearenv", "--as-pid-1"})
    EXPECT_GE(find_seq(*a, {flag}), 0) << flag;
  // A user namespace as root maps the jail's root to the host's (DESIGN.md §3). (The agent's
  // own arguments after "--" have a --uid of their own.)
  std::vector<std::string> options(a->begin(), a->begin() + find_seq(*a, {"--", "/.berth/agent"}));
  for (auto flag : {"--unshare-user", "--unshare-user-try", "--unshare-all", "--uid", "--userns"})
    EXPECT_EQ(find_seq(options, {flag}), -1) << flag;
}

TEST_F(BwrapCommand, BuildsTheRootFromTheRootfsEntriesAndSealsItLast) {
  auto a = bwrap_command(plan_);
  ASSERT_TRUE(a) << a.error();
  EXPECT_GE(find_seq(*a, {"--ro-bind", (root_ / "usr").string(), "/usr"}), 0);
  EXPECT_GE(find_seq(*a, {"--ro-bind", (root_ / "etc").string(), "/etc"}), 0);
  EXPECT_GE(find_seq(*a, {"--ro-bind", (root_ / "marker").string(), "/marker"}), 0);
  EXPECT_GE(find_seq(*a, {"--symlink", "usr/bin", "/bin"}), 0);
  for (auto own : {"proc", "sys", "tmp", "work", ".berth", "dev", "fifo"})
    EXPECT_EQ(find_seq(*a, {(root_ / own).string()}), -1)
        << own << " must not be bound from the rootfs";

  EXPECT_GE(find_seq(*a, {"--proc", "/proc"}), 0);
  EXPECT_GE(find_seq(*a, {"--dev", "/dev"}), 0);
  EXPECT_GE(find_seq(*a, {"--perms", "1777", "--tmpfs", "/tmp"}), 0);
  EXPECT_GE(find_seq(*a, {"--size", std::to_string(64 << 20), "--tmpfs", "/work"}), 0);
  EXPECT_GE(find_seq(*a, {"--ro-bind", "/opt/berth/berth-agent", "/.berth/agent"}), 0);
  auto cg_tmpfs = find_seq(*a, {"--tmpfs", "/sys/fs/cgroup"});
  auto cg_mem =
      find_seq(*a, {"--bind", "/sys/fs/cgroup/memory/berth/job-1", "/sys/fs/cgroup/memory"});
  auto cg_pids = find_seq(*a, {"--bind", "/sys/fs/cgroup/pids/berth/job-1", "/sys/fs/cgroup/pids"});
  auto cg_seal = find_seq(*a, {"--remount-ro", "/sys/fs/cgroup"});
  auto root_seal = find_seq(*a, {"--remount-ro", "/"});
  EXPECT_GE(cg_tmpfs, 0);
  EXPECT_GT(cg_mem, cg_tmpfs);
  EXPECT_GT(cg_pids, cg_tmpfs);
  EXPECT_GT(cg_seal, std::max(cg_mem, cg_pids));
  // Every mount point is made before the root turns read-only.
  for (auto op : {"--ro-bind", "--bind", "--tmpfs", "--proc", "--dev", "--symlink", "--dir"}) {
    long last = -1;
    for (size_t i = 0; i < a->size(); ++i)
      if ((*a)[i] == op) last = static_cast<long>(i);
    EXPECT_LT(last, root_seal) << op << " after --remount-ro /";
  }
}

TEST_F(BwrapCommand, DropsAllCapabilitiesBeforeAddingThePlannedOnes) {
  auto a = bwrap_command(plan_);
  ASSERT_TRUE(a) << a.error();
  auto drop = find_seq(*a, {"--cap-drop", "ALL"});
  ASSERT_GE(drop, 0);
  EXPECT_GT(find_seq(*a, {"--cap-add", "CAP_NET_ADMIN"}), drop);
  EXPECT_GT(find_seq(*a, {"--cap-add", "CAP_KILL"}), drop);
  EXPECT_EQ(std::count(a->begin(), a->end(), "--cap-add"), 2);
}

TEST_F(BwrapCommand, EndsWithTheFdsAndTheAgentCommand) {
  auto a = bwrap_command(plan_);
  ASSERT_TRUE(a) << a.error();
  EXPECT_GE(find_seq(*a, {"--seccomp", "7"}), 0);
  EXPECT_GE(find_seq(*a, {"--info-fd", "9"}), 0);
  auto dashdash = find_seq(*a, {"--", "/.berth/agent"});
  ASSERT_GE(dashdash, 0);
  std::vector<std::string> tail(a->begin() + dashdash + 2, a->end());
  EXPECT_EQ(tail, plan_.agent_args);
}

TEST_F(BwrapCommand, AMissingRootfsIsNamed) {
  plan_.rootfs = root_ / "nope";
  auto a = bwrap_command(plan_);
  ASSERT_FALSE(a);
  EXPECT_NE(a.error().find("rootfs " + (root_ / "nope").string()), std::string::npos) << a.error();
}

}  // namespace
}  // namespace berth::vmm::jail
