// Following a job: POST ?wait=true, GET /v1/jobs/{id}/events and POST ?stream=true. The test
// plays the worker: it publishes events and finishes the record in KV.
#include "messages/codec.hpp"
#include "messages/subjects.hpp"
#include "tests/integration/gateway/gateway_fixture.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
using messages::JobState;
using messages::Stream;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

class Events : public GatewayTest {
 protected:
  // Subscribes to the work queue's subject the way a worker sees new jobs: core NATS
  // subscribers get every message the stream stores.
  void SetUp() override {
    GatewayTest::SetUp();
    auto s = probe_->conn().subscribe_sync(messages::kJobsSubject);
    ASSERT_TRUE(s) << s.error();
    jobs_ = std::move(*s);
    ASSERT_TRUE(probe_->conn().flush(2000));
  }
  // The id of the next job the gateway enqueues.
  std::string next_job_id() {
    auto m = jobs_.next(10'000);
    if (!m || !*m) return "";
    auto spec = messages::decode<messages::JobSpec>(nats::data(*m), "spec");
    return spec ? spec->id : "";
  }
  nats::Subscription jobs_;
};

TEST_F(Events, WaitAnswersWithTheResultOnceTheJobFinishes) {
  HttpResponse answer;
  std::thread waiter(
      [&] { answer = http("POST", gw_->port(), "/v1/jobs?wait=true", python_job().dump(), 30s); });
  auto id = next_job_id();
  ASSERT_FALSE(id.empty());
  // The waiting request holds no thread: other requests are answered meanwhile.
  auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get("/healthz").status, 200);
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(answer.status, 0) << "answered before the job finished: " << answer.body;

  probe_->publish_state(id, JobState::running);
  probe_->finish(id, ok_result("hello\n"));
  auto finished_at = Clock::now();
  probe_->publish_state(id, JobState::finished);
  waiter.join();
  EXPECT_LT(Clock::now() - finished_at, 2s);
  ASSERT_EQ(answer.status, 200) << answer.error << answer.body;
  auto rec = parse(answer.body);
  EXPECT_EQ(rec["id"], id);
  EXPECT_EQ(rec["state"], "finished");
  EXPECT_EQ(rec["result"]["verdict"], "ok");
  EXPECT_EQ(rec["result"]["exit_code"], 0);
  EXPECT_EQ(rec["result"]["stdout"], "hello\n");
}

TEST_F(Events, WaitNoticesAFinishedRecordWithoutAnEvent) {
  HttpResponse answer;
  std::thread waiter(
      [&] { answer = http("POST", gw_->port(), "/v1/jobs?wait=true", python_job().dump(), 30s); });
  auto id = next_job_id();
  ASSERT_FALSE(id.empty());
  probe_->finish(id, ok_result("polled\n"));  // events are best effort: none this time
  waiter.join();
  ASSERT_EQ(answer.status, 200) << answer.error << answer.body;
  EXPECT_EQ(parse(answer.body)["result"]["stdout"], "polled\n");
}

class ShortWait : public Events {
 protected:
  std::vector<std::string> gateway_flags() override { return {"--wait-timeout-ms", "1000"}; }
};

TEST_F(ShortWait, WaitGivesUpWith202AndTheCurrentRecord) {
  auto t0 = Clock::now();
  auto r = http("POST", gw_->port(), "/v1/jobs?wait=true", python_job().dump(), 30s);
  auto took = Clock::now() - t0;
  ASSERT_EQ(r.status, 202) << r.error << r.body;
  auto rec = parse(r.body);
  EXPECT_EQ(rec["state"], "queued");
  EXPECT_TRUE(rec.contains("limits")) << "the whole record, not just the id: " << r.body;
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 5s);
}

TEST_F(Events, StreamRelaysEventsAndEndsWithTheResult) {
  auto id = submit(python_job());
  SseReader sse(gw_->port(), "GET", "/v1/jobs/" + id + "/events");
  ASSERT_TRUE(sse.wait_for(1)) << sse.error();
  probe_->publish_state(id, JobState::running);
  probe_->publish_output(id, Stream::stdout_stream, "hello\n", 1);
  probe_->publish_output(id, Stream::stderr_stream, "bad \xff byte\n", 2, /*truncated=*/true);
  ASSERT_TRUE(sse.wait_for(4)) << sse.events().size();
  probe_->finish(id, ok_result("hello\n"));
  probe_->publish_state(id, JobState::finished);
  ASSERT_TRUE(sse.wait_end()) << "the stream did not end after the result";
  EXPECT_EQ(sse.status(), 200) << sse.error();

  auto ev = sse.events();
  ASSERT_EQ(ev.size(), 6u);
  EXPECT_EQ(ev[0].event, "state");
  EXPECT_EQ(parse(ev[0].data)["state"], "queued");
  EXPECT_EQ(ev[1].event, "state");
  EXPECT_EQ(parse(ev[1].data)["state"], "running");
  EXPECT_EQ(ev[2].event, "output");
  EXPECT_EQ(parse(ev[2].data),
            (json{{"step", "run"}, {"stream", "stdout"}, {"data", "hello\n"}, {"seq", 1}}));
  EXPECT_EQ(ev[3].event, "output");
  EXPECT_EQ(parse(ev[3].data)["stream"], "stderr");
  EXPECT_EQ(parse(ev[3].data)["data"], "bad \xef\xbf\xbd byte\n") << "invalid UTF-8 replaced";
  EXPECT_EQ(parse(ev[3].data)["truncated"], true) << "the worker's output-limit marker";
  EXPECT_EQ(ev[4].event, "state");
  EXPECT_EQ(parse(ev[4].data)["state"], "finished");
  EXPECT_EQ(ev[5].event, "result");
  auto rec = parse(ev[5].data);
  EXPECT_EQ(rec["id"], id);
  EXPECT_EQ(rec["result"]["verdict"], "ok");
}

TEST_F(Events, StreamOfAFinishedJobIsItsResult) {
  auto id = submit(python_job());
  probe_->finish(id, ok_result("done\n"));
  SseReader sse(gw_->port(), "GET", "/v1/jobs/" + id + "/events");
  ASSERT_TRUE(sse.wait_end());
  auto ev = sse.events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(parse(ev[0].data)["state"], "finished");
  EXPECT_EQ(ev[1].event, "result");
  EXPECT_EQ(parse(ev[1].data)["result"]["stdout"], "done\n");
}

TEST_F(Events, StreamEndsWhenTheRecordFinishesWithoutAnEvent) {
  auto id = submit(python_job());
  SseReader sse(gw_->port(), "GET", "/v1/jobs/" + id + "/events");
  ASSERT_TRUE(sse.wait_for(1));
  probe_->finish(id, ok_result("quiet\n"));
  ASSERT_TRUE(sse.wait_end(5s));
  auto ev = sse.events();
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().event, "result");
}

TEST_F(Events, SubmitWithStreamMissesNothing) {
  SseReader sse(gw_->port(), "POST", "/v1/jobs?stream=true", python_job().dump());
  auto id = next_job_id();
  ASSERT_FALSE(id.empty());
  // Published as soon as the job is on the queue, possibly before the answer started: the
  // gateway subscribed before it published.
  probe_->publish_output(id, Stream::stdout_stream, "early\n", 1);
  ASSERT_TRUE(sse.wait_for(2)) << sse.error();
  probe_->finish(id, ok_result("early\n"));
  probe_->publish_state(id, JobState::finished);
  ASSERT_TRUE(sse.wait_end());
  auto ev = sse.events();
  ASSERT_GE(ev.size(), 3u);
  EXPECT_EQ(ev[0].event, "state");
  EXPECT_EQ(parse(ev[0].data), (json{{"id", id}, {"state", "queued"}}));
  EXPECT_EQ(ev[1].event, "output");
  EXPECT_EQ(parse(ev[1].data)["data"], "early\n");
  EXPECT_EQ(ev.back().event, "result");
}

TEST_F(Events, StreamWithABadBodyIsAPlain400) {
  SseReader sse(gw_->port(), "POST", "/v1/jobs?stream=true", R"({"language": "cobol"})");
  ASSERT_TRUE(sse.wait_end());
  EXPECT_EQ(sse.status(), 400);
  EXPECT_TRUE(sse.events().empty());
}

}  // namespace
}  // namespace berth::test
