#pragma once
// Starts the real berth-agent binary for one test: a normal child process (not PID 1) listening
// on 127.0.0.1:<free port>, with a scratch work dir and cgroup v1 directories of its own under
// /sys/fs/cgroup/{memory,pids,cpuacct}/berth-agent-test-<pid>/. Connects as the supervisor
// and reads hello; on teardown checks that the agent exits by itself once the connection
// closes and that it left no step cgroup behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/unit/agent/agent_client.hpp"

namespace berth::agent::test {

inline const char* agent_binary() {
  return BERTH_BINARY_DIR "/agent/berth-agent";
}

class AgentTest : public ::testing::Test {
 protected:
  virtual bool use_cgroups() const { return true; }
  virtual std::map<std::string, std::string> agent_env() const { return {}; }
  // A command the agent's argv is appended to (e.g. bwrap, to make it PID 1); empty: none.
  virtual std::vector<std::string> launcher() const { return {}; }

  void SetUp() override;
  void TearDown() override;

  // Processes that are children of the agent right now (orphans of a step come to it, as it
  // is a subreaper outside a PID namespace).
  std::vector<int> agent_children() const;
  // The agent's pid as the host sees it (the launcher's child when there is a launcher).
  int agent_pid() const;
  std::filesystem::path cgroup_dir(const std::string& controller) const;

  std::filesystem::path scratch_;
  std::filesystem::path work_;
  berth::test::Process agent_;
  AgentClient client_;
  messages::Hello hello_;
  std::string secret_;             // what the agent was given through --secret-fd
  bool expect_clean_exit_ = true;  // exit status 0 after the connection closes

 private:
  void remove_cgroups();
  std::vector<std::string> controllers_;
};

class AgentNoCgroupTest : public AgentTest {
 protected:
  bool use_cgroups() const override { return false; }
};

}  // namespace berth::agent::test
