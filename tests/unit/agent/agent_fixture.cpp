#include "tests/unit/agent/agent_fixture.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "messages/agent_auth.hpp"
#include "tests/support/ports.hpp"

namespace berth::agent::test {

namespace fs = std::filesystem;

fs::path AgentTest::cgroup_dir(const std::string& controller) const {
  return fs::path("/sys/fs/cgroup") / controller / ("berth-agent-test-" + std::to_string(getpid()));
}

void AgentTest::SetUp() {
  scratch_ = berth::test::scratch_dir("agent");
  work_ = scratch_ / "work";
  uint16_t port = berth::test::free_port();
  std::vector<std::string> argv = {agent_binary(), "--listen", "127.0.0.1:" + std::to_string(port),
                                   "--work", work_.string()};
  if (use_cgroups()) {
    for (std::string c : {"memory", "pids", "cpuacct"}) {
      auto dir = cgroup_dir(c);
      std::error_code ec;
      fs::create_directories(dir, ec);
      ASSERT_FALSE(ec) << "cannot create " << dir << ": " << ec.message();
      controllers_.push_back(c);
      argv.push_back("--cgroup-" + c);
      argv.push_back(dir.string());
    }
  }
  // The machine's secret, as the jail hands it over: hex text on an inherited descriptor.
  secret_ = *messages::random_bytes(messages::kSecretBytes);
  int secret_pipe[2];
  ASSERT_EQ(pipe(secret_pipe), 0);
  auto hex = messages::to_hex(secret_) + "\n";
  ASSERT_EQ(write(secret_pipe[1], hex.data(), hex.size()), static_cast<ssize_t>(hex.size()));
  close(secret_pipe[1]);
  argv.push_back("--secret-fd");
  argv.push_back(std::to_string(secret_pipe[0]));
  auto wrapped = launcher();
  if (!wrapped.empty()) fs::create_directories(work_);  // the launcher binds it in
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  agent_ = berth::test::Process(wrapped, scratch_ / "agent.log", agent_env());
  close(secret_pipe[0]);
  ASSERT_TRUE(client_.connect("127.0.0.1", port, 5s)) << agent_.log_text();
  auto hello = client_.recv(5s);
  ASSERT_TRUE(hello && hello->type == messages::AgentMsgType::hello) << agent_.log_text();
  hello_ = *hello->hello;
}

void AgentTest::TearDown() {
  client_.close();
  if (agent_.pid() > 0) {
    int status = agent_.wait(3s);
    if (expect_clean_exit_) {
      EXPECT_NE(status, -1) << "the agent did not exit after the connection closed";
      if (status != -1) {
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "agent wait status " << status;
      }
    }
    agent_.stop(1s);
  }
  remove_cgroups();
  if (HasFailure()) std::cerr << "--- agent log ---\n" << agent_.log_text();
  std::error_code ec;
  fs::remove_all(scratch_, ec);
}

void AgentTest::remove_cgroups() {
  for (const auto& c : controllers_) {
    auto dir = cgroup_dir(c);
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (!entry.is_directory()) continue;
      ADD_FAILURE() << "the agent left " << entry.path() << " behind";
      ::rmdir(entry.path().c_str());
    }
    ::rmdir(dir.c_str());
  }
  controllers_.clear();
}

namespace {
std::vector<int> children_of(int pid) {
  std::vector<int> out;
  if (pid <= 0) return out;
  auto task_dir = fs::path("/proc") / std::to_string(pid) / "task";
  std::error_code ec;
  for (const auto& t : fs::directory_iterator(task_dir, ec)) {
    std::ifstream in(t.path() / "children");
    int child;
    while (in >> child) out.push_back(child);
  }
  return out;
}
}  // namespace

int AgentTest::agent_pid() const {
  if (launcher().empty()) return agent_.pid();
  auto kids = children_of(agent_.pid());
  return kids.empty() ? -1 : kids.front();
}

std::vector<int> AgentTest::agent_children() const {
  return children_of(agent_pid());
}

}  // namespace berth::agent::test
