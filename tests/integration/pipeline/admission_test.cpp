// The worker admits jobs by memory as well as by slots (actors/memory_budget.hpp): two slots,
// but memory for one such job at a time, so the second waits for the first; a job that can never
// fit is refused with the reason instead of waiting forever.
#include <gtest/gtest.h>

#include "tests/integration/pipeline/stack.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;

TEST(Admission, MemoryBoundsConcurrencyAndRefusesWhatCanNeverFit) {
  // A job of 256 MiB reserves 320 in a jail; 500 admits one at a time.
  Stack stack(StackOptions{.slots = 2, .worker_args = {"--memory-mib", "500"}});
  auto sleeper = job("bash", "sleep 2; echo done");
  sleeper["limits"] = {{"memory_mib", 256}, {"wall_ms", 10000}};
  auto a = stack.submit(sleeper), b = stack.submit(sleeper);
  auto huge = job("bash", "echo never");
  huge["limits"] = {{"memory_mib", 1024}};
  auto c = stack.submit(huge);

  auto ra = stack.wait_finished(a, 120s), rb = stack.wait_finished(b, 120s),
       rc = stack.wait_finished(c, 120s);
  SCOPED_TRACE(ra.dump(2) + "\n" + rb.dump(2) + "\n" + rc.dump(2));
  EXPECT_EQ(ra["result"]["verdict"], "ok");
  EXPECT_EQ(rb["result"]["verdict"], "ok");
  // One ran after the other: the later start is not before the earlier finish.
  auto [first, second] =
      ra["started_ms"] < rb["started_ms"] ? std::pair{ra, rb} : std::pair{rb, ra};
  EXPECT_GE(second["started_ms"].get<int64_t>(), first["finished_ms"].get<int64_t>() - 50);

  EXPECT_EQ(rc["result"]["verdict"], "internal_error");
  EXPECT_NE(rc["result"]["message"].get<std::string>().find("admits at most 500 MiB"),
            std::string::npos);
  EXPECT_EQ(rc["attempts"], 1);
}

}  // namespace
}  // namespace berth::test
