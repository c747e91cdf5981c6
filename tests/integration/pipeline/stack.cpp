#include "tests/integration/pipeline/stack.hpp"

#include <cstdlib>
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

Stack::Stack(StackOptions opts)
    : dir_(scratch_dir("stack")), opts_(std::move(opts)), gateway_port_(free_port()) {
  static std::mt19937 rng{std::random_device{}()};
  // Distinct third octets, so two workers of one stack never share a subnet.
  int octet = static_cast<int>(rng() % 200) + 2;
  for (int i = 0; i < opts_.workers; ++i) {
    WorkerProcess w;
    w.name = i == 0 ? "worker" : "worker" + std::to_string(i);
    w.bridge = "bt" + random_hex(8);
    w.cidr = "10.213." + std::to_string(octet + i) + ".0/24";
    w.status_port = free_port();
    workers_.push_back(std::move(w));
  }
  start_gateway();
  for (size_t i = 0; i < workers_.size(); ++i) start_worker(i);
}

Stack::~Stack() {
  for (auto& w : workers_) w.process.stop(std::chrono::seconds(20));
  gateway_.stop();
  for (auto& w : workers_) test::run({"ip", "link", "del", w.bridge}, std::chrono::seconds(5));
}

void Stack::start_gateway() {
  gateway_ = Process({std::string(BERTH_BINARY_DIR) + "/gateway/berth-gateway", "--listen",
                      "127.0.0.1:" + std::to_string(gateway_port_), "--nats-url", nats_.url()},
                     dir_ / "gateway.log");
  if (!eventually([&] { return http("GET", gateway_port_, "/healthz").status == 200; },
                  std::chrono::seconds(15)))
    throw std::runtime_error("gateway did not become healthy:\n" + gateway_.log_text());
}

void Stack::start_worker(size_t i) {
  auto& w = workers_.at(i);
  std::vector<std::string> argv = {std::string(BERTH_BINARY_DIR) + "/actors/berth-worker",
                                   "--worker-id",
                                   w.name + "-" + random_hex(4),
                                   "--nats-url",
                                   nats_.url(),
                                   "--slots",
                                   std::to_string(opts_.slots),
                                   "--state-dir",
                                   (dir_ / w.name).string(),
                                   "--bridge",
                                   w.bridge,
                                   "--cidr",
                                   w.cidr,
                                   "--runtime",
                                   opts_.runtime,
                                   "--ack-wait-ms",
                                   std::to_string(opts_.ack_wait_ms),
                                   "--log-level",
                                   "debug",
                                   "--status-listen",
                                   "127.0.0.1:" + std::to_string(w.status_port)};
  argv.insert(argv.end(), opts_.worker_args.begin(), opts_.worker_args.end());
  w.process = Process(argv, dir_ / (w.name + ".log"));
  // The worker is ready once its consumer exists; a log line says so.
  if (!eventually([&] { return w.process.log_text().find("pulling from") != std::string::npos; },
                  std::chrono::seconds(30)))
    throw std::runtime_error("worker did not start:\n" + w.process.log_text());
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

std::string Stack::gateway_ip(size_t i) const {
  auto& c = workers_.at(i).cidr;  // "10.213.N.0/24"
  return c.substr(0, c.rfind('.')) + ".1";
}

size_t Stack::leases_in_use(size_t i) const {
  std::ifstream in(dir_ / workers_.at(i).name / "leases");
  size_t n = 0;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) ++n;
  return n;
}

StackOptions runtime_options_from_env(StackOptions base) {
  const char* runtime = std::getenv("BERTH_TEST_RUNTIME");
  if (!runtime || std::string(runtime) != "kvm") return base;
  base.runtime = "kvm";
  if (const char* k = std::getenv("BERTH_TEST_KERNEL"))
    base.worker_args.insert(base.worker_args.end(), {"--kernel", k});
  if (const char* d = std::getenv("BERTH_TEST_IMAGE_DIR"))
    base.worker_args.insert(base.worker_args.end(), {"--image-dir", d});
  // A microVM boots in ~10 s in the lab (a level-2 guest of an emulated host).
  base.worker_args.insert(base.worker_args.end(), {"--boot-timeout-ms", "120000"});
  return base;
}

nlohmann::json job(const std::string& language, const std::string& source) {
  return {{"language", language}, {"source", source}};
}

}  // namespace berth::test
