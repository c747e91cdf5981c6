#include "actors/job_result.hpp"

#include <gtest/gtest.h>

namespace berth::actors {
namespace {

using messages::OutputChunk;
using messages::StepExit;
using messages::Stream;
using messages::Verdict;

TEST(JobResult, FailedCompileIsACompileErrorWithTheCompilerOutput) {
  JobResult r(1024);
  r.output({"compile", Stream::stderr_stream, "main.c:1: error"});
  StepExit e;
  e.step = "compile";
  e.verdict = Verdict::runtime_error;
  e.exit_code = 1;
  EXPECT_FALSE(r.step_exit(e)) << "no run step after a failed compile";
  EXPECT_EQ(r.result().verdict, Verdict::compile_error);
  EXPECT_EQ(r.result().compile_output, "main.c:1: error");
  EXPECT_TRUE(r.result().stdout_data.empty());
}

TEST(JobResult, RunStepDecidesAndOutputIsCapped) {
  JobResult r(4);
  StepExit c;
  c.step = "compile";
  c.verdict = Verdict::ok;
  c.cpu_ms = 10;
  EXPECT_TRUE(r.step_exit(c));
  r.output({"run", Stream::stdout_stream, "abc"});
  r.output({"run", Stream::stdout_stream, "def"});
  r.output({"run", Stream::stderr_stream, "e"});
  StepExit e;
  e.step = "run";
  e.verdict = Verdict::runtime_error;
  e.exit_code = 3;
  e.cpu_ms = 5;
  r.step_exit(e);
  EXPECT_EQ(r.result().verdict, Verdict::runtime_error);
  EXPECT_EQ(r.result().exit_code, 3);
  EXPECT_EQ(r.result().stdout_data, "abcd");
  EXPECT_TRUE(r.result().stdout_truncated);
  EXPECT_EQ(r.result().stderr_data, "e");
  EXPECT_FALSE(r.result().stderr_truncated);
  EXPECT_EQ(r.result().cpu_ms, 15u);
}

TEST(JobResult, AHostileAgentCannotStoreMoreThanTheCap) {
  // The agent caps output itself; the worker must not rely on it. A flood on every stream,
  // under made-up step names too, and an exit that claims nothing was truncated.
  const uint64_t cap = 100'000;
  JobResult r(cap);
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 200; ++i) {
    r.output({"compile", Stream::stderr_stream, chunk});
    r.output({"run", Stream::stdout_stream, chunk});
    r.output({"run", Stream::stderr_stream, chunk});
    r.output({"other-" + std::to_string(i), Stream::stdout_stream, chunk});
  }
  StepExit e;
  e.step = "run";
  e.verdict = Verdict::ok;
  e.stdout_truncated = false;
  e.stderr_truncated = false;
  r.step_exit(e);
  EXPECT_EQ(r.result().compile_output.size(), cap);
  EXPECT_EQ(r.result().stdout_data.size(), cap);
  EXPECT_EQ(r.result().stderr_data.size(), cap);
  EXPECT_TRUE(r.result().stdout_truncated) << "the worker's own finding stands";
  EXPECT_TRUE(r.result().stderr_truncated);
}

TEST(JobResult, EndOverridesWithTheReason) {
  JobResult r(10);
  r.end(Verdict::cancelled, "cancelled");
  EXPECT_TRUE(r.ended());
  EXPECT_EQ(r.result().verdict, Verdict::cancelled);
  EXPECT_EQ(r.result().message, "cancelled");
}

}  // namespace
}  // namespace berth::actors
