#include "tests/integration/gateway/gateway_fixture.hpp"

#include <stdexcept>

#include "gateway/cli/http_client.hpp"
#include "messages/clock.hpp"
#include "messages/codec.hpp"
#include "messages/subjects.hpp"
#include "tests/support/ports.hpp"

namespace berth::test {

using namespace std::chrono_literals;

GatewayProcess::GatewayProcess(std::string nats_url, std::vector<std::string> extra_flags)
    : nats_url_(std::move(nats_url)),
      extra_(std::move(extra_flags)),
      dir_(scratch_dir("gateway")),
      port_(free_port()) {
  start();
}

void GatewayProcess::start() {
  std::vector<std::string> argv = {std::string(BERTH_BINARY_DIR) + "/gateway/berth-gateway",
                                   "--listen", "127.0.0.1:" + std::to_string(port_), "--nats-url",
                                   nats_url_};
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  proc_ = Process(argv, dir_ / "gateway.log");
  if (!eventually([&] { return port_open(port_); }, 15s))
    throw std::runtime_error("berth-gateway did not listen:\n" + proc_.log_text());
}

NatsProbe::NatsProbe(const std::string& url) {
  auto c = nats::Connection::connect(url, "gateway-test");
  if (!c) throw std::runtime_error(c.error());
  conn_ = std::move(*c);
  if (!eventually([&] { return conn_->connected(); }, 10s))
    throw std::runtime_error("test could not connect to " + url);
  auto js = nats::JetStream::open(*conn_);
  if (!js) throw std::runtime_error(js.error());
  js_ = std::move(*js);
  auto kv = nats::KeyValue::open(*js_, messages::kJobsBucket);
  if (!kv) throw std::runtime_error(kv.error());
  kv_ = std::move(*kv);
}

NatsProbe::~NatsProbe() = default;

uint64_t NatsProbe::stream_messages() {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  std::string name(messages::kJobsStream);
  if (js_GetStreamInfo(&si, js_->get(), name.c_str(), nullptr, &jerr) != NATS_OK) return 0;
  uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

std::optional<std::pair<messages::JobSpec, std::string>> NatsProbe::last_job() {
  natsMsg* m = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  std::string stream(messages::kJobsStream), subject(messages::kJobsSubject);
  if (js_GetLastMsg(&m, js_->get(), stream.c_str(), subject.c_str(), nullptr, &jerr) != NATS_OK)
    return std::nullopt;
  nats::Msg msg{m};
  auto spec = messages::decode<messages::JobSpec>(nats::data(msg), "job spec");
  if (!spec) return std::nullopt;
  const char* id = nullptr;
  natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
  return std::pair{*spec, std::string(id ? id : "")};
}

std::optional<nats::KvEntry> NatsProbe::entry(const std::string& id) {
  auto e = kv_->get(id);
  if (!e || !*e) return std::nullopt;
  return **e;
}

std::optional<messages::JobRecord> NatsProbe::record(const std::string& id) {
  auto e = entry(id);
  if (!e) return std::nullopt;
  auto r = messages::decode<messages::JobRecord>(e->value, "job record");
  if (!r) return std::nullopt;
  return *r;
}

void NatsProbe::change(const std::string& id, const std::function<void(messages::JobRecord&)>& f) {
  for (int i = 0; i < 10; ++i) {
    auto e = entry(id);
    if (!e) throw std::runtime_error("no record " + id);
    auto rec = messages::decode<messages::JobRecord>(e->value, "job record");
    if (!rec) throw std::runtime_error(rec.error());
    f(*rec);
    rec->updated_ms = messages::now_ms();
    if (kv_->update(id, messages::encode(*rec), e->revision)) return;
  }
  throw std::runtime_error("could not update record " + id);
}

void NatsProbe::finish(const std::string& id, messages::Result result) {
  change(id, [&](messages::JobRecord& r) {
    r.state = messages::JobState::finished;
    r.started_ms = r.started_ms ? r.started_ms : messages::now_ms();
    r.finished_ms = messages::now_ms();
    r.attempts = 1;
    r.worker_id = "test-worker";
    r.result = result;
  });
}

void NatsProbe::publish_state(const std::string& id, messages::JobState s) {
  messages::JobEvent e;
  e.job_id = id;
  e.kind = messages::EventKind::state;
  e.state = s;
  (void)conn_->publish(messages::events_subject(id), messages::encode(e));
  (void)conn_->flush(2000);
}

void NatsProbe::publish_output(const std::string& id, messages::Stream stream,
                               const std::string& data, uint64_t seq, bool truncated) {
  messages::JobEvent e;
  e.job_id = id;
  e.kind = messages::EventKind::output;
  e.state = messages::JobState::running;
  e.stream = stream;
  e.step = "run";
  e.data = data;
  e.seq = seq;
  e.truncated = truncated;
  (void)conn_->publish(messages::events_subject(id), messages::encode(e));
  (void)conn_->flush(2000);
}

SseReader::SseReader(uint16_t port, const std::string& method, const std::string& target,
                     const std::string& body) {
  thread_ = std::thread([=, this] {
    auto url = gateway::cli::parse_gateway_url("http://127.0.0.1:" + std::to_string(port));
    gateway::cli::SseParser parser;
    auto r = gateway::cli::http_stream(
        *url, method, target, body,
        [&](std::string_view bytes) {
          auto got = parser.feed(bytes);
          std::lock_guard lock(m_);
          events_.insert(events_.end(), got.begin(), got.end());
          return true;
        },
        std::chrono::milliseconds(20'000));
    if (r)
      status_ = r->status;
    else
      error_ = r.error();
    ended_ = true;
  });
}

SseReader::~SseReader() {
  if (thread_.joinable()) thread_.join();
}

bool SseReader::wait_for(size_t n, std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        std::lock_guard lock(m_);
        return events_.size() >= n;
      },
      timeout);
}

bool SseReader::wait_end(std::chrono::milliseconds timeout) {
  return eventually([&] { return ended_.load(); }, timeout);
}

std::vector<gateway::cli::SseEvent> SseReader::events() {
  std::lock_guard lock(m_);
  return events_;
}

void GatewayTest::start(std::vector<std::string> gateway_flags) {
  probe_.reset();
  gw_.reset();
  nats_ = std::make_unique<NatsServer>();
  gw_ = std::make_unique<GatewayProcess>(nats_->url(), std::move(gateway_flags));
  ASSERT_TRUE(eventually([&] { return get("/healthz").status == 200; }, 15s)) << gw_->log();
  probe_ = std::make_unique<NatsProbe>(nats_->url());
}

void GatewayTest::TearDown() {
  if (HasFailure() && gw_) std::cerr << "--- gateway log ---\n" << gw_->log();
}

std::string GatewayTest::submit(const nlohmann::json& job) {
  auto r = post("/v1/jobs", job);
  if (r.status != 202) throw std::runtime_error("submit: " + std::to_string(r.status) + r.body);
  return parse(r.body).at("id");
}

nlohmann::json parse(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return nlohmann::json{{"unparsable", body}};
  return j;
}

nlohmann::json python_job(const std::string& source) {
  return {{"language", "python"}, {"source", source}};
}

messages::Result ok_result(const std::string& out) {
  messages::Result r;
  r.verdict = messages::Verdict::ok;
  r.exit_code = 0;
  r.stdout_data = out;
  r.wall_ms = 12;
  r.cpu_ms = 8;
  return r;
}

}  // namespace berth::test
