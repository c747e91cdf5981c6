// A job that runs longer than the consumer's ack wait stays with the worker that claimed it:
// its supervisor renews the claim ("in progress") from the moment it takes the job, so JetStream
// never hands it to the second worker while the first still runs it.
#include <gtest/gtest.h>

#include "tests/integration/pipeline/stack.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

TEST(Redelivery, JobLongerThanTheAckWaitRunsOnceWithTwoWorkers) {
  // 1.5 s of ack wait against a job of 4.5 s: three ack waits pass while it runs.
  Stack stack(StackOptions{.slots = 1, .workers = 2, .ack_wait_ms = 1500});
  auto j = job("bash", "sleep 4.5; echo once");
  j["limits"] = {{"wall_ms", 15000}};
  auto id = stack.submit(j);
  auto rec = stack.wait_finished(id, 120s);
  SCOPED_TRACE(rec.dump(2));
  EXPECT_EQ(rec["result"]["verdict"], "ok");
  EXPECT_EQ(rec["result"]["stdout"], "once\n");
  EXPECT_EQ(rec["attempts"], 1);
  // Each claim logs "[id] scheduled"; exactly one worker claimed it, exactly once.
  std::string claim = "[" + id + "] scheduled";
  EXPECT_EQ(count(stack.worker_log(0), claim) + count(stack.worker_log(1), claim), 1u)
      << "worker 0:\n"
      << stack.worker_log(0) << "\nworker 1:\n"
      << stack.worker_log(1);
}

}  // namespace
}  // namespace berth::test
