// DELETE /v1/jobs/{id}: cancelling a queued job at once, asking the worker for a running one.
#include "messages/subjects.hpp"
#include "tests/integration/gateway/gateway_fixture.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
using messages::JobState;

TEST_F(GatewayTest, DeleteOfAQueuedJobCancelsItAndASecondDeleteIs409) {
  auto id = submit(python_job());
  auto r = http("DELETE", gw_->port(), "/v1/jobs/" + id);
  ASSERT_EQ(r.status, 202) << r.body;
  auto rec = parse(r.body);
  EXPECT_EQ(rec["id"], id);
  EXPECT_EQ(rec["state"], "finished");
  EXPECT_EQ(rec["result"]["verdict"], "cancelled");
  EXPECT_EQ(rec["result"]["message"], "cancelled before it started");
  EXPECT_GT(rec["finished_ms"].get<int64_t>(), 0);

  auto stored = probe_->record(id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, JobState::finished);
  ASSERT_TRUE(stored->result);
  EXPECT_EQ(stored->result->verdict, messages::Verdict::cancelled);

  r = http("DELETE", gw_->port(), "/v1/jobs/" + id);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(parse(r.body)["error"], "job already finished");
}

TEST_F(GatewayTest, DeleteOfARunningJobAsksItsWorker) {
  auto id = submit(python_job());
  probe_->change(id, [](messages::JobRecord& r) {
    r.state = JobState::running;
    r.worker_id = "test-worker";
  });
  auto cancels = probe_->conn().subscribe_sync(messages::cancel_subject(id));
  ASSERT_TRUE(cancels) << cancels.error();
  ASSERT_TRUE(probe_->conn().flush(2000));

  auto r = http("DELETE", gw_->port(), "/v1/jobs/" + id);
  ASSERT_EQ(r.status, 202) << r.body;
  auto rec = parse(r.body);
  EXPECT_EQ(rec["state"], "running");
  EXPECT_EQ(rec["cancel_requested"], true);
  EXPECT_TRUE(rec["result"].is_null());

  auto msg = cancels->next(2000);
  ASSERT_TRUE(msg) << msg.error();
  EXPECT_TRUE(*msg) << "no message on " << messages::cancel_subject(id);
  auto stored = probe_->record(id);
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->cancel_requested);
  EXPECT_EQ(stored->state, JobState::running) << "the worker finishes it, not the gateway";
}

}  // namespace
}  // namespace berth::test
