// berth-gateway: the HTTP and NATS API of berth (docs/api.md, docs/operations.md).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <nats/nats.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "gateway/config.hpp"
#include "gateway/context.hpp"
#include "gateway/http_server.hpp"
#include "gateway/job_store.hpp"
#include "gateway/metrics.hpp"
#include "gateway/nats_api.hpp"
#include "images/language.hpp"

namespace {

using namespace berth::gateway;
using namespace std::chrono_literals;

// Two cores here; I/O threads only parse and copy. Blocking NATS calls wait on the network,
// not the CPU, so their pool is larger: it bounds NATS calls in flight, not CPU use.
constexpr int kIoThreads = 2;
constexpr int kBlockingThreads = 16;
// On SIGTERM, requests in flight get this long to finish (streams end within 500 ms).
constexpr auto kShutdownGrace = 10s;

// Polls until no request is being handled or the grace time is over, then stops the loop.
void stop_when_idle(net::io_context& ioc, Context& ctx,
                    std::chrono::steady_clock::time_point deadline) {
  auto t = std::make_shared<net::steady_timer>(ioc, 50ms);
  t->async_wait([&ioc, &ctx, deadline, t](const boost::system::error_code&) {
    if (ctx.active.load() == 0 || std::chrono::steady_clock::now() >= deadline) {
      if (ctx.active.load() > 0)
        spdlog::warn("shutdown: {} request(s) still running; closing them", ctx.active.load());
      ioc.stop();
      return;
    }
    stop_when_idle(ioc, ctx, deadline);
  });
}

// Everything that touches NATS lives in this scope, so it is gone before main waits for
// nats.c to wind down.
int serve(const GatewayConfig& cfg) {
  auto catalog = berth::images::LanguageCatalog::load(cfg.languages_dir);
  if (!catalog) {
    spdlog::critical("languages: {}", catalog.error());
    return 1;
  }
  if (catalog->all().empty()) {
    spdlog::critical("languages: no language files in {}", cfg.languages_dir);
    return 1;
  }
  auto listen = parse_listen(cfg.listen);
  auto store = JobStore::open(cfg.nats_url);
  if (!store) {
    spdlog::critical("nats: {}", store.error());
    return 1;
  }

  net::thread_pool blocking(kBlockingThreads);
  net::io_context ioc(kIoThreads);
  Metrics metrics;
  WorkerDirectory workers(**store);
  Context ctx{cfg, *catalog, **store, workers, metrics, blocking};

  auto server = HttpServer::listen(ioc, ctx, *listen);
  if (!server) {
    spdlog::critical("{}", server.error());
    return 1;
  }
  auto ep = (*server)->local_endpoint();
  spdlog::info("listening on http://{}:{}", ep.address().to_string(), ep.port());
  spdlog::info("nats {}, {} language(s) from {}", cfg.nats_url, catalog->all().size(),
               cfg.languages_dir);
  (*server)->start();
  NatsApi nats_api(ioc, ctx);
  nats_api.start();

  net::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: shutting down", sig);
    ctx.stopping = true;
    nats_api.stop();
    (*server)->stop();
    stop_when_idle(ioc, ctx, std::chrono::steady_clock::now() + kShutdownGrace);
  });

  std::vector<std::thread> threads;
  for (int i = 1; i < kIoThreads; ++i) threads.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  // Blocking calls still running finish against a live connection; their answers go nowhere.
  blocking.join();
  spdlog::info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto cfg = load_gateway_config(argc, argv);
  if (!cfg) {
    std::fprintf(cfg.error().help ? stdout : stderr, "%s\n", cfg.error().message.c_str());
    return cfg.error().help ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ gateway: %v");
  int rc = serve(*cfg);
  // The connection is closed by now, but nats.c may still be running its callbacks (the
  // disconnect log line) on its own threads: wait for them before static destructors run.
  nats_CloseAndWait(2000);
  return rc;
}
