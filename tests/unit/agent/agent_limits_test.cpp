// The agent enforcing a step's limits: wall and cpu time, memory, output, processes, and
// cancellation, against the real binary with real cgroups.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/unit/agent/agent_fixture.hpp"

namespace berth::agent::test {
namespace {

using messages::Verdict;

messages::Limits limits_with(uint32_t wall_ms, uint32_t cpu_ms) {
  messages::Limits l;
  l.wall_ms = wall_ms;
  l.cpu_ms = cpu_ms;
  return l;
}

TEST_F(AgentTest, BusyLoopHitsTheWallLimit) {
  auto r = client_.run(shell("while true; do :; done", limits_with(1000, 20'000)));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::time_limit) << r.exit->message;
  EXPECT_NE(r.exit->message.find("wall"), std::string::npos) << r.exit->message;
  EXPECT_GE(r.exit->wall_ms, 1000u);
  EXPECT_LT(r.elapsed, 2000ms);
  EXPECT_EQ(r.exit->signal, SIGKILL);
}

TEST_F(AgentTest, SleepingHitsTheWallLimitToo) {
  auto r = client_.run(shell("sleep 30", limits_with(500, 5000)));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::time_limit) << r.exit->message;
  EXPECT_LT(r.elapsed, 1500ms);
}

TEST_F(AgentTest, BusyLoopHitsTheCpuLimit) {
  auto r = client_.run(shell("while true; do :; done", limits_with(10'000, 500)));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::time_limit) << r.exit->message;
  EXPECT_NE(r.exit->message.find("cpu"), std::string::npos) << r.exit->message;
  EXPECT_GE(r.exit->cpu_ms, 500u);
  EXPECT_LT(r.elapsed, 3000ms);
}

TEST_F(AgentTest, CpuOfAllProcessesCounts) {
  // Two busy children of 400 ms of cpu each stay under RLIMIT_CPU, together they pass 600 ms.
  auto script =
      "for i in 1 2; do /usr/bin/python3 -c 'import time\nt=time.process_time()\n"
      "while time.process_time()-t < 0.45: pass' & done; wait";
  auto r = client_.run(shell(script, limits_with(10'000, 600)));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::time_limit) << r.exit->message;
}

TEST_F(AgentTest, AllocatingTwoGibibytesHitsTheMemoryLimit) {
  messages::Limits l;
  l.memory_mib = 256;
  l.wall_ms = 20'000;
  l.cpu_ms = 20'000;
  auto r = client_.run(exec_of({"/usr/bin/python3", "-c",
                                "b = bytearray(2 << 30)\nb[::4096] = b'x' * len(b[::4096])\n"
                                "print('survived')"},
                               l));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::memory_limit) << r.exit->message << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_GE(r.exit->peak_memory_kib, 200u * 1024);
  EXPECT_LE(r.exit->peak_memory_kib, 257u * 1024);
}

TEST_F(AgentTest, ModestAllocationIsFine) {
  messages::Limits l;
  l.memory_mib = 256;
  auto r = client_.run(exec_of({"/usr/bin/python3", "-c",
                                "b = bytearray(64 << 20)\nb[::4096] = b'x' * len(b[::4096])\n"
                                "print('survived')"},
                               l));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message << r.err;
  EXPECT_EQ(r.out, "survived\n");
  EXPECT_GE(r.exit->peak_memory_kib, 64u * 1024);
}

TEST_F(AgentTest, PrintingForeverHitsTheOutputLimitWithExactlyTheCap) {
  messages::Limits l;
  l.output_bytes = 100'000;
  auto r = client_.run(exec_of({"/usr/bin/yes", "berth"}, l));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::output_limit) << r.exit->message;
  EXPECT_EQ(r.out.size(), 100'000u);
  EXPECT_TRUE(r.exit->stdout_truncated);
  EXPECT_FALSE(r.exit->stderr_truncated);
  EXPECT_NE(r.exit->message.find("stdout"), std::string::npos) << r.exit->message;
  EXPECT_LT(r.elapsed, 3000ms);
}

TEST_F(AgentTest, StderrHasItsOwnCap) {
  messages::Limits l;
  l.output_bytes = 100'000;
  auto r =
      client_.run(shell("head -c 60000 /dev/zero; head -c 60000 /dev/zero >&2; "
                        "head -c 200000 /dev/zero >&2; echo not reached",
                        l));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::output_limit) << r.exit->message;
  EXPECT_EQ(r.out.size(), 60'000u);
  EXPECT_EQ(r.err.size(), 100'000u);
  EXPECT_FALSE(r.exit->stdout_truncated);
  EXPECT_TRUE(r.exit->stderr_truncated);
}

TEST_F(AgentTest, OutputAtTheCapIsNotTruncated) {
  messages::Limits l;
  l.output_bytes = 100'000;
  auto r = client_.run(shell("head -c 100000 /dev/zero", l));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.out.size(), 100'000u);
  EXPECT_FALSE(r.exit->stdout_truncated);
}

TEST_F(AgentTest, WritingPastTheFileSizeLimitIsARuntimeError) {
  messages::Limits l;
  l.file_size_bytes = 1 << 20;
  auto r = client_.run(shell("head -c 2000000 /dev/zero > big", l));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::runtime_error) << r.exit->message;
  EXPECT_EQ(std::filesystem::file_size(work_ / "big"), 1u << 20);
}

TEST_F(AgentTest, ForkBombIsContainedAndTheAgentServesTheNextStep) {
  messages::Limits l;
  l.processes = 32;
  l.wall_ms = 3000;
  auto r = client_.run(exec_of({"/bin/bash", "-c", ":(){ :|:& };: ; sleep 1.5"}, l), 15s);
  ASSERT_TRUE(r.exit) << "the agent did not answer during a fork bomb";
  EXPECT_LT(r.elapsed, 6000ms);
  // pids.peak of the parent counts every process the step ever had at once.
  std::ifstream peak_file(cgroup_dir("pids") / "pids.peak");
  uint64_t peak = 0;
  ASSERT_TRUE(peak_file >> peak);
  EXPECT_GT(peak, 5u) << "the bomb did not go off";
  EXPECT_LE(peak, 32u);
  EXPECT_TRUE(berth::test::eventually([&] { return agent_children().empty(); }, 2s))
      << agent_children().size() << " processes of the bomb survived";

  auto next = client_.run(shell("echo still here"));
  ASSERT_TRUE(next.exit);
  EXPECT_EQ(next.exit->verdict, Verdict::ok) << next.exit->message << next.err;
  EXPECT_EQ(next.out, "still here\n");
}

TEST_F(AgentTest, BackgroundProcessesDieWithTheMainProcess) {
  // The pause lets setsid leave the step's process group before the main process ends: only
  // the cgroup still finds it then.
  auto r = client_.run(shell("(sleep 30; echo late) & setsid sleep 30 & sleep 0.2; echo main"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok) << r.exit->message;
  EXPECT_EQ(r.out, "main\n");
  EXPECT_LT(r.elapsed, 2000ms);
  EXPECT_TRUE(berth::test::eventually([&] { return agent_children().empty(); }, 2s));
}

TEST_F(AgentTest, CancelStopsARunningStepWithinOneSecond) {
  client_.send(messages::make_message(shell("echo started; exec sleep 30")));
  auto first = client_.recv(5s);
  ASSERT_TRUE(first && first->type == messages::AgentMsgType::output);
  auto start = std::chrono::steady_clock::now();
  client_.send(messages::make_message(messages::Cancel{"test"}));
  auto r = client_.collect(5s);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::cancelled) << r.exit->message;
  EXPECT_LT(took, 1000ms);
}

TEST_F(AgentTest, CancelWithoutAStepIsHarmless) {
  client_.send(messages::make_message(messages::Cancel{"nothing to cancel"}));
  auto r = client_.run(shell("echo ok"));
  ASSERT_TRUE(r.exit);
  EXPECT_EQ(r.exit->verdict, Verdict::ok);
}

}  // namespace
}  // namespace berth::agent::test
