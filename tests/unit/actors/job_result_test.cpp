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

TEST(JobResult, EndOverridesWithTheReason) {
  JobResult r(10);
  r.end(Verdict::cancelled, "cancelled");
  EXPECT_TRUE(r.ended());
  EXPECT_EQ(r.result().verdict, Verdict::cancelled);
  EXPECT_EQ(r.result().message, "cancelled");
}

}  // namespace
}  // namespace berth::actors
