// Submitting over NATS: a request on berth.api.submit with the same JSON as POST /v1/jobs.
#include "messages/subjects.hpp"
#include "tests/integration/gateway/gateway_fixture.hpp"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class NatsApi : public GatewayTest {
 protected:
  json request(const std::string& body) {
    json answer;
    // The gateway's subscription may reach the server just after /healthz turned 200.
    eventually(
        [&] {
          auto reply = probe_->conn().request(messages::kSubmitSubject, body, 5000);
          if (!reply) return false;
          answer = parse(std::string(nats::data(*reply)));
          return true;
        },
        10s);
    return answer;
  }
};

TEST_F(NatsApi, SubmitAnswersTheIdAndQueuesTheJob) {
  auto answer = request(json{{"language", "bash"}, {"source", "echo hi"}}.dump());
  ASSERT_TRUE(answer.contains("id")) << answer.dump();
  EXPECT_EQ(answer["state"], "queued");
  std::string id = answer["id"];
  auto rec = probe_->record(id);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->state, messages::JobState::queued);
  EXPECT_EQ(rec->spec.files.at(0).name, "main.sh");
  EXPECT_EQ(probe_->stream_messages(), 1u);
  EXPECT_EQ(parse(get("/v1/jobs/" + id).body)["state"], "queued");
  EXPECT_NE(get("/metrics").body.find("berth_gateway_jobs_submitted_total 1\n"), std::string::npos);
}

TEST_F(NatsApi, BadRequestsGetTheErrorAndTheStatus) {
  auto answer = request("{not json");
  EXPECT_EQ(answer["status"], 400) << answer.dump();
  EXPECT_TRUE(answer.value("error", "").starts_with("invalid JSON: ")) << answer.dump();
  answer = request(R"({"language": "cobol", "source": ""})");
  EXPECT_EQ(answer["status"], 400);
  EXPECT_EQ(answer["error"],
            "unknown language 'cobol' (available: bash, c, cpp, go, java, javascript, lua, perl, "
            "php, python, ruby, rust)");
  EXPECT_FALSE(answer.contains("id"));
  EXPECT_EQ(probe_->stream_messages(), 0u);
}

}  // namespace
}  // namespace berth::test
