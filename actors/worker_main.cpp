// berth-worker: connects to NATS, prepares the host network, starts the actors and runs jobs
// until SIGTERM, then drains.
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "actors/atoms.hpp"
#include "actors/image_builder.hpp"
#include "actors/ip_manager.hpp"
#include "actors/nats_address.hpp"
#include "actors/scheduler.hpp"
#include "actors/status_server.hpp"
#include "actors/worker.hpp"
#include "actors/worker_announcer.hpp"
#include "actors/worker_status.hpp"
#include "messages/nats/buckets.hpp"
#include "messages/subjects.hpp"
#include "vmm/net/bridge.hpp"
#include "vmm/net/host_filter.hpp"

using namespace berth;
using namespace berth::actors;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}

template <class T>
T must(std::expected<T, std::string> v, const char* what) {
  if (!v) {
    spdlog::critical("{}: {}", what, v.error());
    std::exit(1);
  }
  return std::move(*v);
}

// JetStream may take a moment after the server starts (or the server may not be up yet): keep
// trying rather than refusing to start.
template <class F>
auto retry_until_up(const char* what, F f) {
  for (int i = 0;; ++i) {
    auto r = f();
    if (r || g_stop) return r;
    if (i % 20 == 0) spdlog::warn("{}: {} (retrying)", what, r.error());
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

int main(int argc, char** argv) {
  auto cfg = load_worker_config(argc, argv);
  if (!cfg) {
    if (cfg.error().help) {
      std::printf("%s\n", cfg.error().message.c_str());
      return 0;
    }
    std::fprintf(stderr, "berth-worker: %s\n", cfg.error().message.c_str());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ worker: %v");
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);

  Worker w;
  w.cfg = *cfg;
  w.runtime = must(vmm::choose_runtime(cfg->runtime, cfg->kernel), "runtime");
  if (w.cfg.boot_timeout_ms == 0) w.cfg.boot_timeout_ms = default_boot_timeout_ms(w.runtime.name);
  spdlog::info("worker {}: runtime {} ({}), boot timeout {} ms", cfg->worker_id, w.runtime.name,
               w.runtime.reason, w.cfg.boot_timeout_ms);
  if (!std::filesystem::exists(cfg->agent_path)) {
    spdlog::critical("agent binary {} not found (set agent_path)", cfg->agent_path);
    return 1;
  }
  if (w.runtime.name == "kvm" && access(cfg->monitor_path.c_str(), X_OK) != 0) {
    spdlog::critical("monitor binary {} not found (set monitor_path)", cfg->monitor_path);
    return 1;
  }
  // First, so a port already in use stops the worker before it touches the host; it answers
  // "starting" until `w.ready`, and stops before the fields it reads go.
  std::unique_ptr<StatusServer> status;
  if (cfg->status_listen != "off") {
    auto addr = *parse_listen(cfg->status_listen);  // checked by load_worker_config
    status = must(StatusServer::start(addr, worker_status_handler(w)), "status server");
    spdlog::info("worker {}: status on http://{}:{}/healthz and /metrics", cfg->worker_id,
                 addr.host, status->port());
  }
  std::filesystem::create_directories(std::filesystem::path(cfg->state_dir) / "machines");

  auto pool = must(IpPool::open(cfg->cidr, std::filesystem::path(cfg->state_dir) / "leases"),
                   "address pool");
  if (auto n = pool.release_recovered())
    spdlog::info("released {} lease(s) recovered from the last run: their machines ended with it",
                 n);
  w.gateway_ip = pool.gateway();
  w.prefix_len = pool.prefix();
  if (auto b = vmm::net::ensure_bridge(cfg->bridge, w.gateway_ip, w.prefix_len); !b) {
    spdlog::critical("bridge {}: {}", cfg->bridge, b.error());
    return 1;
  }
  // Before any machine exists: no job ever runs unfiltered, and a host that cannot filter runs
  // none at all.
  w.egress_denied = *egress_denied_ranges(*cfg);  // checked by load_worker_config
  for (auto& a : nats_server_addresses(cfg->nats_url)) w.egress_denied.push_back(a);
  w.filter = must(vmm::net::HostFilter::install({cfg->bridge, *vmm::net::Cidr::parse(cfg->cidr),
                                                 cfg->egress == "nat", w.egress_denied}),
                  "packet filter");
  w.catalog = std::make_shared<images::LanguageCatalog>(
      must(images::LanguageCatalog::load(cfg->languages_dir), "languages"));

  w.conn = must(nats::Connection::connect(cfg->nats_url, "berth-worker " + cfg->worker_id), "nats");
  w.js = must(nats::JetStream::open(*w.conn), "jetstream");
  retry_until_up("stream", [&] {
    return w.js->ensure_work_queue(messages::kJobsStream, messages::kJobsSubject);
  });
  w.kv = must(retry_until_up("kv bucket",
                             [&] { return nats::KeyValue::open(*w.js, messages::kJobsBucket); }),
              "kv bucket");
  w.store = std::make_unique<JobStore>(*w.kv);
  w.workers_bucket =
      must(retry_until_up("workers bucket",
                          [&] {
                            return nats::KeyValue::open(*w.js, messages::kWorkersBucket,
                                                        nats::kWorkersBucketOptions);
                          }),
           "workers bucket");
  nats::ConsumerSettings cs;
  cs.ack_wait_ms = cfg->ack_wait_ms;
  auto consumer = std::make_shared<nats::PullConsumer>(
      must(retry_until_up("consumer",
                          [&] {
                            return nats::PullConsumer::bind(*w.js, messages::kJobsStream,
                                                            messages::kJobsSubject,
                                                            messages::kJobsConsumer, cs);
                          }),
           "consumer"));
  if (g_stop) {
    (void)w.filter->remove();
    return 0;
  }

  caf::actor_system_config sys_cfg;
  sys_cfg.set("logger.verbosity", caf::atom("quiet"));
  caf::actor_system sys{sys_cfg};
  auto images_store = std::make_shared<images::ImageStore>(cfg->image_dir, cfg->agent_path);
  w.ip_manager = sys.spawn(ip_manager, std::make_shared<IpPool>(std::move(pool)));
  w.image_builder = sys.spawn(image_builder, images_store, w.catalog);
  w.scheduler = sys.spawn(scheduler, &w, consumer);

  auto cancels = must(w.conn->subscribe(messages::kCancelWildcard,
                                        [&w](nats::Msg m) {
                                          std::string subject = natsMsg_GetSubject(m.get());
                                          auto id = subject.substr(subject.rfind('.') + 1);
                                          if (auto sup = w.supervisors.find(id))
                                            caf::anon_send(*sup, cancel_atom::value);
                                        }),
                      "cancel subscription");

  auto announcer_bucket =
      must(nats::KeyValue::open(*w.js, messages::kWorkersBucket, nats::kWorkersBucketOptions),
           "workers bucket");
  std::vector<std::string> language_names;
  for (auto& [name, _] : w.catalog->all()) language_names.push_back(name);
  std::optional<WorkerAnnouncer> announcer;
  announcer.emplace(std::move(announcer_bucket), [&w, language_names] {
    messages::WorkerInfo info;
    info.worker_id = w.cfg.worker_id;
    info.runtime = w.runtime.name;
    info.egress = w.cfg.egress;
    info.slots = w.cfg.slots;
    info.running = static_cast<uint32_t>(w.supervisors.size());
    info.languages = language_names;
    return info;
  });

  w.ready.store(true, std::memory_order_release);
  spdlog::info("worker {}: {} slot(s), bridge {} {}/{}, egress {}, pulling from {}", cfg->worker_id,
               cfg->slots, cfg->bridge, w.gateway_ip, w.prefix_len, cfg->egress, cfg->nats_url);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("worker {}: stopping", cfg->worker_id);
  caf::anon_send(w.scheduler, shutdown_atom::value);
  sys.await_actors_before_shutdown(true);
  {
    caf::scoped_actor waiter{sys};
    waiter->wait_for(w.scheduler);
  }
  announcer.reset();  // withdraws the announcement while NATS is still there
  status.reset();
  // Every machine is gone: the filter has nothing left to guard.
  if (auto r = w.filter->remove(); !r) spdlog::error("filter: not removed: {}", r.error());
  caf::anon_send_exit(w.ip_manager, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(w.image_builder, caf::exit_reason::user_shutdown);
  // Close NATS while logging still works: nats.c's callbacks log, and would otherwise run
  // after main returned and spdlog's globals were gone.
  cancels = nats::Subscription();
  consumer.reset();
  w.workers_bucket.reset();
  w.store.reset();
  w.kv.reset();
  w.js.reset();
  w.conn.reset();
  nats_CloseAndWait(2000);
  return 0;
}
