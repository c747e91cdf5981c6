#pragma once
// Shared by the jail suites: a stand-in for berth-agent (the real one is built elsewhere), a
// client for the remote shell it serves, and a fixture that owns a throwaway bridge on a
// random 10.213.X.0/24.
//
// The stand-in is a shell script bound in as the agent, with the host's root as the rootfs:
// it records its arguments, waits for eth0, configures it from --ip like the agent does, and
// then serves /bin/sh on the agent port (busybox nc -ll -e), so a test can run commands inside
// the jail over the very path the worker uses to reach the agent.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "vmm/jail/jail_machine.hpp"
#include "vmm/net/ipv4.hpp"

namespace berth::vmm::jail::test {

// Why the machine-level tests cannot run here, or empty: they need root, bwrap, cgroup v1's
// memory controller and busybox.
std::string jail_unsupported_reason();

// Writes the stand-in agent script into `dir`; returns its path.
std::filesystem::path write_stand_in_agent(const std::filesystem::path& dir);

// Connects to ip:port (retrying until `timeout`), sends `script` to the shell there, closes the
// sending side and returns everything the shell printed until it exited.
std::expected<std::string, std::string> jail_shell(
    const std::string& ip, uint16_t port, const std::string& script,
    std::chrono::milliseconds timeout = std::chrono::seconds(15));

// Pids of this process's children (all threads), for "leaks nothing" checks.
std::vector<pid_t> child_pids();

class JailFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;
  void TearDown() override;

  // A config for a jail on the suite's bridge at host number `host` (2..254) of its network.
  MachineConfig config(int host);
  std::string guest_ip(int host) const;

  static inline std::string bridge_;
  static inline net::Cidr network_ = *net::Cidr::parse("10.213.255.0/24");
  static inline std::string setup_error_;
  std::filesystem::path scratch_;
  std::filesystem::path agent_;
  std::string id_prefix_;
  static constexpr uint16_t kPort = 7070;
};

}  // namespace berth::vmm::jail::test
