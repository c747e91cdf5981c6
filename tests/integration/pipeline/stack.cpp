#include "tests/integration/pipeline/stack.hpp"

#include <fstream>
#include <random>
#include <stdexcept>

#include "tests/support/ports.hpp"

namespace berth::test {

namespace {
std::string random_hex(int n) {
  static std::mt19937_64 rng{std::random_device{}()};
  std::string s;
  for (int i = 0; i < n; ++i) s += "0123456789abcdef"[rng() % 16];
  return s;
}
}  // namespace

Stack::Stack(int slots)
    : dir_(scratch_dir("stack")),
      slots_(slots),
      gateway_port_(free_port()),
      worker_status_port_(free_port()) {
  static std::mt19937 rng{std::random_device{}()};
  bridge_ = "bt" + random_hex(8);
  cidr_ = "10.213." + std::to_string(rng() % 250 + 2) + ".0/24";
  start_gateway();
  start_worker();
}

Stack::~Stack() {
  worker_.stop(std::chrono::seconds(20));
  gateway_.stop();
  test::run({"ip", "link", "del", bridge_}, std::chrono::seconds(5));
}

void Stack::start_gateway() {
  gateway_ = Process({std::string(BERTH_BINARY_DIR) + "/gateway/berth-gateway", "--listen",
                      "127.0.0.1:" + std::to_string(gateway_port_), "--nats-url", nats_.url()},
                     dir_ / "gateway.log");
  if (!eventually([&] { return http("GET", gateway_port_, "/healthz").status == 200; },
                  std::chrono::seconds(15)))
    throw std::runtime_error("gateway did not become healthy:\n" + gateway_.log_text());
}

void Stack::start_worker() {
  worker_ = Process(
      {std::string(BERTH_BINARY_DIR) + "/actors/berth-worker", "--nats-url", nats_.url(), "--slots",
       std::to_string(slots_), "--state-dir", (dir_ / "worker").string(), "--bridge", bridge_,
       "--cidr", cidr_, "--runtime", "jail", "--ack-wait-ms", "10000", "--log-level", "debug",
       "--status-listen", "127.0.0.1:" + std::to_string(worker_status_port_)},
      dir_ / "worker.log");
  // The worker is ready once its consumer exists; a log line says so.
  if (!eventually([&] { return worker_.log_text().find("pulling from") != std::string::npos; },
                  std::chrono::seconds(30)))
    throw std::runtime_error("worker did not start:\n" + worker_.log_text());
}

nlohmann::json Stack::run(const nlohmann::json& job) {
  auto r = http("POST", gateway_port_, "/v1/jobs?wait=true", job.dump(), std::chrono::seconds(300));
  if (r.status == 0) throw std::runtime_error("gateway: " + r.error);
  return nlohmann::json::parse(r.body);
}

std::string Stack::submit(const nlohmann::json& job) {
  auto r = http("POST", gateway_port_, "/v1/jobs", job.dump());
  if (r.status != 202)
    throw std::runtime_error("submit: " + std::to_string(r.status) + " " + r.body);
  return nlohmann::json::parse(r.body).at("id");
}

nlohmann::json Stack::get(const std::string& id) {
  auto r = http("GET", gateway_port_, "/v1/jobs/" + id);
  if (r.status != 200) return nlohmann::json{{"status", r.status}, {"body", r.body}};
  return nlohmann::json::parse(r.body);
}

nlohmann::json Stack::wait_finished(const std::string& id, std::chrono::milliseconds timeout) {
  nlohmann::json rec;
  eventually(
      [&] {
        rec = get(id);
        return rec.value("state", "") == "finished";
      },
      timeout);
  return rec;
}

size_t Stack::leases_in_use() const {
  std::ifstream in(dir_ / "worker" / "leases");
  size_t n = 0;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) ++n;
  return n;
}

nlohmann::json job(const std::string& language, const std::string& source) {
  return {{"language", language}, {"source", source}};
}

}  // namespace berth::test
