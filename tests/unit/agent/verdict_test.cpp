// The verdict precedence of a step's end (agent/verdict.cpp).
#include "agent/verdict.hpp"

#include <gtest/gtest.h>
#include <signal.h>

namespace berth::agent {
namespace {

using messages::Verdict;

int exited(int code) {
  return (code & 0xff) << 8;
}
int killed(int sig) {
  return sig & 0x7f;
}

messages::StepExit decided(const StepFacts& f) {
  messages::StepExit e;
  decide(f, e);
  return e;
}

StepFacts facts(int status) {
  StepFacts f;
  f.wait_status = status;
  f.memory_cgroup = true;
  return f;
}

TEST(AgentVerdict, CleanExitIsOk) {
  auto e = decided(facts(exited(0)));
  EXPECT_EQ(e.verdict, Verdict::ok);
  EXPECT_EQ(e.exit_code, 0);
  EXPECT_FALSE(e.signal);
}

TEST(AgentVerdict, NonZeroExitAndSignalsAreRuntimeErrors) {
  auto e = decided(facts(exited(3)));
  EXPECT_EQ(e.verdict, Verdict::runtime_error);
  EXPECT_EQ(e.exit_code, 3);
  e = decided(facts(killed(SIGABRT)));
  EXPECT_EQ(e.verdict, Verdict::runtime_error);
  EXPECT_EQ(e.signal, SIGABRT);
  EXPECT_FALSE(e.exit_code);
}

TEST(AgentVerdict, CancelledBeatsEverything) {
  auto f = facts(killed(SIGKILL));
  f.cancelled = f.wall_expired = f.cpu_exceeded = true;
  f.output_exceeded = "stdout";
  f.oom_kills = 1;
  EXPECT_EQ(decided(f).verdict, Verdict::cancelled);
}

TEST(AgentVerdict, TimeBeatsOutputBeatsMemoryBeatsRuntimeError) {
  auto f = facts(killed(SIGKILL));
  f.wall_expired = true;
  f.output_exceeded = "stdout";
  f.oom_kills = 1;
  EXPECT_EQ(decided(f).verdict, Verdict::time_limit);
  f.wall_expired = false;
  EXPECT_EQ(decided(f).verdict, Verdict::output_limit);
  f.output_exceeded.reset();
  EXPECT_EQ(decided(f).verdict, Verdict::memory_limit);
  f.oom_kills = 0;
  EXPECT_EQ(decided(f).verdict, Verdict::runtime_error);
}

TEST(AgentVerdict, CpuLimitSignals) {
  auto f = facts(killed(SIGXCPU));
  EXPECT_EQ(decided(f).verdict, Verdict::time_limit);
  f = facts(killed(SIGKILL));
  f.limits.cpu_ms = 1000;
  f.cpu_ms = 999;
  EXPECT_EQ(decided(f).verdict, Verdict::runtime_error);
  f.cpu_ms = 1000;
  EXPECT_EQ(decided(f).verdict, Verdict::time_limit);
}

TEST(AgentVerdict, MemoryFromFailcntOnlyWithSigkill) {
  auto f = facts(exited(1));
  f.memory_failcnt = 5;
  EXPECT_EQ(decided(f).verdict, Verdict::runtime_error);
  f = facts(killed(SIGKILL));
  f.memory_failcnt = 5;
  EXPECT_EQ(decided(f).verdict, Verdict::memory_limit);
}

TEST(AgentVerdict, MemoryWithoutCgroupFromPeak) {
  auto f = facts(exited(0));
  f.memory_cgroup = false;
  f.limits.memory_mib = 10;
  f.peak_memory_kib = 10 * 1024 - 1;
  EXPECT_EQ(decided(f).verdict, Verdict::ok);
  f.peak_memory_kib = 10 * 1024;
  EXPECT_EQ(decided(f).verdict, Verdict::memory_limit);
  // With a cgroup the peak alone says nothing: it reaches the limit whenever the cache fills it.
  f.memory_cgroup = true;
  EXPECT_EQ(decided(f).verdict, Verdict::ok);
}

TEST(AgentVerdict, SetupFailureIsInternalErrorAndExecFailure127) {
  auto f = facts(exited(126));
  f.setup_error = "setresuid: Operation not permitted";
  auto e = decided(f);
  EXPECT_EQ(e.verdict, Verdict::internal_error);
  EXPECT_NE(e.message.find("setresuid"), std::string::npos);
  f = facts(exited(127));
  f.exec_error = "cannot execute 'x': No such file or directory";
  e = decided(f);
  EXPECT_EQ(e.verdict, Verdict::runtime_error);
  EXPECT_EQ(e.exit_code, 127);
  EXPECT_EQ(e.message, f.exec_error);
}

TEST(AgentVerdict, NeverReapedIsInternalError) {
  StepFacts f;
  EXPECT_EQ(decided(f).verdict, Verdict::internal_error);
}

}  // namespace
}  // namespace berth::agent
