// The agent's microVM mode (agent/vm_setup.cpp): when it applies and what it mounts.
#include "agent/vm_setup.hpp"

#include <gtest/gtest.h>

#include <string>

#include "agent/options.hpp"

namespace berth::agent {
namespace {

TEST(AgentVmSetup, VmInitOnlyAsPid1WithoutArgumentsAndBerthIp) {
  const std::string cmdline = "console=ttyS0 reboot=k berth.ip=10.213.0.7/24 berth.gw=10.213.0.1";
  EXPECT_TRUE(is_vm_init(true, true, cmdline));
  EXPECT_FALSE(is_vm_init(false, true, cmdline));  // not PID 1: a test or a debug run
  EXPECT_FALSE(is_vm_init(true, false, cmdline));  // the jail starts PID 1 with flags
  EXPECT_FALSE(is_vm_init(true, true, "console=ttyS0 quiet"));
  EXPECT_FALSE(is_vm_init(true, true, "xberth.ip=10.0.0.2/24"));  // another key's suffix
  EXPECT_TRUE(is_vm_init(true, true, "berth.ip=10.0.0.2/24"));
}

TEST(AgentVmSetup, MountsWhatTheJailProvided) {
  auto mounts = vm_mounts("/work", 32u << 20);
  std::vector<std::string> targets;
  for (auto& m : mounts) targets.push_back(m.target);
  std::vector<std::string> want = {"/sys",
                                   "/dev",
                                   "/tmp",
                                   "/work",
                                   "/sys/fs/cgroup",
                                   "/sys/fs/cgroup/memory",
                                   "/sys/fs/cgroup/pids",
                                   "/sys/fs/cgroup/cpuacct"};
  EXPECT_EQ(targets, want);
  EXPECT_EQ(mounts[3].fstype, "tmpfs");
  EXPECT_EQ(mounts[3].data, "mode=0755,size=33554432");
  EXPECT_EQ(mounts[1].fstype, "devtmpfs");
  for (auto& m : mounts) {
    EXPECT_TRUE(m.flags & MS_NOSUID) << m.target;
    if (m.fstype == "cgroup") {
      EXPECT_EQ(m.target, "/sys/fs/cgroup/" + m.data);
    }
  }
  // /sys/fs/cgroup is a tmpfs mounted after /sys and before the hierarchies inside it.
  EXPECT_EQ(mounts[4].fstype, "tmpfs");
}

TEST(AgentVmSetup, WorkSizeFromTheKernelCommandLine) {
  Options o;
  EXPECT_EQ(o.work_bytes, uint64_t{64} << 20);
  ASSERT_TRUE(apply_kernel_cmdline("berth.ip=10.0.0.2/24 berth.work_mib=128", o));
  EXPECT_EQ(o.work_bytes, uint64_t{128} << 20);
  EXPECT_FALSE(apply_kernel_cmdline("berth.work_mib=0", o));
  EXPECT_FALSE(apply_kernel_cmdline("berth.work_mib=lots", o));
}

}  // namespace
}  // namespace berth::agent
