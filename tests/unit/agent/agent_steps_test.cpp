// The agent running steps: output, stdin, arguments, environment, exit codes and the files a
// step brings, against the real binary.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <set>
#include <sstream>

#include "messages/agent_auth.hpp"
#include "tests/unit/agent/agent_fixture.hpp"

namespace berth::agent::test {
namespace {

using messages::Verdict;

TEST_F(AgentTest, HelloCarriesVersionAndUptime) {
  EXPECT_EQ(hello_.protocol_version, messages::kAgentProtocolVersion);
  EXPECT_NE(hello_.agent_version.find("berth-agent"), std::string::npos);
  EXPECT_GT(hello_.uptime_ms, 0);
}

// The secret came in through --secret-fd; the proof is for this challenge's nonce only.
TEST_F(AgentTest, ProvesTheSecretItWasGivenForEachNonce) {
  auto nonce = *messages::random_bytes(messages::kNonceBytes);
  client_.send(messages::make_message(messages::Challenge{nonce}));
  auto proof = client_.recv(5s);
  ASSERT_TRUE(proof && proof->type == messages::AgentMsgType::proof) << agent_.log_text();
  EXPECT_TRUE(messages::proof_matches(messages::agent_proof(secret_, nonce), proof->proof->mac));
  EXPECT_FALSE(messages::proof_matches(
      messages::agent_proof(secret_, *messages::random_bytes(messages::kNonceBytes)),
      proof->proof->mac));
  // The job cannot read the secret from where the agent got it: the descriptor is closed.
  auto r =
      client_.run(shell("ls /proc/1/fd 2>/dev/null | wc -l; ls -l /proc/$PPID/fd 2>&1 | "
                        "grep -c memfd || true"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.out.find(messages::to_hex(secret_)), std::string::npos);
}

TEST_F(AgentTest, HelloWorldThroughSh) {
  auto r = client_.run(shell("echo hello world; echo oops >&2"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.exit->step, "run");
  EXPECT_EQ(r.exit->exit_code, 0);
  EXPECT_FALSE(r.exit->signal);
  EXPECT_EQ(r.out, "hello world\n");
  EXPECT_EQ(r.err, "oops\n");
  EXPECT_FALSE(r.exit->stdout_truncated);
  EXPECT_LT(r.exit->wall_ms, 2000u);
  EXPECT_GT(r.exit->peak_memory_kib, 0u);
}

TEST_F(AgentTest, StdinRoundTrip) {
  auto step = exec_of({"/bin/cat"});
  step.stdin_data = "line one\nline two\n";
  auto r = client_.run(step);
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.out, "line one\nline two\n");
}

TEST_F(AgentTest, OneMebibyteOfStdinComesBackWhole) {
  // Both pipes fill up while cat copies: the agent must write stdin and read stdout in the same
  // loop or the two deadlock.
  std::string data;
  data.reserve(1 << 20);
  for (size_t i = 0; data.size() < (1u << 20); ++i) data += std::to_string(i * 7919) + "\n";
  data.resize(1 << 20);
  messages::Limits limits;
  limits.output_bytes = 2 << 20;
  auto step = exec_of({"/bin/cat"}, limits);
  step.stdin_data = data;
  auto r = client_.run(step);
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.out.size(), data.size());
  EXPECT_TRUE(r.out == data);
  EXPECT_LE(r.largest_chunk, 64u * 1024);
  EXPECT_GT(r.chunks, 1);
}

TEST_F(AgentTest, StepThatIgnoresStdinStillEnds) {
  auto step = shell("exec 0<&-; echo closed");
  step.stdin_data = std::string(4 << 20, 'x');
  auto r = client_.run(step);
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.out, "closed\n");
}

TEST_F(AgentTest, ArgumentsArePassedVerbatim) {
  auto r = client_.run(
      exec_of({"/bin/sh", "-c", "printf '[%s]' \"$@\"", "sh", "a b", "", "*", "$HOME"}));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.out, "[a b][][*][$HOME]");
}

TEST_F(AgentTest, ExecUsesPathSearch) {
  auto r = client_.run(exec_of({"echo", "found"}));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.out, "found\n");
}

TEST_F(AgentTest, NonZeroExitIsRuntimeError) {
  auto r = client_.run(shell("echo before; exit 3"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::runtime_error);
  EXPECT_EQ(r.exit->exit_code, 3);
  EXPECT_FALSE(r.exit->signal);
  EXPECT_EQ(r.out, "before\n");
  EXPECT_NE(r.exit->message.find("3"), std::string::npos);
}

TEST_F(AgentTest, DeathBySignalIsRuntimeErrorWithTheSignal) {
  auto r = client_.run(shell("kill -SEGV $$"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::runtime_error);
  EXPECT_EQ(r.exit->signal, SIGSEGV);
  EXPECT_FALSE(r.exit->exit_code);
  EXPECT_NE(r.exit->message.find("SIGSEGV"), std::string::npos) << r.exit->message;
}

TEST_F(AgentTest, MissingProgramIsExitCode127) {
  auto r = client_.run(exec_of({"/nonexistent/prog", "x"}));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::runtime_error);
  EXPECT_EQ(r.exit->exit_code, 127);
  EXPECT_NE(r.exit->message.find("/nonexistent/prog"), std::string::npos) << r.exit->message;
}

class AgentEnvTest : public AgentTest {
 protected:
  std::map<std::string, std::string> agent_env() const override {
    return {{"BERTH_AGENT_SECRET", "launcher-only"}};
  }
};

TEST_F(AgentEnvTest, EnvironmentIsExactlyTheStepsPlusPathAndHome) {
  auto step = exec_of({"/usr/bin/env"});
  step.env = {{"FOO", "bar baz"}, {"EMPTY", ""}};
  auto r = client_.run(step);
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  std::multiset<std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);) lines.insert(l);
  std::multiset<std::string> want = {"FOO=bar baz", "EMPTY=", "PATH=/usr/local/bin:/usr/bin:/bin",
                                     "HOME=" + work_.string()};
  EXPECT_EQ(lines, want) << r.out;
}

TEST_F(AgentTest, StepsOwnPathAndHomeWin) {
  auto step = shell("echo $PATH $HOME");
  step.env = {{"PATH", "/bin"}, {"HOME", "/tmp"}};
  auto r = client_.run(step);
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.out, "/bin /tmp\n");
}

TEST_F(AgentTest, FilesAreWrittenIntoTheWorkDirOwnedByTheJob) {
  auto step = exec_of({"/bin/sh", "main.sh"});
  step.files = {{"main.sh", "pwd; cat sub/dir/data.txt; stat -c '%u:%g %a' sub sub/dir/data.txt\n"},
                {"sub/dir/data.txt", "payload\n"}};
  auto r = client_.run(step);
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message << r.err;
  EXPECT_EQ(r.out, work_.string() + "\npayload\n65534:65534 755\n65534:65534 644\n");
}

TEST_F(AgentTest, LaterStepsSeeEarlierStepsFiles) {
  auto first = client_.run(shell("echo compiled > artifact"));
  ASSERT_TRUE(first.exit);
  ASSERT_EQ(first.exit->verdict, Verdict::ok) << first.exit->message << first.err;
  auto second = client_.run(shell("cat artifact"));
  ASSERT_TRUE(second.exit);
  EXPECT_EQ(second.out, "compiled\n");
}

TEST_F(AgentTest, ExecsSentBackToBackRunInOrder) {
  client_.send(messages::make_message(shell("sleep 0.2; echo one")));
  client_.send(messages::make_message(shell("echo two")));
  auto a = client_.collect(10s);
  auto b = client_.collect(10s);
  ASSERT_TRUE(a.exit && b.exit);
  EXPECT_EQ(a.out, "one\n");
  EXPECT_EQ(b.out, "two\n");
}

TEST_F(AgentTest, ClosingTheConnectionKillsTheStepAndEndsTheAgent) {
  client_.send(messages::make_message(shell("echo $$ > pid; exec sleep 30")));
  auto pid_file = work_ / "pid";
  ASSERT_TRUE(berth::test::eventually(
      [&] {
        std::error_code ec;
        auto size = std::filesystem::file_size(pid_file, ec);
        return !ec && size > 0;
      },
      5s));
  int pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, 0), 0);
  client_.close();
  EXPECT_NE(agent_.wait(3s), -1) << "the agent did not exit";
  EXPECT_TRUE(berth::test::eventually([&] { return kill(pid, 0) != 0; }, 3s))
      << "the step's process " << pid << " outlived the agent";
}

class AgentNoCgroupRunTest : public AgentNoCgroupTest {};

TEST_F(AgentNoCgroupRunTest, RunsAndMeasuresWithoutCgroups) {
  auto r = client_.run(exec_of({"/usr/bin/python3", "-c",
                                "import time\nt=time.process_time()\n"
                                "while time.process_time()-t < 0.3: pass\nprint('done')"}));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message << r.err;
  EXPECT_EQ(r.out, "done\n");
  EXPECT_GE(r.exit->cpu_ms, 250u);            // from wait4's rusage
  EXPECT_GT(r.exit->peak_memory_kib, 1000u);  // ru_maxrss of python
}

}  // namespace
}  // namespace berth::agent::test
