// Limits a hostile or broken job runs into, and what the worker makes of them.
#include <gtest/gtest.h>

#include <thread>

#include "tests/integration/pipeline/stack.hpp"

namespace berth::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class Limits : public StackSuite {};

TEST_F(Limits, EndlessLoopEndsAtTheWallLimit) {
  auto j = job("python", "while True: pass");
  j["limits"] = {{"wall_ms", 2000}, {"cpu_ms", 10000}};
  auto rec = stack_->run(j);
  auto& res = rec["result"];
  EXPECT_EQ(res["verdict"], "time_limit") << rec.dump(2);
  EXPECT_GE(res["wall_ms"].get<int>(), 2000);
  EXPECT_LE(res["wall_ms"].get<int>(), 3000) << "killed within limit + 1 s";
}

TEST_F(Limits, AllocatingTwoGiBWithA256MiBLimit) {
  auto j =
      job("python",
          "b = bytearray(2 << 30)\nfor i in range(0, len(b), 4096): b[i] = 1\nprint('survived')");
  j["limits"] = {{"memory_mib", 256}, {"wall_ms", 20000}, {"cpu_ms", 20000}};
  auto rec = stack_->run(j);
  EXPECT_EQ(rec["result"]["verdict"], "memory_limit") << rec.dump(2);
  EXPECT_EQ(rec["result"]["stdout"], "");
}

TEST_F(Limits, PrintingForeverIsCutAtTheOutputLimit) {
  auto j = job("python", "while True: print('y' * 1000)");
  j["limits"] = {{"output_bytes", 65536}, {"wall_ms", 10000}};
  auto rec = stack_->run(j);
  auto& res = rec["result"];
  EXPECT_EQ(res["verdict"], "output_limit") << rec.dump(2).substr(0, 2000);
  EXPECT_EQ(res["stdout"].get<std::string>().size(), 65536u);
  EXPECT_TRUE(res["stdout_truncated"].get<bool>());
}

TEST_F(Limits, ForkBombIsContainedAndTheWorkerStaysHealthy) {
  // The main shell waits while the bomb runs into the pids limit, then reports whether it
  // could still start a process of its own.
  auto j = job("bash", "bomb() { bomb | bomb & }; bomb; sleep 2; echo done");
  j["limits"] = {{"processes", 32}, {"wall_ms", 4000}};
  auto rec = stack_->run(j);
  ASSERT_EQ(rec.value("state", ""), "finished") << rec.dump(2);
  EXPECT_NE(rec["result"]["verdict"], "internal_error") << rec.dump(2);
  EXPECT_LE(rec["result"]["wall_ms"].get<int>(), 5000) << rec.dump(2);
  EXPECT_NE(rec["result"]["stderr"].get<std::string>().find("fork"), std::string::npos)
      << "forks past the limit fail: " << rec.dump(2);
  auto after = stack_->run(job("bash", "echo still here"));
  EXPECT_EQ(after["result"]["verdict"], "ok") << after.dump(2);
  EXPECT_EQ(after["result"]["stdout"], "still here\n");
}

TEST_F(Limits, CancelOfARunningJob) {
  auto j = job("bash", "echo started; sleep 30");
  j["limits"] = {{"wall_ms", 40000}};
  auto id = stack_->submit(j);
  ASSERT_TRUE(eventually(
      [&] {
        auto rec = stack_->get(id);
        return rec.value("state", "") == "running";
      },
      120s));
  std::this_thread::sleep_for(200ms);
  auto start = std::chrono::steady_clock::now();
  auto r = http("DELETE", stack_->gateway_port(), "/v1/jobs/" + id);
  EXPECT_EQ(r.status, 202) << r.body;
  auto rec = stack_->wait_finished(id, 5s);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(rec["result"]["verdict"], "cancelled") << rec.dump(2);
  EXPECT_LT(took, 1s) << "cancelled within 1 s";
}

TEST_F(Limits, AllLeasesAreReleasedAfterFiftyJobs) {
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i)
    ids.push_back(stack_->submit(job("bash", "echo " + std::to_string(i))));
  for (int i = 0; i < 50; ++i) {
    auto rec = stack_->wait_finished(ids[i], 180s);
    ASSERT_EQ(rec["result"]["verdict"], "ok") << rec.dump(2);
    EXPECT_EQ(rec["result"]["stdout"], std::to_string(i) + "\n");
  }
  // The result is persisted before the machine is torn down and its address released.
  EXPECT_TRUE(eventually([&] { return stack_->leases_in_use() == 0; }, 5s))
      << stack_->leases_in_use() << " lease(s) still held";
}

}  // namespace
}  // namespace berth::test
