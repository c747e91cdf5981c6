// JailMachine against the real kernel: bwrap, cgroups, the bridge, with the stand-in agent
// (jail_fixture.hpp) and the host's root as the rootfs.
#include "vmm/jail/jail_machine.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/process.hpp"
#include "tests/unit/jail/jail_fixture.hpp"
#include "vmm/jail/capabilities.hpp"
#include "vmm/jail/proc.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/net/veth.hpp"

namespace berth::vmm::jail::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Every host resource a machine for `cfg` could hold.
void expect_nothing_left(const MachineConfig& cfg, const std::string& veth) {
  for (auto c : {"memory", "pids", "cpuacct"})
    EXPECT_FALSE(fs::exists(fs::path("/sys/fs/cgroup") / c / "berth" / cfg.job_id))
        << c << " cgroup left";
  EXPECT_FALSE(fs::exists("/sys/class/net/" + veth)) << "veth " << veth << " left";
  EXPECT_FALSE(fs::exists(cfg.run_dir)) << "run dir left";
  EXPECT_TRUE(child_pids().empty()) << "a child process is left";
}

// The value of "key=value" on its own line of `out`.
std::string field(const std::string& out, const std::string& key) {
  auto at = out.find(key + "=");
  if (at == std::string::npos || (at > 0 && out[at - 1] != '\n')) return "(missing " + key + ")";
  auto start = at + key.size() + 1;
  return out.substr(start, out.find('\n', start) - start);
}

using JailMachineTest = JailFixture;

TEST_F(JailMachineTest, StartsAndTheHostReachesTheAgentOverTheBridge) {
  auto cfg = config(2);
  JailMachine m(cfg);
  auto started = m.start();
  ASSERT_TRUE(started) << started.error() << "\n" << m.console_tail();
  EXPECT_EQ(m.poll(), MachineEnd::running);
  EXPECT_EQ(m.runtime(), "jail");

  auto out = jail_shell(guest_ip(2), kPort, "echo hello-from-$(hostname); cat /tmp/agent-args");
  ASSERT_TRUE(out) << out.error() << "\n" << m.console_tail();
  EXPECT_NE(out->find("hello-from-berth"), std::string::npos) << *out;
  // The agent's exact command line.
  auto expected = "--listen 0.0.0.0:7070 --iface eth0 --ip " + guest_ip(2) + "/24 --gateway " +
                  guest_ip(1) + " --work /work --uid 65534 --gid 65534 --secret-fd ";
  EXPECT_NE(out->find(expected), std::string::npos) << *out;
  EXPECT_NE(out->find(" --cgroup-memory /sys/fs/cgroup/memory --cgroup-pids /sys/fs/cgroup/pids "
                      "--cgroup-cpuacct /sys/fs/cgroup/cpuacct"),
            std::string::npos)
      << *out;
  EXPECT_NE(m.console_tail().find("stand-in agent up on " + guest_ip(2)), std::string::npos)
      << m.console_tail();

  // The host end is an isolated port of the bridge.
  EXPECT_EQ(fs::read_symlink("/sys/class/net/" + m.host_veth() + "/master").filename(), bridge_);
  std::ifstream isolated("/sys/class/net/" + m.host_veth() + "/brport/isolated");
  std::string flag;
  isolated >> flag;
  EXPECT_EQ(flag, "1");
}

TEST_F(JailMachineTest, InsideIsRootWithoutTheLaunchersEnvironmentOrADefaultRoute) {
  setenv("BERTH_JAIL_TEST_SECRET", "launcher-secret", 1);
  // A descriptor opened without O_CLOEXEC must not reach the jail either.
  int marker = memfd_create("berth-leak-marker", 0);
  ASSERT_GE(marker, 0);
  ASSERT_NE(fs::read_symlink("/proc/self/fd/" + std::to_string(marker))
                .string()
                .find("berth-leak-marker"),
            std::string::npos)
      << "the probe below would not see the marker";
  auto cfg = config(3);
  JailMachine m(cfg);
  auto started = m.start();
  unsetenv("BERTH_JAIL_TEST_SECRET");
  ASSERT_TRUE(started) << started.error() << "\n" << m.console_tail();
  auto out = jail_shell(guest_ip(3), kPort,
                        "echo uid=$(id -u)\n"
                        "echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline)\n"
                        "echo secret=$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | "
                        "grep -c BERTH_JAIL_TEST_SECRET)\n"
                        "echo leaked=$(ls -l /proc/[0-9]*/fd/ 2>/dev/null | grep -c leak-marker)\n"
                        "echo default=$(ip route | grep -c default)\n"
                        "echo addr=$(ip -4 -o addr show eth0 | grep -c ' " +
                            guest_ip(3) + "/24 ')\n");
  close(marker);
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(field(*out, "uid"), "0") << *out;
  EXPECT_EQ(field(*out, "pid1").rfind("busybox nc", 0), 0u) << "PID 1 is not the agent: " << *out;
  EXPECT_EQ(field(*out, "secret"), "0") << *out;
  EXPECT_EQ(field(*out, "leaked"), "0") << *out;
  EXPECT_EQ(field(*out, "default"), "0") << *out;
  EXPECT_EQ(field(*out, "addr"), "1") << *out;
}

TEST_F(JailMachineTest, LimitsCapabilitiesAndTheFilterApplyInside) {
  auto cfg = config(4);
  JailMachine m(cfg);
  auto started = m.start();
  ASSERT_TRUE(started) << started.error() << "\n" << m.console_tail();
  auto out = jail_shell(guest_ip(4), kPort,
                        "echo seccomp=$(grep Seccomp: /proc/self/status | tr -dc 0-9)\n"
                        "echo capeff=$(grep CapEff: /proc/self/status | cut -f2)\n"
                        "unshare --user true; echo userns=$?\n"
                        "setarch -R true; echo setarch=$?\n"
                        "touch /root-is-writable; echo root=$?\n"
                        "head -c 1000000 /dev/zero > /work/small; echo small=$?\n"
                        "head -c 9000000 /dev/zero > /work/big; echo big=$?\n"
                        "touch /tmp/x; echo tmp=$?\n"
                        "echo memcg=$(grep -c ':memory:/$' /proc/self/cgroup)\n"
                        "echo memlimit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)\n"
                        "echo pidsmax=$(cat /sys/fs/cgroup/pids/pids.max)\n"
                        "mkdir /sys/fs/cgroup/memory/step-1; echo step=$?\n"
                        "touch /sys/fs/cgroup/stray; echo cgtmpfs=$?\n"
                        "ls /sys; echo sys-done\n");
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(field(*out, "seccomp"), "2") << "no seccomp filter: " << *out;
  auto caps = plan_capabilities(*held_capabilities());
  char mask[17];
  std::snprintf(mask, sizeof mask, "%016llx", static_cast<unsigned long long>(caps.mask));
  EXPECT_EQ(field(*out, "capeff"), mask) << *out;
  EXPECT_NE(field(*out, "userns"), "0") << "a user namespace was created: " << *out;
  EXPECT_NE(field(*out, "setarch"), "0") << "personality(ADDR_NO_RANDOMIZE) passed: " << *out;
  EXPECT_NE(field(*out, "root"), "0") << *out;
  EXPECT_EQ(field(*out, "small"), "0") << *out;
  EXPECT_NE(field(*out, "big"), "0") << "/work is larger than work_dir_bytes: " << *out;
  EXPECT_EQ(field(*out, "tmp"), "0") << *out;
  EXPECT_EQ(field(*out, "memcg"), "1") << "not in its own cgroup namespace: " << *out;
  EXPECT_EQ(field(*out, "memlimit"), std::to_string((128ull + 64) << 20)) << *out;
  EXPECT_EQ(field(*out, "pidsmax"), "48") << *out;
  EXPECT_EQ(field(*out, "step"), "0") << "the agent cannot make step cgroups: " << *out;
  EXPECT_NE(field(*out, "cgtmpfs"), "0") << *out;
  EXPECT_NE(out->find("fs\nsys-done"), std::string::npos) << "/sys shows more than fs/: " << *out;
  // The step cgroup the "agent" made is the job cgroup's child on the host.
  EXPECT_TRUE(fs::exists(fs::path("/sys/fs/cgroup/memory/berth") / cfg.job_id / "step-1"));
}

size_t open_fds() {
  return static_cast<size_t>(
      std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator()));
}

TEST_F(JailMachineTest, StopLeavesNoProcessVethCgroupRunDirOrDescriptor) {
  auto fds_before = open_fds();
  auto cfg = config(5);
  JailMachine m(cfg);
  auto started = m.start();
  ASSERT_TRUE(started) << started.error() << "\n" << m.console_tail();
  auto out = jail_shell(
      guest_ip(5), kPort,
      "mkdir /sys/fs/cgroup/pids/step-1 && echo $$ > /sys/fs/cgroup/pids/step-1/cgroup.procs\n"
      "setsid sleep 1000 < /dev/null > /dev/null 2>&1 &\n"
      "echo started");
  ASSERT_TRUE(out) << out.error();
  ASSERT_NE(out->find("started"), std::string::npos) << *out;
  auto veth = m.host_veth();
  pid_t bwrap = m.launcher_pid(), agent = m.sandbox_pid();
  ASSERT_TRUE(fs::exists("/sys/class/net/" + veth));
  auto in_jail = cgroup_tree_pids(fs::path("/sys/fs/cgroup/memory/berth") / cfg.job_id);
  ASSERT_GE(in_jail.size(), 2u) << "the sleep is not in the job's cgroup";

  auto t0 = std::chrono::steady_clock::now();
  m.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "stop() is bounded";
  expect_nothing_left(cfg, veth);
  EXPECT_FALSE(proc_alive(bwrap));
  EXPECT_FALSE(proc_alive(agent));
  for (pid_t p : in_jail) EXPECT_FALSE(proc_alive(p)) << "pid " << p << " survived";
  EXPECT_EQ(m.poll(), MachineEnd::killed);
  EXPECT_NE(m.console_tail().find("stand-in agent up"), std::string::npos)
      << "the tail outlives the run dir";
  m.stop();  // idempotent
  expect_nothing_left(cfg, veth);
  EXPECT_EQ(open_fds(), fds_before) << "start/stop leaked a descriptor";
}

TEST_F(JailMachineTest, PollNoticesWhenTheAgentDies) {
  JailMachine m(config(6));
  auto started = m.start();
  ASSERT_TRUE(started) << started.error();
  ASSERT_EQ(m.poll(), MachineEnd::running);
  kill(m.sandbox_pid(), SIGKILL);
  EXPECT_TRUE(berth::test::eventually([&] { return m.poll() != MachineEnd::running; }, 5s));
  EXPECT_EQ(m.poll(), MachineEnd::killed);
}

TEST_F(JailMachineTest, AMachineIsNeverStartedTwice) {
  JailMachine m(config(7));
  ASSERT_TRUE(m.start());
  auto again = m.start();
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().find("already started"), std::string::npos) << again.error();
  EXPECT_EQ(m.poll(), MachineEnd::running) << "the refused start disturbed the running jail";
}

TEST_F(JailMachineTest, AMissingRootfsFailsByNameAndLeaksNothing) {
  auto cfg = config(8);
  cfg.rootfs = scratch_ / "no-such-rootfs";
  auto m = make_jail_machine(cfg);
  auto started = m->start();
  ASSERT_FALSE(started);
  EXPECT_NE(
      started.error().find("config: rootfs " + cfg.rootfs.string() + ": No such file or directory"),
      std::string::npos)
      << started.error();
  EXPECT_NE(m->poll(), MachineEnd::running);
  expect_nothing_left(cfg, net::host_veth_name(cfg.job_id));
}

TEST_F(JailMachineTest, ARootfsTheAgentCannotRunInFailsWithBwrapsWordsAndLeaksNothing) {
  // An empty rootfs has no /bin/sh for the stand-in's "#!/bin/sh": bwrap's execvp fails inside.
  auto cfg = config(9);
  cfg.rootfs = scratch_ / "empty-rootfs";
  fs::create_directories(cfg.rootfs);
  JailMachine m(cfg);
  auto started = m.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find("bwrap exited with status 1"), std::string::npos)
      << started.error();
  EXPECT_NE(started.error().find("execvp /.berth/agent: No such file or directory"),
            std::string::npos)
      << started.error();
  EXPECT_NE(m.console_tail().find("execvp"), std::string::npos) << m.console_tail();
  expect_nothing_left(cfg, net::host_veth_name(cfg.job_id));
}

TEST_F(JailMachineTest, AMissingBridgeFailsAtTheVethStepAndLeaksNothing) {
  auto cfg = config(10);
  cfg.net.bridge = "btnosuchbridge";
  JailMachine m(cfg);
  auto started = m.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().rfind("veth: bridge btnosuchbridge does not exist", 0), 0u)
      << started.error();
  expect_nothing_left(cfg, m.host_veth());
}

TEST_F(JailMachineTest, TheJailDiesWithTheThreadThatStartedIt) {
  // What the header warns about: --die-with-parent is PR_SET_PDEATHSIG, which fires when the
  // forking *thread* exits.
  JailMachine m(config(11));
  std::expected<void, std::string> started;
  std::thread([&] { started = m.start(); }).join();
  ASSERT_TRUE(started) << started.error();
  EXPECT_TRUE(berth::test::eventually([&] { return m.poll() != MachineEnd::running; }, 5s))
      << "the jail outlived the thread that started it";
}

}  // namespace
}  // namespace berth::vmm::jail::test
