// Nothing is lost when a part of the stack is down or restarts.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/pipeline/stack.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

TEST(Restart, JobSubmittedWhileTheWorkerIsDownRunsWhenItStarts) {
  Stack stack;
  stack.stop_worker();
  auto id = stack.submit(job("bash", "echo waited"));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(stack.get(id)["state"], "queued");
  stack.start_worker();
  auto rec = stack.wait_finished(id, 120s);
  EXPECT_EQ(rec["result"]["verdict"], "ok") << rec.dump(2);
  EXPECT_EQ(rec["result"]["stdout"], "waited\n");
}

TEST(Restart, GatewayRestartLosesNoQueuedJob) {
  Stack stack;
  stack.stop_worker();
  auto id = stack.submit(job("bash", "echo kept"));
  stack.stop_gateway();
  stack.start_gateway();
  EXPECT_EQ(stack.get(id)["state"], "queued");
  stack.start_worker();
  auto rec = stack.wait_finished(id, 120s);
  EXPECT_EQ(rec["result"]["verdict"], "ok") << rec.dump(2);
  EXPECT_EQ(rec["result"]["stdout"], "kept\n");
}

}  // namespace
}  // namespace berth::test
