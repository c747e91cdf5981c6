// What the job can and cannot do to the machine and the agent: it runs as the unprivileged job
// user with no capabilities, cannot steer the agent's file writes out of the work dir, and
// cannot crash the agent with bad frames.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "tests/unit/agent/agent_fixture.hpp"

namespace berth::agent::test {
namespace {

using messages::Verdict;

TEST_F(AgentTest, JobRunsAsUid65534) {
  auto r = client_.run(shell("id -u; id -g; id -G"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.out, "65534\n65534\n65534\n");
}

TEST_F(AgentTest, JobCannotReadShadowOrTheAgentsEnvironment) {
  auto shadow = client_.run(exec_of({"/bin/cat", "/etc/shadow"}));
  ASSERT_TRUE(shadow.exit);
  EXPECT_EQ(shadow.exit->verdict, Verdict::runtime_error);
  EXPECT_EQ(shadow.out, "");
  EXPECT_NE(shadow.err.find("Permission denied"), std::string::npos) << shadow.err;

  // The job's parent is the agent, a root process.
  auto environ = client_.run(shell("cat /proc/$PPID/environ"));
  ASSERT_TRUE(environ.exit);
  EXPECT_EQ(environ.exit->verdict, Verdict::runtime_error);
  EXPECT_EQ(environ.out, "");
}

TEST_F(AgentTest, JobHasNoCapabilitiesAndNoNewPrivs) {
  auto r = client_.run(
      shell("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.out,
            "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"
            "CapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n");
}

TEST_F(AgentTest, JobInheritsOnlyItsThreeStandardDescriptors) {
  // The supervisor socket, signalfd and the other pipes' ends must not leak into the job.
  auto r = client_.run(shell("ls /proc/$$/fd"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.out, "0\n1\n2\n");
}

TEST_F(AgentTest, JobLimitsAreSet) {
  auto r = client_.run(shell("ulimit -n; ulimit -c; ulimit -t; ulimit -f"));
  ASSERT_TRUE(r.exit);
  // dash reports file size in 512-byte blocks: 16 MiB is 32768.
  EXPECT_EQ(r.out, "256\n0\n6\n32768\n");
}

TEST_F(AgentTest, BadFileNamesAreRejectedAndNamed) {
  auto escape = scratch_ / "escape";
  for (std::string name : {"/etc/berth-agent-test", "../escape", "a/../../escape", "", "dir/"}) {
    auto step = exec_of({"/bin/true"});
    step.files = {{"ok.txt", "fine"}, {name, "evil"}};
    auto r = client_.run(step);
    ASSERT_TRUE(r.exit) << name;
    EXPECT_EQ(r.exit->verdict, Verdict::internal_error) << name;
    EXPECT_NE(r.exit->message.find("'" + name + "'"), std::string::npos) << r.exit->message;
    EXPECT_FALSE(r.exit->exit_code);
  }
  EXPECT_FALSE(std::filesystem::exists(escape));
  EXPECT_FALSE(std::filesystem::exists("/etc/berth-agent-test"));
}

TEST_F(AgentTest, PlantedSymlinkDoesNotRedirectTheAgentsWrites) {
  auto victim = scratch_ / "victim";
  std::ofstream(victim) << "original";
  chmod(victim.c_str(), 0644);
  auto plant = client_.run(shell("ln -s " + victim.string() +
                                 " planted && mkdir real && "
                                 "ln -s " +
                                 scratch_.string() + " real/up"));
  ASSERT_TRUE(plant.exit);
  ASSERT_EQ(plant.exit->verdict, Verdict::ok) << plant.exit->message << plant.err;

  for (std::string name : {"planted", "real/up/victim"}) {
    auto step = exec_of({"/bin/true"});
    step.files = {{name, "overwritten"}};
    auto r = client_.run(step);
    ASSERT_TRUE(r.exit);
    EXPECT_EQ(r.exit->verdict, Verdict::internal_error) << name;
    EXPECT_NE(r.exit->message.find(name), std::string::npos) << r.exit->message;
  }
  std::stringstream content;
  content << std::ifstream(victim).rdbuf();
  EXPECT_EQ(content.str(), "original");
}

TEST_F(AgentTest, GarbageFrameMakesTheAgentCloseTheConnection) {
  client_.send_raw(std::string("\x00\x00\x00\x05hello", 9));
  EXPECT_TRUE(client_.wait_closed(3s));
  EXPECT_NE(agent_.wait(3s), -1) << "the agent kept running";
  EXPECT_NE(agent_.log_text().find("bad frame"), std::string::npos) << agent_.log_text();
}

TEST_F(AgentTest, OversizedFrameMakesTheAgentCloseTheConnection) {
  client_.send_raw(std::string("\xff\xff\xff\xff", 4));
  EXPECT_TRUE(client_.wait_closed(3s));
  EXPECT_NE(agent_.wait(3s), -1) << "the agent kept running";
}

TEST_F(AgentTest, MessageWithoutItsBodyMakesTheAgentCloseTheConnection) {
  messages::AgentMessage m;
  m.type = messages::AgentMsgType::exec;  // but no exec member
  client_.send(m);
  EXPECT_TRUE(client_.wait_closed(3s));
}

TEST_F(AgentTest, BadFrameDuringAStepKillsTheStep) {
  client_.send(messages::make_message(shell("echo $$ > pid; echo started; exec sleep 30")));
  auto first = client_.recv(5s);
  ASSERT_TRUE(first && first->type == messages::AgentMsgType::output);
  int pid = 0;
  std::ifstream(work_ / "pid") >> pid;
  ASSERT_GT(pid, 0);
  client_.send_raw(std::string("\x00\x00\x00\x01\xc1", 5));  // 0xc1: never valid msgpack
  EXPECT_TRUE(client_.wait_closed(3s));
  EXPECT_NE(agent_.wait(3s), -1);
  EXPECT_TRUE(berth::test::eventually([&] { return kill(pid, 0) != 0; }, 3s))
      << "the step's process " << pid << " outlived the agent";
}

}  // namespace
}  // namespace berth::agent::test
